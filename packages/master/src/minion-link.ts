import { randomBytes } from 'node:crypto';
import { Router, type Context } from 'zeromq';
import type { Logger } from 'pino';
import {
  decodeMinionMessage,
  encodeMessage,
  openSeal,
  sessionKey,
  verifyMessage,
  WIRE_VERSION,
  MAX_MESSAGE_BYTES,
  NONCE_BYTES,
  type MasterMessage,
  type MinionMessage,
  PhoenixError,
} from '@phoenix/protocol';
import type { AcceptedKey, Attestation, KeyRegistry } from './keys.js';
import type { Refusals } from './limits/refusals.js';
import { TokenBuckets } from './limits/token-buckets.js';
import { FairQueue, FairQueueFullError } from './limits/fair-queue.js';
import { MasterErrors } from './errors.js';

/** An enrolment challenge is good for one answer, on the connection it was set on, this long. */
const ENROL_CHALLENGE_MS = 30_000;
/** Enrolment challenges outstanding at once: strangers cannot grow the map without end. */
const MAX_ENROL_CHALLENGES = 10_000;

type Message<T extends MinionMessage['t']> = Extract<MinionMessage, { t: T }>;

export interface MinionSession {
  readonly minionId: string;
  readonly routingId: Buffer;
  readonly key: AcceptedKey;
  /** The key this connection's messages are sealed with (bound to the nonce issued for it). */
  readonly sessionKey: Buffer;
  /** The sequence number of the last message taken on this connection: each is taken once, in order. */
  lastSeq: number;
  readonly connectedAt: number;
  lastSeen: number;
  /** The minion said goodbye (it is moving to another master, or stopping): not a lost connection. */
  left?: boolean;
}

/** What the master does with authenticated minion traffic; the link only moves and checks bytes. */
export interface MinionLinkHandlers {
  hello(session: MinionSession, message: Message<'hello'>): Promise<void>;
  /** Resolves once the return is stored: only then is it acknowledged. */
  result(session: MinionSession, message: Message<'return'>): Promise<void>;
  grains(session: MinionSession, message: Message<'grains'>): Promise<void>;
  /** An event of the minion's own (event.send). */
  event(session: MinionSession, message: Message<'event'>): void;
  /** A file-server or pillar request: the reply goes back on the same connection. */
  request(session: MinionSession, message: Message<'file' | 'pillar'>): Promise<MasterMessage>;
  gone(session: MinionSession): void;
  /** A key is pending after an enrolment here (the reactor may accept it). */
  pending?(minionId: string): Promise<void>;
  /** A message on this minion's own sealed connection had to be refused (see PoisonWatch). */
  poison?(minionId: string, reason: string): void;
}

export interface MinionLinkOptions {
  context: Context;
  bind: string;
  enrolPort: number;
  minionPort: number;
  masterId: string;
  clusterSecretKey: string;
  keys: KeyRegistry;
  heartbeatMs: number;
  silenceMs: number;
  /** Enrolments one connection may make that need the table (burst, then per second), and at once overall. */
  enrolment: {
    burst: number;
    perSecond: number;
    inFlight: number;
    waiting: number;
    maxPendingKeys: number;
    tellAcceptedAtOnce: number;
  };
  /** The clock told minions are timed by. */
  now?: () => number;
  refusals: Refusals;
  log: Logger;
  handlers: MinionLinkHandlers;
}

/** ZMTP-level liveness on every connection: handled by libzmq itself, so it costs no JavaScript. */
const ZMTP_HEARTBEAT = { heartbeatInterval: 1_000, heartbeatTimeout: 3_000, heartbeatTimeToLive: 3_000 };
/** Nonces issued to connections that have not said hello yet: at most this many, for this long. */
const CHALLENGES_HELD = 50_000;
const CHALLENGE_MS = 30_000;
/** Enrol connections whose allowance is remembered at once (the least recently seen go first). */
const ENROL_SOURCES_HELD = 50_000;
/** Messages taken from a socket before the event loop gets a turn (timers: the heartbeats). */
const MESSAGES_PER_TURN = 256;
/**
 * The same for the enrol socket, whose messages are strangers' and may come ten thousand at once:
 * fewer a turn, so the API, the table's answers and the minion socket (jobs, returns) are served
 * between them (test/attack-enrol-burst.test.ts).
 */
