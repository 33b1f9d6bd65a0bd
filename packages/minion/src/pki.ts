import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CurveKeySchema,
  generateCurveKeyPair,
  type CurveKeyPair,
  PhoenixError,
  writeFileAtomic,
} from '@phoenix/protocol';
import { MinionErrors } from './errors.js';

/**
 * The minion's CURVE key pair: read from the pki directory, or made on first start. The secret key
 * file is written 0600, both atomically (a crash never leaves half a key).
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
  // Not flushed to disk: a swarm makes thousands at start-up, and a pair lost to a power cut is
  // made again at the next start (the new key then waits for an operator, as any new key).
  await writeFileAtomic(secretPath, `${pair.secretKey}\n`, { mode: 0o600, durable: false });
  await writeFileAtomic(publicPath, `${pair.publicKey}\n`, { mode: 0o644, durable: false });
  return pair;
}
