import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { generateCurveKeyPair, keyFingerprint, writeFileAtomic } from '@phoenix/protocol';
import { emit, type OutputFormat } from '../output.js';
import { PhoenixError, isPhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from '../errors.js';

export interface InitClusterOptions {
  pkiDir?: string;
  force?: boolean;
  out?: OutputFormat;
}

/** Where a master looks by convention (its `pkiDir`), as Salt keeps /etc/salt/pki. */
export const DEFAULT_PKI_DIR = '/etc/phoenix/pki';

/**
 * `phoenix keys init-cluster`: makes the cluster CURVE key pair of a real deployment. Every
 * master reads both files from its pkiDir; every minion pins the public key. Replacing the pair
 * cuts off every minion that pinned the old key, so existing files are kept unless --force.
 */
export async function initCluster(options: InitClusterOptions): Promise<number> {
  const values = { force: options.force === true };
  const out = options.out ?? 'text';
  const dir = resolve(options.pkiDir ?? DEFAULT_PKI_DIR);
  const publicKeyFile = join(dir, 'cluster.pub');
  const secretKeyFile = join(dir, 'cluster.key');
  const existing = [publicKeyFile, secretKeyFile].filter((path) => existsSync(path));
  if (existing.length > 0 && !values.force) {
    throw new PhoenixError(
      CliErrors.PHX_CLI_CLUSTER_KEYS_EXIST,
      `${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; a new cluster key pair cuts off every minion that pinned the old public key (pass --force to replace it anyway)`,
    );
  }
  const pair = generateCurveKeyPair();
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeKeyFile(secretKeyFile, pair.secretKey, 0o600, values.force === true);
    await writeKeyFile(publicKeyFile, pair.publicKey, 0o644, values.force === true).catch(async (err: unknown) => {
      // Half a pair is worse than none: take back the secret key this run created.
      if (values.force !== true) await rm(secretKeyFile, { force: true });
      throw err;
    });
  } catch (err) {
    if (isPhoenixError(err)) throw err;
    throw new PhoenixError(
      CliErrors.PHX_CLI_CLUSTER_KEYS_WRITE_FAILED,
      `cannot write the cluster key pair to ${dir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const fingerprint = keyFingerprint(pair.publicKey);
  await emit(out, { pkiDir: dir, publicKeyFile, secretKeyFile, publicKey: pair.publicKey, fingerprint }, () =>
    [
      `Wrote the cluster key pair to ${dir}:`,
      `  cluster.pub  mode 0644  the public key: every minion's clusterPublicKey`,
      `  cluster.key  mode 0600  the secret key: copy it only into each master's pkiDir`,
      `Public key:   ${pair.publicKey}`,
      `Fingerprint:  ${fingerprint}`,
    ].join('\n'),
  );
  return 0;
}

/**
 * Atomic, with exactly `mode` (whatever the umask): a reader never sees half a key, and without
 * `replace` an existing file is never overwritten, even one that appeared after the check above.
 */
async function writeKeyFile(path: string, key: string, mode: number, replace: boolean): Promise<void> {
  await writeFileAtomic(path, `${key}\n`, { mode, exclusive: !replace }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new PhoenixError(CliErrors.PHX_CLI_CLUSTER_KEYS_EXIST, `${path} already exists; pass --force to replace it`);
  });
}