const ENROL_MESSAGES_PER_TURN = 32;
/**
 * A minion's heartbeats taken at most this many times per master heartbeat interval (after a burst
 * of as many): a heartbeat only says the minion is there, so more of them say nothing more, and
 * the rest of a flood is dropped and counted (`heartbeat-rate`) without a strike.
 */
const HEARTBEATS_PER_INTERVAL = 10;
/** Connected minions whose heartbeat allowance is remembered at once. */
const HEARTBEAT_SOURCES_HELD = 100_000;
/** A minion told of its acceptance that has not said hello within this no longer holds a place. */
const TOLD_MS = 3_000;
/** A socket loop that failed starts again after this, so a master never goes deaf for good. */
const LOOP_RESTART_MS = 100;

/**
 * The master's two router sockets. `enrol` completes a CURVE handshake with any key and accepts
 * only enrol messages; `minion` completes handshakes only with accepted keys (the ZAP handler says
 * so) and carries everything else.
 *
 * A minion connection starts with a `knock`, answered by a `challenge` carrying a fresh nonce; the
 * minion's `hello` and everything after it are sealed ([body, seal]) with a key bound to that nonce
 * and numbered, so a captured message is worthless on another connection, or again on the same
 * one. Once sealed, a connection speaks for its minion id only.
 *
 * What is refused, and what it costs the sender (the README's "Limits and quarantine"):
 * - anything that is not a knock or a correctly sealed hello on a connection without a session is
 *   dropped and counted; there is no session to keep or drop;
 * - on a session, a message that is badly sealed, replayed, over a wire limit, not msgpack, not a
 *   valid message, or claims another id is dropped and counted, the session is kept, and the
 *   minion gets a strike (PoisonWatch quarantines it after a few, cluster-wide);
 * - an enrolment beyond the connection's allowance, or while too many are in flight, is answered
 *   `rejected` (the minion asks again later) and counted.
 */
export class MinionLink {
  readonly #o: MinionLinkOptions;
  readonly #enrol: Router;
  readonly #minion: Router;
  readonly #sessions = new Map<string, MinionSession>();
  readonly #byRoute = new Map<string, MinionSession>();
  /** Nonces issued to connections (by route) that have knocked but not said hello. */
  readonly #challenges = new Map<string, { nonce: Buffer; at: number }>();
  /** Minions waiting on this master for their key to be accepted, so acceptance reaches them at once. */
  readonly #waiting = new Map<string, Buffer>();
  /** Enrolment challenges set, by connection: what an identity document must come back with. */
  readonly #enrolChallenges = new Map<string, { minionId: string; publicKey: string; challenge: string; at: number }>();
  readonly #enrolAllowance: TokenBuckets<string>;
  readonly #heartbeatAllowance: TokenBuckets<string>;
  /**
   * Enrolments that need the table: `inFlight` at once, the rest waiting their turn by connection,
   * so a herd's table work starts as fast as the table answers instead of all at once (thousands
   * of requests built in one turn kept the job path waiting).
   */
  readonly #enrolQueue: FairQueue;
  /** Enrolments admitted and not answered yet (working or waiting). */
  #enrolling = 0;
  /**
   * Waiting minions whose key was accepted, oldest first: `tellAcceptedAtOnce` are told and not
   * connected yet at any time, and the next is told as one says hello, so the news goes out as fast
   * as this master welcomes (a thousand told at once left most of them without a welcome in time).
   */
  readonly #toTell = new Set<string>();
  /** Told, not connected yet: when each was told. */
  readonly #told = new Map<string, number>();
  readonly #now: () => number;
  #tellTimer: NodeJS.Timeout | undefined;
  /** Refusals not yet logged: one line a second says how many, instead of a line a message. */
  readonly #unlogged = new Map<string, { count: number; detail: Record<string, unknown> }>();
  #sweep: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #logTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #lastAck: { jid: string; body: Uint8Array } | undefined;
  ports = { enrol: 0, minion: 0 };

