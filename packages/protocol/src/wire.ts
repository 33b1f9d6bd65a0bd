import { Decoder, Encoder } from '@msgpack/msgpack';
import { z } from 'zod';
import { checkValue, scanMsgpack, WIRE_LIMITS, type BoundsReason, type DataLimits } from './bounds.js';

/**
 * Wire messages between minions and masters. Every message is one msgpack map with a version `v`
 * and a type `t`; minion messages travel as two frames [body, mac] (see keys.ts), master messages
 * as one. A peer drops what it cannot decode or validate with one log line and keeps the
 * connection: a bad message never costs more than itself. Every body is checked against
 * WIRE_LIMITS (depth, map and array sizes, string length) by a pass over its bytes before it is
 * decoded, so no later step ever meets a value nested deeper than a stack can hold.
 */
export const WIRE_VERSION = 1;
/** Bodies above this are dropped unread; ZeroMQ's own limit on the socket is a little higher. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const MinionId = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'letters, digits, ".", "_", "@" and "-"');
const Jid = z.string().regex(/^\d{20}$/, 'a 20-digit jid');
/** Grains are stored as a DynamoDB document (at most 32 levels) and matched by targets: kept shallow. */
export const GRAINS_LIMITS: DataLimits = Object.freeze({ ...WIRE_LIMITS, maxDepth: 16, maxValues: 100_000 });
const Grains = z.record(z.string(), z.unknown()).superRefine((grains, ctx) => {
  const violation = checkValue(grains, GRAINS_LIMITS);
  if (violation !== undefined) ctx.addIssue({ code: 'custom', message: violation.message });
});
/** A master's enrolment challenge: random bytes, base64. */
const Challenge = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'a 32-byte challenge in base64');
/**
 * An EC2 identity document and, with it, the challenge the master just set: the message's mac
 * (keyed by the minion's CURVE secret) then binds the document to this key, on this connection, now.
 */
const IdentityProof = z.strictObject({
  document: z.string().max(16_384),
  signature: z.string().max(4_096),
  challenge: Challenge.optional(),
});

const RequestId = z
  .int()
  .min(0)
  .max(2 ** 31);
const SaltEnv = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an environment name');
/**
 * The revision of a master's git roots one file-server answer came from; a state run sends its
 * first answer's with every later request, so the whole run sees one commit of each root.
 */
const Revision = z.string().min(1).max(8192);
/** Bytes of the nonce a master issues for each minion connection. */
export const NONCE_BYTES = 16;
/** A file-server read returns at most this much per reply, so any file fits in messages. */
export const FILE_CHUNK_BYTES = 1024 * 1024;

/** Jids a minion names in its hello as seen: the newest, so a master does not send those again. */
export const HELLO_SEEN_MAX = 256;

/** Each minion waits a random time up to this before it runs the job (a scheduled highstate's splay). */
const SplayMs = z.int().min(0).max(86_400_000);

export const MinionIdSchema = MinionId;
export const JidSchema = Jid;

