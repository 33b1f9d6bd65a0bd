import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CurveKeySchema, generateCurveKeyPair, type CurveKeyPair, PhoenixError } from '@phoenix/protocol';
import { MinionErrors } from './errors.js';

/**
 * The minion's CURVE key pair: read from the pki directory, or made on first start. The secret key
 * file is written 0600 (through a temp file and rename, so a crash never leaves half a key).
 */
export async function loadOrCreateKeyPair(pkiDir: string): Promise<CurveKeyPair> {
  const publicPath = join(pkiDir, 'minion.pub');
  const secretPath = join(pkiDir, 'minion.key');
  try {
    const publicKey = (await readFile(publicPath, 'utf8')).trim();
    const secretKey = (await readFile(secretPath, 'utf8')).trim();
    if (CurveKeySchema.safeParse(publicKey).success && CurveKeySchema.safeParse(secretKey).success) {
      await chmod(secretPath, 0o600);
      return { publicKey, secretKey };
    }
    throw new PhoenixError(
      MinionErrors.PHX_MINION_PKI_INVALID,
      `${pkiDir} holds an unreadable key pair; move it away to create a new one`,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(pkiDir, { recursive: true, mode: 0o700 });
  const pair = generateCurveKeyPair();
  await writeFile(`${secretPath}.tmp`, `${pair.secretKey}\n`, { mode: 0o600 });
  await rename(`${secretPath}.tmp`, secretPath);
  await writeFile(publicPath, `${pair.publicKey}\n`, { mode: 0o644 });
  return pair;
}