  constructor(options: MinionLinkOptions) {
    this.#o = options;
    const common = {
      context: options.context,
      curveServer: true,
      curveSecretKey: options.clusterSecretKey,
      linger: 0,
      maxMessageSize: MAX_MESSAGE_BYTES + 1024,
      mandatory: true,
      sendTimeout: 0,
      ...ZMTP_HEARTBEAT,
    };
    this.#enrol = new Router({ ...common, zapDomain: 'enrol' });
    this.#minion = new Router({ ...common, zapDomain: 'minion' });
    this.#enrolAllowance = new TokenBuckets({
      burst: options.enrolment.burst,
      perSecond: options.enrolment.perSecond,
      maxKeys: ENROL_SOURCES_HELD,
    });
    this.#enrolQueue = new FairQueue({
      concurrency: options.enrolment.inFlight,
      perKeyRunning: 1,
      perKeyWaiting: options.enrolment.burst,
    });
    this.#now = options.now ?? Date.now;
    this.#heartbeatAllowance = new TokenBuckets({
      burst: HEARTBEATS_PER_INTERVAL,
      perSecond: (HEARTBEATS_PER_INTERVAL * 1000) / options.heartbeatMs,
      maxKeys: HEARTBEAT_SOURCES_HELD,
    });
    options.keys.onChange((change) => {
      if (change.to === 'accepted') {
        this.#toTell.delete(change.minionId);
        this.#toTell.add(change.minionId);
        this.#tellAccepted();
      } else if (change.to === 'rejected' || change.to === 'deleted' || change.to === 'quarantined') {
        // Cut off at once: whether it waits to enrol here or holds a connection.
        this.revoke(change.minionId, `key ${change.to}`);
      }
    });
  }

  async start(): Promise<void> {
    const { bind, enrolPort, minionPort } = this.#o;
    await this.#enrol.bind(`tcp://${bind}:${enrolPort === 0 ? '*' : enrolPort}`);
    await this.#minion.bind(`tcp://${bind}:${minionPort === 0 ? '*' : minionPort}`);
    this.ports = { enrol: portOf(this.#enrol.lastEndpoint), minion: portOf(this.#minion.lastEndpoint) };
    void this.#serve(this.#enrol, ENROL_MESSAGES_PER_TURN, (route, body, mac) => this.#onEnrol(route, body, mac));
    void this.#serve(this.#minion, MESSAGES_PER_TURN, (route, body, seal) => this.#onMinion(route, body, seal));
    this.#sweep = setInterval(
      () => this.#contained('sweep', () => this.#expire()),
      Math.max(100, this.#o.silenceMs / 3),
    );
    this.#sweep.unref();
    this.#heartbeat = setInterval(() => this.#contained('heartbeat', () => this.#heartbeatAll()), this.#o.heartbeatMs);
    this.#heartbeat.unref();
    this.#logTimer = setInterval(() => this.#contained('log', () => this.#logRefusals()), 1_000);
    this.#logTimer.unref();
  }

  get connectedCount(): number {
    return this.#sessions.size;
  }

  connected(): string[] {
    return [...this.#sessions.keys()];
  }

  isConnected(minionId: string): boolean {
    return this.#sessions.has(minionId);
  }

  /**
   * Sends to one connected minion; false when it is not connected here (or its connection just
   * went). A message that cannot be encoded is the sender's mistake, not the minion's: it throws
   * PHX_INPUT_OVER_LIMIT and the session stays.
   */
  send(minionId: string, message: MasterMessage): boolean {
    const session = this.#sessions.get(minionId);
    if (session === undefined) return false;
    return this.#sendOn(this.#minion, session.routingId, encode(message), () => this.#drop(session));
  }

  /**
   * Sends one message, encoded once, to each of `minionIds` connected here (a job to its targets);
   * returns how many it went to. Throws PHX_INPUT_OVER_LIMIT, before sending any, when it cannot be encoded.
   */
  sendToEach(minionIds: Iterable<string>, message: MasterMessage): number {
    const body = encode(message);
    let sent = 0;
    for (const minionId of minionIds) {
      const session = this.#sessions.get(minionId);
      if (session !== undefined && this.#sendOn(this.#minion, session.routingId, body, () => this.#drop(session)))
        sent++;
    }
    return sent;
  }

  /** Sends one message to every minion connected here. */
  broadcast(message: MasterMessage): void {
    const body = encode(message);
    for (const session of [...this.#sessions.values()])
      this.#sendOn(this.#minion, session.routingId, body, () => this.#drop(session));
  }

  /** Cuts a minion off: it is told why, and nothing it sends on that connection is heard again. */
  revoke(minionId: string, reason: string): void {
    const session = this.#sessions.get(minionId);
    const body = encode({ v: WIRE_VERSION, t: 'revoked', reason });
    if (session !== undefined) {
      this.#sendOn(this.#minion, session.routingId, body, () => undefined);
      this.#drop(session);
      this.#o.log.info({ minionId, reason }, 'minion cut off');
    }
    this.#toTell.delete(minionId);
    this.#tellWaiting(minionId, { v: WIRE_VERSION, t: 'revoked', reason });
  }

  close(): void {
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#logTimer) clearInterval(this.#logTimer);
    clearTimeout(this.#tellTimer);
    this.#logRefusals();
    this.#enrol.close();
    this.#minion.close();
  }

  async #serve(
    socket: Router,
    perTurn: number,
    handle: (route: Buffer, body: Buffer, mac: Buffer | undefined) => Promise<void>,
  ): Promise<void> {
    while (!this.#closed) {
      try {
        let sinceTurn = 0;
        for await (const [route, body, mac, ...extra] of socket) {
          // A socket with thousands of returns queued can hand them over one after another while
          // timers wait: the heartbeat timer (what keeps every minion from failing over) and the
          // table writes' answers get a turn at least every `perTurn` messages.
          if (++sinceTurn >= perTurn) {
            sinceTurn = 0;
            await new Promise((resolve) => setImmediate(resolve));
          }
          if (route === undefined || body === undefined || extra.length > 0) {
            this.#refuse('wire', 'frames', { frames: extra.length + 3 });
            continue;
          }
          // Not awaited: checks and session binding happen now, in arrival order; the table writes
          // behind a message (a return, a hello) overlap, so a thousand returns are not stored one
          // after another while the next wait in the socket.
          handle(route, body, mac).catch((err: unknown) =>
            this.#o.log.error({ err }, 'minion message handling failed'),
          );
        }
        return; // the socket was closed
      } catch (err) {
        if (this.#closed) return;
        this.#o.log.error({ err }, 'minion socket loop failed; listening again');
        await new Promise((resolve) => setTimeout(resolve, LOOP_RESTART_MS));
      }
    }
  }

  async #onEnrol(route: Buffer, body: Buffer, mac: Buffer | undefined): Promise<void> {
    const decoded = decodeMinionMessage(body);
    if (!decoded.ok) {
      this.#refuse('enrol', decoded.code, { detail: decoded.reason });
      return;
    }
    const message = decoded.message;
    if (message.t !== 'enrol' || mac === undefined) {
      this.#refuse('enrol', 'invalid', { detail: `unexpected ${message.t}` });
      return;
    }
    const known = this.#o.keys.knows(message.id, message.publicKey);
    // What needs the table (a new id, a key not in memory) is limited per connection and overall:
    // this is what a flood of made-up ids would spend.
    if (!known) {
      const refusal = !this.#enrolAllowance.take(route.toString('hex'))
        ? 'rate'
        : this.#enrolling >= this.#o.enrolment.inFlight + this.#o.enrolment.waiting
          ? 'busy'
          : undefined;
      if (refusal !== undefined) {
        this.#refuse('enrol', refusal, { minionId: message.id });
        this.#sendOn(this.#enrol, route, REFUSED_ENROLMENT[refusal], noop);
        return;
      }
    }
    // The mac proves the sender holds the secret half of the key it presents.
    let key: Buffer;
    try {
      key = this.#o.keys.messageKeyFor(message.publicKey);
    } catch {
      this.#refuse('enrol', 'bad-key', { minionId: message.id });
      return;
    }
    if (!verifyMessage(key, body, mac)) {
      this.#refuse('enrol', 'bad-seal', { minionId: message.id });
      return;
    }
    const attestation = this.#proven(route, message);
    const enrol = (): ReturnType<KeyRegistry['enrol']> =>
      this.#o.keys.enrol(message.id, message.publicKey, attestation);
    this.#enrolling++;
    let answer: Awaited<ReturnType<KeyRegistry['enrol']>>;
    try {
      // Answered from memory: no table work, no turn to wait for.
      answer = known ? await enrol() : await this.#enrolQueue.run(route.toString('hex'), enrol);
    } catch (err) {
      if (!(err instanceof FairQueueFullError)) throw err;
      this.#refuse('enrol', 'busy', { minionId: message.id });
      this.#sendOn(this.#enrol, route, REFUSED_ENROLMENT.busy, noop);
      return;
    } finally {
      this.#enrolling--;
    }
    const { state, reason, refused } = answer;
    if (refused !== undefined) this.#o.refusals.count('enrol', refused);
    // A pending or rejected key's minion waits here to hear that it was accepted (an operator may
    // accept a rejected key again: the minion is back at once, not at its next retry).
    if (state === 'pending' || state === 'rejected') this.#wait(message.id, route);
    else this.#waiting.delete(message.id);
    const challenge = state === 'pending' ? this.#enrolChallenge(route, message.id, message.publicKey) : undefined;
    const reply: MasterMessage = {
      v: WIRE_VERSION,
      t: 'enrolment',
      state,
      ...(reason === undefined ? {} : { reason }),
      ...(challenge === undefined ? {} : { challenge }),
    };
    this.#sendOn(this.#enrol, route, encode(reply), () => this.#waiting.delete(message.id));
    // A launched instance's key may be accepted at once; the acceptance reaches the waiting minion.
    // Once per key on this master: a launch event arriving later makes the reactor look again.
    if (state === 'pending' && answer.known !== true) await this.#o.handlers.pending?.(message.id);
  }

  /**
   * An identity document counts only in answer to the challenge this master set on this very
   * connection, for this id and key, a moment ago: the mac over it (checked already) proves the
   * sender holds the key now, so a document captured with someone else's enrolment proves nothing.
   */
  #proven(route: Buffer, message: Extract<MinionMessage, { t: 'enrol' }>): Attestation | undefined {
    const identity = message.identity;
    if (identity === undefined) return undefined;
    const routeKey = route.toString('hex');
    const set = this.#enrolChallenges.get(routeKey);
    const fresh =
      set !== undefined &&
      identity.challenge === set.challenge &&
      set.minionId === message.id &&
      set.publicKey === message.publicKey &&
      Date.now() - set.at < ENROL_CHALLENGE_MS;
    if (identity.challenge !== undefined) this.#enrolChallenges.delete(routeKey);
    if (!fresh) {
      this.#o.log.warn({ minionId: message.id }, 'an identity document came without this master’s challenge: ignored');
      return undefined;
    }
    return { document: identity.document, signature: identity.signature, provenAt: Date.now() };
  }

  #enrolChallenge(route: Buffer, minionId: string, publicKey: string): string {
    const routeKey = route.toString('hex');
    const challenge = randomBytes(32).toString('base64');
    this.#enrolChallenges.delete(routeKey);
    this.#enrolChallenges.set(routeKey, { minionId, publicKey, challenge, at: Date.now() });
    // Oldest first (a Map keeps insertion order): expired ones, then any beyond the bound.
    for (const [key, entry] of this.#enrolChallenges) {
      if (this.#enrolChallenges.size <= MAX_ENROL_CHALLENGES && Date.now() - entry.at < ENROL_CHALLENGE_MS) break;
      this.#enrolChallenges.delete(key);
    }
    return challenge;
  }

  async #onMinion(route: Buffer, body: Buffer, seal: Buffer | undefined): Promise<void> {
    const routeKey = route.toString('hex');
    const bound = this.#byRoute.get(routeKey);
    if (bound !== undefined) return this.#onSession(bound, body, seal);
    const decoded = decodeMinionMessage(body);
    if (!decoded.ok) {
      this.#refuse('wire', decoded.code, { detail: decoded.reason });
      return;
    }
    const message = decoded.message;
    if (message.t === 'knock') {
      this.#challenge(routeKey, route);
      return;
    }
    if (message.t !== 'hello') {
      // Before hello: a master that restarted sees a connection's later messages first. No session, no strike.
      this.#refuse('wire', 'no-session', { claimed: message.id, type: message.t });
      return;
    }
    const challenge = this.#challenges.get(routeKey);
    const key = this.#o.keys.accepted(message.id);
    const sealedWith =
      challenge === undefined || key === undefined ? undefined : sessionKey(key.messageKey, challenge.nonce);
    const seq = sealedWith === undefined || seal === undefined ? undefined : openSeal(sealedWith, body, seal);
    if (key === undefined || sealedWith === undefined || seq === undefined) {
      // Another connection's hello played here, a hello with no knock before it, or a key not accepted.
      this.#refuse('wire', challenge === undefined ? 'no-challenge' : 'bad-seal', { claimed: message.id });
      return;
    }
    this.#challenges.delete(routeKey);
    const previous = this.#sessions.get(message.id);
    if (previous !== undefined) this.#drop(previous, false);
    const now = Date.now();
    const session: MinionSession = {
      minionId: message.id,
      routingId: route,
      key,
      sessionKey: sealedWith,
      lastSeq: seq,
      connectedAt: now,
      lastSeen: now,
    };
    this.#sessions.set(message.id, session);
    if (this.#told.delete(message.id)) this.#tellAccepted();
    this.#byRoute.set(routeKey, session);
    this.#send(session, {
      v: WIRE_VERSION,
      t: 'welcome',
      masterId: this.#o.masterId,
      heartbeatMs: this.#o.heartbeatMs,
    });
    await this.#o.handlers.hello(session, message);
  }

  /** A message on a sealed connection: checked (seal, order, limits, schema, id) before anything else. */
  async #onSession(session: MinionSession, body: Buffer, seal: Buffer | undefined): Promise<void> {
    const seq = seal === undefined ? undefined : openSeal(session.sessionKey, body, seal);
    if (seq === undefined) return this.#poison(session, 'bad-seal');
    if (seq <= session.lastSeq) return this.#poison(session, 'replay', { seq, last: session.lastSeq });
    session.lastSeq = seq;
    const decoded = decodeMinionMessage(body);
    if (!decoded.ok) return this.#poison(session, decoded.code, { detail: decoded.reason });
    const message = decoded.message;
    if (message.id !== session.minionId) return this.#poison(session, 'wrong-id', { claimed: message.id });
    // A flood of heartbeats is not poison (a misconfigured minion may send one every 50 ms): the
    // excess is dropped and counted, and the minion stays in.
    if (message.t === 'heartbeat' && !this.#heartbeatAllowance.take(session.minionId)) {
      this.#refuse('wire', 'heartbeat-rate', { minionId: session.minionId });
      return;
    }
    session.lastSeen = Date.now();
    switch (message.t) {
      case 'return':
        await this.#o.handlers.result(session, message);
        this.#sendOn(this.#minion, session.routingId, this.#ackBody(message.jid), () => this.#drop(session));
        return;
      case 'grains':
        await this.#o.handlers.grains(session, message);
        return;
      case 'event':
        this.#o.handlers.event(session, message);
        return;
      case 'file':
      case 'pillar':
        void this.#o.handlers.request(session, message).then(
          (reply) => {
            if (this.#sessions.get(session.minionId) === session) this.#sendReply(session, reply);
          },
          (err: unknown) => this.#o.log.error({ err, minionId: session.minionId }, 'request handling failed'),
        );
        return;
      case 'bye':
        session.left = true;
        this.#drop(session);
        return;
      case 'heartbeat':
        return; // lastSeen is set: that is all a minion's heartbeat is for
      default:
        this.#refuse('wire', 'unexpected', { minionId: session.minionId, type: message.t });
    }
  }

  /** A reply too big or deep to encode becomes an error reply: the request is answered either way. */
  #sendReply(session: MinionSession, reply: MasterMessage): void {
    let body: Uint8Array;
    try {
      body = encode(reply);
    } catch (err) {
      const req = reply.t === 'reply' ? reply.req : 0;
      const message = err instanceof Error ? err.message : String(err);
      body = encode({
        v: WIRE_VERSION,
        t: 'reply',
        req,
        error: { code: MasterErrors.PHX_INPUT_OVER_LIMIT.code, message },
      });
    }
    this.#sendOn(this.#minion, session.routingId, body, () => this.#drop(session));
  }

  #challenge(routeKey: string, route: Buffer): void {
    const now = Date.now();
    this.#challenges.delete(routeKey);
    if (this.#challenges.size >= CHALLENGES_HELD) {
      const oldest = this.#challenges.keys().next();
      if (oldest.done !== true) this.#challenges.delete(oldest.value);
    }
    const nonce = randomBytes(NONCE_BYTES);
    this.#challenges.set(routeKey, { nonce, at: now });
    this.#sendOn(this.#minion, route, encode({ v: WIRE_VERSION, t: 'challenge', nonce }), noop);
  }

  #poison(session: MinionSession, reason: string, detail: Record<string, unknown> = {}): void {
    this.#refuse('wire', reason, { minionId: session.minionId, ...detail });
    this.#o.handlers.poison?.(session.minionId, reason);
  }

  /** Counts a refusal now; its log line waits for the next second's summary (see #logRefusals). */
  #refuse(input: 'wire' | 'enrol', reason: string, detail: Record<string, unknown> = {}): void {
    this.#o.refusals.count(input, reason);
    const key = `${input}\0${reason}\0${String(detail.minionId ?? detail.claimed ?? '')}`;
    const held = this.#unlogged.get(key);
    if (held !== undefined) held.count++;
    else if (this.#unlogged.size < 1_000) this.#unlogged.set(key, { count: 1, detail: { input, reason, ...detail } });
  }

  #logRefusals(): void {
    for (const { count, detail } of this.#unlogged.values())
      this.#o.log.warn({ ...detail, count }, 'refused minion messages');
    this.#unlogged.clear();
  }

  /** A job's returns all get the same ack: encoded once per jid (the last one's is kept). */
  #ackBody(jid: string): Uint8Array {
    if (this.#lastAck?.jid !== jid) this.#lastAck = { jid, body: encode({ v: WIRE_VERSION, t: 'ack', jid }) };
    return this.#lastAck.body;
  }

  #send(session: MinionSession, message: MasterMessage): void {
    this.#sendOn(this.#minion, session.routingId, encode(message), () => this.#drop(session));
  }

  #sendOn(socket: Router, route: Buffer, body: Uint8Array, unreachable: () => void): boolean {
    try {
      // mandatory + sendTimeout 0: a gone peer throws at once instead of silently dropping.
      void socket.send([route, body]).catch(unreachable);
      return true;
    } catch {
      unreachable();
      return false;
    }
  }

  #wait(minionId: string, route: Buffer): void {
    this.#waiting.delete(minionId);
    if (this.#waiting.size >= this.#o.enrolment.maxPendingKeys) {
      const oldest = this.#waiting.keys().next();
      if (oldest.done !== true) this.#waiting.delete(oldest.value);
    }
    this.#waiting.set(minionId, route);
  }

  /** Tells waiting minions their key was accepted, as many as the pace allows now; the rest soon. */
  #tellAccepted(): void {
    const now = this.#now();
    // In the order told: the first one still young means the rest are too.
    for (const [minionId, at] of this.#told) {
      if (now - at < TOLD_MS) break;
      this.#told.delete(minionId);
    }
    for (const minionId of this.#toTell) {
      if (this.#told.size >= this.#o.enrolment.tellAcceptedAtOnce) break;
      this.#toTell.delete(minionId);
      if (!this.#waiting.has(minionId)) continue; // not waiting here: nobody to tell
      this.#told.set(minionId, now);
      this.#tellWaiting(minionId, { v: WIRE_VERSION, t: 'enrolment', state: 'accepted' });
    }
    const oldest = this.#told.values().next();
    if (this.#toTell.size === 0 || oldest.done === true || this.#tellTimer !== undefined || this.#closed) return;
    // Told minions that never say hello free their places in time.
    this.#tellTimer = setTimeout(
      () => {
        this.#tellTimer = undefined;
        this.#contained('tell accepted', () => this.#tellAccepted());
      },
      Math.max(10, oldest.value + TOLD_MS - now),
    );
    this.#tellTimer.unref();
  }

  #tellWaiting(minionId: string, message: MasterMessage): void {
    const route = this.#waiting.get(minionId);
    if (route === undefined) return;
    this.#waiting.delete(minionId);
    this.#sendOn(this.#enrol, route, encode(message), noop);
  }

  #drop(session: MinionSession, notify = true): void {
    if (this.#sessions.get(session.minionId) === session) this.#sessions.delete(session.minionId);
    this.#byRoute.delete(session.routingId.toString('hex'));
    if (notify) this.#o.handlers.gone(session);
  }

  /**
   * One heartbeat to every connection, encoded once: it keeps each minion's receive timeout from
   * firing, and a send that fails (the connection is gone: ZMTP heartbeats closed it) drops the session.
   */
  #heartbeatAll(): void {
    const body = encode({ v: WIRE_VERSION, t: 'heartbeat', at: Date.now() });
    for (const session of [...this.#sessions.values()])
      this.#sendOn(this.#minion, session.routingId, body, () => this.#drop(session));
  }

  #expire(): void {
    const now = Date.now();
    const cutoff = now - this.#o.silenceMs;
    for (const session of [...this.#sessions.values()]) {
      if (session.lastSeen < cutoff) {
        this.#o.log.info({ minionId: session.minionId }, 'minion went silent');
        this.#drop(session);
      }
    }
    for (const [route, challenge] of this.#challenges) {
      if (now - challenge.at < CHALLENGE_MS) break; // in the order issued: the rest are younger
      this.#challenges.delete(route);
    }
  }

  /** A timer's work: whatever it throws is logged, and the timer keeps its schedule. */
  #contained(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.#o.log.error({ err, what }, 'minion link timer failed');
    }
  }
}

const noop = (): void => undefined;

/** The answers to an enrolment refused before any work, encoded once: a flood's replies cost a send each. */
const REFUSED_ENROLMENT = {
  rate: encode({
    v: WIRE_VERSION,
    t: 'enrolment',
    state: 'rejected',
    reason: 'too many enrolments on this connection; enrol again later',
  }),
  busy: encode({ v: WIRE_VERSION, t: 'enrolment', state: 'rejected', reason: 'busy; enrol again later' }),
} as const;

/** The encoder refuses what is nested too deep for the wire: that is the caller's input, refused as such. */
function encode(message: MasterMessage): Uint8Array {
  try {
    return encodeMessage(message);
  } catch (err) {
    throw new PhoenixError(
      MasterErrors.PHX_INPUT_OVER_LIMIT,
      `a ${message.t} message could not be encoded: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

function portOf(endpoint: string | null): number {
  const match = /:(\d+)$/.exec(endpoint ?? '');
  if (match === null) {
    throw new PhoenixError(MasterErrors.PHX_MASTER_START_FAILED, `no port in the bound endpoint ${String(endpoint)}`);
  }
  return Number(match[1]);
}