/** What a minion sends. `id` is the minion id it claims; the master checks it against the signing key. */
export const MinionMessageSchema = z.discriminatedUnion('t', [
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('enrol'),
    id: MinionId,
    publicKey: z.string().length(40),
    grains: Grains.optional(),
    identity: IdentityProof.optional(),
  }),
  /**
   * The first message on a minion-port connection, unsigned: the master answers with a `challenge`
   * whose nonce the minion binds its session to (see keys.ts, sessionKey), so a hello, or anything
   * signed after it, is worthless on any other connection.
   */
  z.strictObject({ v: z.literal(WIRE_VERSION), t: z.literal('knock'), id: MinionId }),
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('hello'),
    id: MinionId,
    grains: Grains,
    running: z.array(Jid),
    /**
     * Jobs this minion has already been sent (newest first): the master sends it every job still
     * within its timeout that targeted it and that it has neither seen nor returned.
     */
    seen: z.array(Jid).max(HELLO_SEEN_MAX).optional(),
    /**
     * The minion's own time of this hello (ms), higher with every hello it makes: the masters order
     * its connect events by it, which can cross on their way between masters.
     */
    at: z.number().int().nonnegative().optional(),
  }),
  z.strictObject({ v: z.literal(WIRE_VERSION), t: z.literal('heartbeat'), id: MinionId, at: z.number() }),
  /** The minion is leaving this master on purpose (moving, or stopping): its session ends at once. */
  z.strictObject({ v: z.literal(WIRE_VERSION), t: z.literal('bye'), id: MinionId }),
  z.strictObject({ v: z.literal(WIRE_VERSION), t: z.literal('grains'), id: MinionId, grains: Grains }),
  /** An event of the minion's own (Salt's event.send): its tag and data, for the masters' reactor rules. */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('event'),
    id: MinionId,
    tag: z.string().min(1).max(255),
    data: z.record(z.string(), z.unknown()),
  }),
  /**
   * A request to the master's file server (`op` on `path` of file_roots in `env`); answered by a
   * `reply` with the same `req`. `read` returns at most FILE_CHUNK_BYTES from `offset`.
   */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('file'),
    id: MinionId,
    req: RequestId,
    op: z.enum(['read', 'hash', 'list']),
    path: z.string().max(4096),
    env: SaltEnv,
    offset: z.int().min(0).optional(),
    rev: Revision.optional(),
  }),
  /** Asks the master to render this minion's pillar (never sent raw: pillar_roots hold every minion's secrets). */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('pillar'),
    id: MinionId,
    req: RequestId,
    env: SaltEnv,
    rev: Revision.optional(),
  }),
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('return'),
    id: MinionId,
    jid: Jid,
    fun: z.string().max(255),
    success: z.boolean(),
    retcode: z.int(),
    ret: z.unknown(),
    startedAt: z.number(),
    finishedAt: z.number(),
  }),
]);
export type MinionMessage = z.output<typeof MinionMessageSchema>;

export const KeyStateSchema = z.enum(['pending', 'accepted', 'rejected', 'denied']);
export type KeyState = z.output<typeof KeyStateSchema>;

/** A master as minions reach it: where to enrol and where to connect once accepted. */
export const MasterEndpointSchema = z.strictObject({
  id: z.string().min(1).max(128),
  host: z.string().min(1).max(255),
  port: z.int().min(1).max(65535),
  enrolPort: z.int().min(1).max(65535),
  /** A draining master is still listed (it may finish what it holds) but goes last in every order. */
  draining: z.boolean().optional(),
});
export type MasterEndpoint = z.output<typeof MasterEndpointSchema>;

/** What a master sends to one minion. */
export const MasterMessageSchema = z.discriminatedUnion('t', [
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('enrolment'),
    state: KeyStateSchema,
    reason: z.string().optional(),
    /** Set while the key is not accepted: a minion with an identity document answers with it. */
    challenge: Challenge.optional(),
  }),
  /** The answer to a `knock`: this connection's nonce. */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('challenge'),
    nonce: z.custom<Uint8Array>((value) => value instanceof Uint8Array && value.byteLength === NONCE_BYTES, 'a nonce'),
  }),
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('welcome'),
    masterId: z.string(),
    heartbeatMs: z.int().positive(),
  }),
  z.strictObject({ v: z.literal(WIRE_VERSION), t: z.literal('heartbeat'), at: z.number() }),
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('job'),
    jid: Jid,
    fun: z.string().max(255),
    args: z.array(z.unknown()),
    kwargs: z.record(z.string(), z.unknown()),
    timeoutMs: z.int().positive().optional(),
    splayMs: SplayMs.optional(),
  }),
  z.strictObject({ v: z.literal(WIRE_VERSION), t: z.literal('ack'), jid: Jid }),
  /** The answer to a minion's `file` or `pillar` request: `error`, or what the request asked for. */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('reply'),
    req: RequestId,
    error: z.strictObject({ code: z.string().max(64), message: z.string().max(16_384) }).optional(),
    /** sha256 (hex) of the whole file; absent with no error: the file does not exist. */
    hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    size: z.int().min(0).optional(),
    content: z.custom<Uint8Array>((value) => value instanceof Uint8Array, 'bytes').optional(),
    paths: z.array(z.string().max(4096)).max(100_000).optional(),
    pillar: z.record(z.string(), z.unknown()).optional(),
    /** The revision answered from, when the master serves git roots. */
    rev: Revision.optional(),
  }),
  z.strictObject({ v: z.literal(WIRE_VERSION), t: z.literal('revoked'), reason: z.string() }),
  /**
   * The live masters, pushed whenever they change (and in every welcome), so a minion's failover
   * list follows the cluster without polling the masters table. `draining` asks the minion to leave.
   */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('masters'),
    masters: z.array(MasterEndpointSchema).max(1000),
    draining: z.boolean().optional(),
  }),
]);
export type MasterMessage = z.output<typeof MasterMessageSchema>;

