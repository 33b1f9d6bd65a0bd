import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { awsClientConfig, PhoenixError, type AwsSettings } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';
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
    const unreadable = (why: string): PhoenixError =>
      new PhoenixError(MasterErrors.PHX_GIT_SECRET_UNREADABLE, `cannot read ${what} from ${describe(source)}: ${why}`);
    let value: string | { problem: string };
    try {
      value = await this.#read(source);
    } catch (err) {
      throw unreadable(err instanceof Error ? err.message : String(err));
    }
    if (typeof value !== 'string') throw unreadable(value.problem);
    if (value.trim() === '') throw unreadable('it is empty');
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw unreadable(`it is over ${MAX_SECRET_BYTES} bytes`);
    return value;
  }

  close(): void {
    this.#secretsManager?.destroy();
    this.#ssm?.destroy();
  }

  /** The secret's text, or why the answer holds none; a failed request throws. */
  async #read(source: SecretSource): Promise<string | { problem: string }> {
    if ('file' in source) return readFile(source.file, 'utf8');
    if ('ssm' in source) {
      this.#ssm ??= new SSMClient(awsClientConfig(this.#aws, 'ssm'));
      const answer = await this.#ssm.send(new GetParameterCommand({ Name: source.ssm, WithDecryption: true }));
      return answer.Parameter?.Value ?? { problem: 'the parameter has no value' };
    }
    this.#secretsManager ??= new SecretsManagerClient(awsClientConfig(this.#aws, 'secretsmanager'));
    const answer = await this.#secretsManager.send(new GetSecretValueCommand({ SecretId: source.secretsManager }));
    const text = answer.SecretString ?? (answer.SecretBinary ? Buffer.from(answer.SecretBinary).toString('utf8') : '');
    if (source.key === undefined) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { problem: `the secret is not JSON, so it has no key "${source.key}"` };
    }
    const value = (parsed as Record<string, unknown> | null)?.[source.key];
    return typeof value === 'string' ? value : { problem: `the secret's JSON has no string "${source.key}"` };
  }
}

export function describe(source: SecretSource): string {
  if ('file' in source) return `the file ${source.file}`;
  if ('ssm' in source) return `the SSM parameter ${source.ssm}`;
  return `the secret ${source.secretsManager}${source.key === undefined ? '' : ` (key ${source.key})`}`;
}
