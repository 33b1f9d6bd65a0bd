import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { awsClientConfig, type AwsSettings } from '@phoenix/protocol';
import { MasterError, MasterErrorCodes } from '../errors.js';
import type { SecretSource } from './git-root.js';

/** A secret larger than this is not a token or a key. */
const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Reads the secrets git remotes need, from a file, AWS Secrets Manager or SSM Parameter Store, with
 * the real SDK clients (made on first use: a master with no such secret never builds one). The
 * values are read afresh for every fetch, so a rotated token is used at once; a failure names the
 * source (a path, an ARN, a parameter name), never a value.
 */
export class SecretReader {
  readonly #aws: AwsSettings;
  #secretsManager: SecretsManagerClient | undefined;
  #ssm: SSMClient | undefined;

  constructor(aws: AwsSettings) {
    this.#aws = aws;
  }

  async read(source: SecretSource, what: string): Promise<string> {
    try {
      const value = await this.#read(source);
      if (value.trim() === '') throw new Error('it is empty');
      if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new Error(`it is over ${MAX_SECRET_BYTES} bytes`);
      return value;
    } catch (err) {
      throw new MasterError(
        MasterErrorCodes.GIT_SECRET_UNREADABLE,
        `cannot read ${what} from ${describe(source)}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  close(): void {
    this.#secretsManager?.destroy();
    this.#ssm?.destroy();
  }

  async #read(source: SecretSource): Promise<string> {
    if ('file' in source) return readFile(source.file, 'utf8');
    if ('ssm' in source) {
      this.#ssm ??= new SSMClient(awsClientConfig(this.#aws, 'ssm'));
      const answer = await this.#ssm.send(new GetParameterCommand({ Name: source.ssm, WithDecryption: true }));
      const value = answer.Parameter?.Value;
      if (value === undefined) throw new Error('the parameter has no value');
      return value;
    }
    this.#secretsManager ??= new SecretsManagerClient(awsClientConfig(this.#aws, 'secretsmanager'));
    const answer = await this.#secretsManager.send(new GetSecretValueCommand({ SecretId: source.secretsManager }));
    const text = answer.SecretString ?? (answer.SecretBinary ? Buffer.from(answer.SecretBinary).toString('utf8') : '');
    if (source.key === undefined) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`the secret is not JSON, so it has no key "${source.key}"`);
    }
    const value = (parsed as Record<string, unknown> | null)?.[source.key];
    if (typeof value !== 'string') throw new Error(`the secret's JSON has no string "${source.key}"`);
    return value;
  }
}

export function describe(source: SecretSource): string {
  if ('file' in source) return `the file ${source.file}`;
  if ('ssm' in source) return `the SSM parameter ${source.ssm}`;
  return `the secret ${source.secretsManager}${source.key === undefined ? '' : ` (key ${source.key})`}`;
}