// One of each, reused: a codec per message was a measurable share of a master's time under load.
// Both are stateless between calls (and re-entrant), so sharing them shares nothing of a minion's.
// The encoder counts every value's level from 1 (leaves too), the limits count containers: this way
// it refuses what the other side would refuse for its depth (an empty container one level deeper
// is the one case it lets through, and the scan still refuses it).
const encoder = new Encoder({ ignoreUndefined: true, maxDepth: WIRE_LIMITS.maxDepth + 1 });
const decoder = new Decoder({ maxStrLength: MAX_MESSAGE_BYTES, maxBinLength: MAX_MESSAGE_BYTES });

/** Why a body was refused, as a fixed vocabulary (metrics count by it); `reason` says it in words. */
export type DecodeFailureCode = BoundsReason | 'oversized' | 'not-msgpack' | 'version' | 'invalid';
export type DecodeResult<T> = { ok: true; message: T } | { ok: false; code: DecodeFailureCode; reason: string };

/** Throws (RangeError from the encoder) for a value nested deeper than it goes: callers bound what they send. */
export function encodeMessage(message: MinionMessage | MasterMessage | PeerMessage): Uint8Array {
  return encoder.encode(message);
}

function decodeWith<T>(schema: z.ZodType<T>, body: Uint8Array, fastPath?: (raw: unknown) => raw is T): DecodeResult<T> {
  if (body.byteLength > MAX_MESSAGE_BYTES)
    return { ok: false, code: 'oversized', reason: `oversized (${body.byteLength} bytes)` };
  // Before any decoding: the decoder builds what the bytes describe, and what comes after it recurses.
  const violation = scanMsgpack(body, WIRE_LIMITS);
  if (violation !== undefined) {
    return violation.reason === 'malformed'
      ? { ok: false, code: 'not-msgpack', reason: `not msgpack (${violation.message})` }
      : { ok: false, code: violation.reason, reason: `over a limit: ${violation.message}` };
  }
  let raw: unknown;
  try {
    raw = decoder.decode(body);
  } catch (err) {
    return { ok: false, code: 'not-msgpack', reason: `not msgpack (${(err as Error).message})` };
  }
  if (fastPath?.(raw) === true) return { ok: true, message: raw };
  if (typeof raw === 'object' && raw !== null && 'v' in raw && raw.v !== WIRE_VERSION) {
    return { ok: false, code: 'version', reason: `unsupported wire version ${String(raw.v)}` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ok: false,
      code: 'invalid',
      reason: `invalid message: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'unknown'}`,
    };
  }
  return { ok: true, message: parsed.data };
}

export const decodeMinionMessage = (body: Uint8Array): DecodeResult<MinionMessage> =>
  decodeWith(MinionMessageSchema, body, isHotMinionMessage);
export const decodeMasterMessage = (body: Uint8Array): DecodeResult<MasterMessage> =>
  decodeWith(MasterMessageSchema, body, isHotMasterMessage);

// Hand checks of the hot messages (a master takes a return from every minion of a job, a swarm an
// ack for each): each accepts only what the general schema accepts, and anything it does not
// accept goes on to the schema, which decides and says why. packages/protocol/test/wire-hot-messages.test.ts holds them
// to the schema.
const MINION_ID = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;
const JID = /^\d{20}$/;
const isMinionId = (value: unknown): boolean =>
  typeof value === 'string' && value.length <= 255 && MINION_ID.test(value);
const isJid = (value: unknown): boolean => typeof value === 'string' && value.length === 20 && JID.test(value);
const isFiniteNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value);

