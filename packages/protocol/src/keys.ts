import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  timingSafeEqual,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { z85Decode, z85Encode } from './z85.js';

/** A CURVE public or secret key as ZeroMQ writes it: 40 characters of Z85 (32 bytes). */
export const CurveKeySchema = z
  .string()
  .length(40)
  .refine((key) => z85Decode(key) !== undefined, 'not a Z85-encoded 32-byte key');

export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** A new CURVE key pair (X25519, as ZeroMQ's own curveKeyPair makes), without needing ZeroMQ loaded. */
export function generateCurveKeyPair(): CurveKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const raw = (der: Buffer): Buffer => der.subarray(der.length - 32);
  return {
    publicKey: z85Encode(raw(publicKey.export({ format: 'der', type: 'spki' }))),
    secretKey: z85Encode(raw(privateKey.export({ format: 'der', type: 'pkcs8' }))),
  };
}

/** The fingerprint operators compare (like salt-key -F): SHA-256 of the raw public key, hex pairs. */
export function keyFingerprint(publicKey: string): string {
  const raw = z85Decode(publicKey) ?? Buffer.from(publicKey);
  return (createHash('sha256').update(raw).digest('hex').match(/../g) ?? []).join(':');
}

// DER headers of X25519 keys (RFC 8410): the raw 32 bytes follow them.
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

function toKeyObject(z85: string, kind: 'public' | 'secret'): KeyObject {
  const raw = z85Decode(z85);
  if (raw?.length !== 32) throw new RangeError(`not a CURVE ${kind} key`);
  return kind === 'public'
    ? createPublicKey({ key: Buffer.concat([SPKI_X25519, raw]), format: 'der', type: 'spki' })
    : createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
}

/**
 * The key a minion signs its messages with. CURVE keys are X25519 keys, so the minion (its secret
 * key, the cluster's public key) and any master (the cluster's secret key, the minion's accepted
 * public key) derive the same secret; nobody without the minion's secret key can. A master can
 * therefore check that a message claiming minion id X was sent by the holder of X's accepted key.
 */
export function messageKey(ownSecretKey: string, peerPublicKey: string): Buffer {
  return deriveMessageKey(toKeyObject(ownSecretKey, 'secret'), peerPublicKey);
}

/**
 * `messageKey` for one secret key and many peers (a master and its minions): the secret key is
 * parsed once, and each peer's derived key is kept, so a minion that enrols again and again costs
 * a map lookup, not a key agreement.
 */
export class MessageKeys {
  readonly #own: KeyObject;
  readonly #derived = new Map<string, Buffer>();
  readonly #limit: number;

  constructor(ownSecretKey: string, limit = 100_000) {
    this.#own = toKeyObject(ownSecretKey, 'secret');
    this.#limit = limit;
  }

  /** Throws RangeError when `peerPublicKey` is not a CURVE key. */
  derive(peerPublicKey: string): Buffer {
    let key = this.#derived.get(peerPublicKey);
    if (key === undefined) {
      key = deriveMessageKey(this.#own, peerPublicKey);
      // Bounded: keys presented by strangers must not grow it without end.
      if (this.#derived.size >= this.#limit) this.#derived.clear();
      this.#derived.set(peerPublicKey, key);
    }
    return key;
  }
}

function deriveMessageKey(own: KeyObject, peerPublicKey: string): Buffer {
  const shared = diffieHellman({ privateKey: own, publicKey: toKeyObject(peerPublicKey, 'public') });
  return Buffer.from(hkdfSync('sha256', shared, Buffer.alloc(0), 'phoenix minion message key v1', 32));
}

/**
 * The key of one minion connection: the minion's message key bound to the nonce its master issued
 * for that connection (the `challenge`). Everything the minion sends on the connection is sealed
 * with it, so a captured message verifies nowhere else.
 */
export function sessionKey(minionMessageKey: Buffer, nonce: Uint8Array): Buffer {
  return createHmac('sha256', minionMessageKey).update(SESSION_LABEL).update(nonce).digest();
}
const SESSION_LABEL = 'phoenix minion session v1';

/** A seal: the message's sequence number on its connection (8 bytes, big-endian), then the HMAC. */
export const SEAL_BYTES = 8 + 32;

/**
 * Seals a message body as number `seq` of its connection: HMAC-SHA256 over the sequence number and
 * the body. The receiver takes each number once and in increasing order, so a message captured on a
 * connection cannot be played again later on that connection either.
 */
export function sealMessage(key: Buffer, seq: number, body: Uint8Array): Buffer {
  const seal = Buffer.allocUnsafe(SEAL_BYTES);
  seal.writeUInt32BE(Math.floor(seq / 2 ** 32), 0);
  seal.writeUInt32BE(seq >>> 0, 4);
  createHmac('sha256', key).update(seal.subarray(0, 8)).update(body).digest().copy(seal, 8);
  return seal;
}

/** The sequence number of a seal that verifies for `body` under `key`, else undefined. */
export function openSeal(key: Buffer, body: Uint8Array, seal: Uint8Array): number | undefined {
  if (seal.byteLength !== SEAL_BYTES) return undefined;
  const bytes = Buffer.from(seal.buffer, seal.byteOffset, seal.byteLength);
  const expected = createHmac('sha256', key).update(bytes.subarray(0, 8)).update(body).digest();
  if (!timingSafeEqual(expected, bytes.subarray(8))) return undefined;
  return bytes.readUInt32BE(0) * 2 ** 32 + bytes.readUInt32BE(4);
}

export function signMessage(key: Buffer, body: Uint8Array): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

export function verifyMessage(key: Buffer, body: Uint8Array, mac: Uint8Array): boolean {
  const expected = signMessage(key, body);
  return mac.length === expected.length && timingSafeEqual(expected, mac);
}
