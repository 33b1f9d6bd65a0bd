import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CurveKeySchema, type CurveKeyPair, PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from './errors.js';

/** Reads the cluster CURVE key pair every master shares (`cluster.pub`, `cluster.key`). */
export async function readClusterKeys(pkiDir: string): Promise<CurveKeyPair> {
  const read = async (name: string): Promise<string> => {
    const path = join(pkiDir, name);
    let text: string;
    try {
      text = (await readFile(path, 'utf8')).trim();
    } catch (err) {
      throw new PhoenixError(
        MasterErrors.PHX_MASTER_START_FAILED,
        `cannot read ${path} (${(err as Error).message}); create the cluster key pair with phoenix keys init-cluster`,
      );
    }
    if (!CurveKeySchema.safeParse(text).success) {
      throw new PhoenixError(MasterErrors.PHX_MASTER_START_FAILED, `${path} does not hold a Z85 CURVE key`);
    }
    return text;
  };
  return { publicKey: await read('cluster.pub'), secretKey: await read('cluster.key') };
}