/** Whether `message` has exactly these keys (the schemas are strict: no others). */
function hasExactly(message: Record<string, unknown>, count: number): boolean {
  let keys = 0;
  for (const key in message) if (Object.hasOwn(message, key)) keys++;
  return keys === count && Object.getPrototypeOf(message) === Object.prototype;
}

function isHotMinionMessage(raw: unknown): raw is MinionMessage {
  if (typeof raw !== 'object' || raw === null) return false;
  const m = raw as Record<string, unknown>;
  if (m.v !== WIRE_VERSION || !isMinionId(m.id)) return false;
  if (m.t === 'return') {
    return (
      'ret' in m &&
      hasExactly(m, 10) &&
      isJid(m.jid) &&
      typeof m.fun === 'string' &&
      m.fun.length <= 255 &&
      typeof m.success === 'boolean' &&
      Number.isSafeInteger(m.retcode) &&
      isFiniteNumber(m.startedAt) &&
      isFiniteNumber(m.finishedAt)
    );
  }
  if (m.t === 'heartbeat') return hasExactly(m, 4) && isFiniteNumber(m.at);
  return false;
}

function isHotMasterMessage(raw: unknown): raw is MasterMessage {
  if (typeof raw !== 'object' || raw === null) return false;
  const m = raw as Record<string, unknown>;
  if (m.v !== WIRE_VERSION) return false;
  if (m.t === 'heartbeat') return hasExactly(m, 3) && isFiniteNumber(m.at);
  if (m.t === 'ack') return hasExactly(m, 3) && isJid(m.jid);
  return false;
}

/**
 * Between masters, over their CURVE peer connections (both ends hold the cluster key). Jobs go to
 * every peer so each reaches the minions connected there; returns go back to the job's origin;
 * key and grain changes keep every master's caches in step with the table.
 */
export const PeerMessageSchema = z.discriminatedUnion('t', [
  z.strictObject({ v: z.literal(WIRE_VERSION), t: z.literal('peer-hello'), masterId: z.string().min(1).max(128) }),
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('peer-job'),
    from: z.string().min(1).max(128),
    jid: Jid,
    fun: z.string().max(255),
    args: z.array(z.unknown()),
    kwargs: z.record(z.string(), z.unknown()),
    expected: z.array(MinionId).max(100_000),
    /** Expected minions connected to no master when it was sent: never sent it later either. */
    notConnected: z.array(MinionId).max(100_000).optional(),
    timeoutMs: z.int().positive().optional(),
    splayMs: SplayMs.optional(),
  }),
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('peer-return'),
    from: z.string().min(1).max(128),
    jid: Jid,
    minionId: MinionId,
    success: z.boolean(),
    retcode: z.int(),
    ret: z.unknown(),
    receivedAt: z.number(),
  }),
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('peer-key'),
    from: z.string().min(1).max(128),
    minionId: MinionId,
    to: z.enum(['pending', 'accepted', 'rejected', 'denied', 'deleted', 'quarantined']),
  }),
  /** An event one master emitted, so every master's event stream shows the whole cluster. */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('peer-event'),
    from: z.string().min(1).max(128),
    /** The event's id, the same on every master (reactions claim an event by it). */
    id: z.string().min(1).max(128).optional(),
    tag: z.string().min(1).max(128),
    at: z.number(),
    data: z.record(z.string(), z.unknown()),
  }),
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('peer-grains'),
    from: z.string().min(1).max(128),
    minionId: MinionId,
    grains: Grains,
  }),
  /**
   * The minions connected to `from` now, sent on every link a master makes to a peer: a master
   * that was out of the mesh for a while (frozen, cut off) missed the connect events meanwhile.
   */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('peer-presence'),
    from: z.string().min(1).max(128),
    minions: z.array(MinionId).max(100_000),
  }),
  /** `phoenix fileserver update` reached another master: fetch the git roots now. */
  z.strictObject({
    v: z.literal(WIRE_VERSION),
    t: z.literal('peer-fileserver-update'),
    from: z.string().min(1).max(128),
  }),
]);
export type PeerMessage = z.output<typeof PeerMessageSchema>;

export const decodePeerMessage = (body: Uint8Array): DecodeResult<PeerMessage> => decodeWith(PeerMessageSchema, body);
