import { randomBytes } from 'node:crypto';
import { Router, type Context } from 'zeromq';
import type { Logger } from 'pino';
import {
  decodeMinionMessage,
  encodeMessage,
  verifyMessage,
  WIRE_VERSION,
  MAX_MESSAGE_BYTES,
  type MasterMessage,
  type MinionMessage,
} from '@phoenix/protocol';
import type { AcceptedKey, Attestation, KeyRegistry } from './keys.js';

/** A challenge is good for one answer, on the connection it was set on, this long. */
const CHALLENGE_MS = 30_000;
/** Challenges outstanding at once: strangers cannot grow the map without end. */
const MAX_CHALLENGES = 10_000;

type Message<T extends MinionMessage['t']> = Extract<MinionMessage, { t: T }>;

export interface MinionSession {
  readonly minionId: string;
  readonly routingId: Buffer;
  readonly key: AcceptedKey;
  readonly connectedAt: number;
  lastSeen: number;
}

/** What the master does with authenticated minion traffic; the link only moves and checks bytes. */
export interface MinionLinkHandlers {
  hello(session: MinionSession, message: Message<'hello'>): Promise<void>;
  /** Resolves once the return is stored: only then is it acknowledged. */
  result(session: MinionSession, message: Message<'return'>): Promise<void>;
  grains(session: MinionSession, message: Message<'grains'>): Promise<void>;
  /** A file-server or pillar request: the reply goes back on the same connection. */
  request(session: MinionSession, message: Message<'file' | 'pillar'>): Promise<MasterMessage>;
  gone(session: MinionSession): void;
  /** A key is pending after an enrolment here (the reactor may accept it). */
  pending?(minionId: string): Promise<void>;
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
  log: Logger;
  handlers: MinionLinkHandlers;
}

/** ZMTP-level liveness on every connection: handled by libzmq itself, so it costs no JavaScript. */
const ZMTP_HEARTBEAT = { heartbeatInterval: 1_000, heartbeatTimeout: 3_000, heartbeatTimeToLive: 3_000 };

/**
 * The master's two router sockets. `enrol` completes a CURVE handshake with any key and accepts
 * only enrol messages; `minion` completes handshakes only with accepted keys (the ZAP handler says
 * so) and carries everything else. Every minion message is [body, mac]: the mac must verify with the
 * accepted key of the minion id the body claims, and after `hello` a connection speaks for that id only.
 */
export class MinionLink {
  readonly #o: MinionLinkOptions;
  readonly #enrol: Router;
  readonly #minion: Router;
  readonly #sessions = new Map<string, MinionSession>();
  readonly #byRoute = new Map<string, MinionSession>();
  /** Minions waiting on this master for their key to be accepted, so acceptance reaches them at once. */
  readonly #waiting = new Map<string, Buffer>();
  /** Enrolment challenges set, by connection: what an identity document must come back with. */
  readonly #challenges = new Map<string, { minionId: string; publicKey: string; challenge: string; at: number }>();
  #sweep: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
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
    options.keys.onChange((change) => {
      if (change.to === 'accepted') {
        this.#tellWaiting(change.minionId, { v: WIRE_VERSION, t: 'enrolment', state: 'accepted' });
      } else if (change.to === 'rejected' || change.to === 'deleted') {
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
    void this.#serve(this.#enrol, (route, body, mac) => this.#onEnrol(route, body, mac));
    void this.#serve(this.#minion, (route, body, mac) => this.#onMinion(route, body, mac));
    this.#sweep = setInterval(() => this.#expireSilent(), Math.max(100, this.#o.silenceMs / 3));
    this.#sweep.unref();
    this.#heartbeat = setInterval(() => this.#heartbeatAll(), this.#o.heartbeatMs);
    this.#heartbeat.unref();
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

  /** Sends to one connected minion; false when it is not connected here (or its connection just went). */
  send(minionId: string, message: MasterMessage): boolean {
    const session = this.#sessions.get(minionId);
    if (session === undefined) return false;
    return this.#sendOn(this.#minion, session.routingId, message, () => this.#drop(session));
  }

  /** Sends one message to every minion connected here. */
  broadcast(message: MasterMessage): void {
    for (const minionId of [...this.#sessions.keys()]) this.send(minionId, message);
  }

  /** Cuts a minion off: it is told why, and nothing it sends on that connection is heard again. */
  revoke(minionId: string, reason: string): void {
    const session = this.#sessions.get(minionId);
    if (session !== undefined) {
      this.#sendOn(this.#minion, session.routingId, { v: WIRE_VERSION, t: 'revoked', reason }, () => undefined);
      this.#drop(session);
      this.#o.log.info({ minionId, reason }, 'minion cut off');
    }
    this.#tellWaiting(minionId, { v: WIRE_VERSION, t: 'revoked', reason });
  }

  close(): void {
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#enrol.close();
    this.#minion.close();
  }

  async #serve(
    socket: Router,
    handle: (route: Buffer, body: Buffer, mac: Buffer | undefined) => Promise<void>,
  ): Promise<void> {
    try {
      for await (const [route, body, mac, ...extra] of socket) {
        if (route === undefined || body === undefined || extra.length > 0) {
          this.#o.log.warn({ frames: extra.length + 3 }, 'dropped a message with the wrong number of frames');
          continue;
        }
        // Not awaited: checks and session binding happen now, in arrival order; the table writes
        // behind a message (a return, a hello) overlap, so a thousand returns are not stored one
        // after another while the next wait in the socket.
        handle(route, body, mac).catch((err: unknown) => this.#o.log.error({ err }, 'minion message handling failed'));
      }
    } catch (err) {
      if (!this.#closed) this.#o.log.error({ err }, 'minion socket stopped');
    }
  }

  async #onEnrol(route: Buffer, body: Buffer, mac: Buffer | undefined): Promise<void> {
    const decoded = decodeMinionMessage(body);
    if (!decoded.ok || decoded.message.t !== 'enrol' || mac === undefined) {
      this.#o.log.warn(
        { reason: decoded.ok ? `unexpected ${decoded.message.t}` : decoded.reason },
        'dropped an enrol-port message',
      );
      return;
    }
    const message = decoded.message;
    // The mac proves the sender holds the secret half of the key it presents.
    let key: Buffer;
    try {
      key = this.#o.keys.messageKeyFor(message.publicKey);
    } catch {
      this.#o.log.warn({ minionId: message.id }, 'dropped an enrolment with an unusable public key');
      return;
    }
    if (!verifyMessage(key, body, mac)) {
      this.#o.log.warn({ minionId: message.id }, 'dropped an enrolment whose signature does not match its key');
      return;
    }
    const attestation = this.#proven(route, message);
    const { state, reason, known } = await this.#o.keys.enrol(message.id, message.publicKey, attestation);
    // A pending or rejected key's minion waits here to hear that it was accepted (an operator may
    // accept a rejected key again: the minion is back at once, not at its next retry).
    if (state === 'pending' || state === 'rejected') this.#waiting.set(message.id, route);
    else this.#waiting.delete(message.id);
    const challenge = state === 'pending' ? this.#challenge(route, message.id, message.publicKey) : undefined;
    const reply: MasterMessage = {
      v: WIRE_VERSION,
      t: 'enrolment',
      state,
      ...(reason === undefined ? {} : { reason }),
      ...(challenge === undefined ? {} : { challenge }),
    };
    this.#sendOn(this.#enrol, route, reply, () => this.#waiting.delete(message.id));
    // A launched instance's key may be accepted at once; the acceptance reaches the waiting minion.
    // Once per key on this master: a launch event arriving later makes the reactor look again.
    if (state === 'pending' && known !== true) await this.#o.handlers.pending?.(message.id);
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
    const set = this.#challenges.get(routeKey);
    const fresh =
      set !== undefined &&
      identity.challenge === set.challenge &&
      set.minionId === message.id &&
      set.publicKey === message.publicKey &&
      Date.now() - set.at < CHALLENGE_MS;
    if (identity.challenge !== undefined) this.#challenges.delete(routeKey);
    if (!fresh) {
      this.#o.log.warn({ minionId: message.id }, 'an identity document came without this master’s challenge: ignored');
      return undefined;
    }
    return { document: identity.document, signature: identity.signature, provenAt: Date.now() };
  }

  #challenge(route: Buffer, minionId: string, publicKey: string): string {
    const routeKey = route.toString('hex');
    const challenge = randomBytes(32).toString('base64');
    this.#challenges.delete(routeKey);
    this.#challenges.set(routeKey, { minionId, publicKey, challenge, at: Date.now() });
    // Oldest first (a Map keeps insertion order): expired ones, then any beyond the bound.
    for (const [key, entry] of this.#challenges) {
      if (this.#challenges.size <= MAX_CHALLENGES && Date.now() - entry.at < CHALLENGE_MS) break;
      this.#challenges.delete(key);
    }
    return challenge;
  }

  async #onMinion(route: Buffer, body: Buffer, mac: Buffer | undefined): Promise<void> {
    const decoded = decodeMinionMessage(body);
    if (!decoded.ok) {
      this.#o.log.warn({ reason: decoded.reason }, 'dropped a minion message');
      return;
    }
    const message = decoded.message;
    const routeKey = route.toString('hex');
    const bound = this.#byRoute.get(routeKey);
    const key = bound?.key ?? this.#o.keys.accepted(message.id);
    if (key === undefined || mac === undefined || !verifyMessage(key.messageKey, body, mac)) {
      this.#o.log.warn(
        { claimed: message.id, type: message.t },
        'refused a message not signed by the key of the minion it claims',
      );
      return;
    }
    if (bound !== undefined && bound.minionId !== message.id) {
      this.#o.log.warn(
        { minionId: bound.minionId, claimed: message.id },
        'refused a message claiming another minion id',
      );
      return;
    }
    if (message.t === 'hello') {
      const previous = this.#sessions.get(message.id);
      if (previous !== undefined) this.#drop(previous, false);
      const session: MinionSession = {
        minionId: message.id,
        routingId: route,
        key,
        connectedAt: Date.now(),
        lastSeen: Date.now(),
      };
      this.#sessions.set(message.id, session);
      this.#byRoute.set(routeKey, session);
      this.#send(session, {
        v: WIRE_VERSION,
        t: 'welcome',
        masterId: this.#o.masterId,
        heartbeatMs: this.#o.heartbeatMs,
      });
      await this.#o.handlers.hello(session, message);
      return;
    }
    if (bound === undefined) {
      this.#o.log.warn({ minionId: message.id, type: message.t }, 'dropped a message sent before hello');
      return;
    }
    bound.lastSeen = Date.now();
    switch (message.t) {
      case 'return':
        await this.#o.handlers.result(bound, message);
        this.#send(bound, { v: WIRE_VERSION, t: 'ack', jid: message.jid });
        return;
      case 'grains':
        await this.#o.handlers.grains(bound, message);
        return;
      case 'file':
      case 'pillar':
        void this.#o.handlers.request(bound, message).then(
          (reply) => {
            if (this.#sessions.get(bound.minionId) === bound) this.#send(bound, reply);
          },
          (err: unknown) => this.#o.log.error({ err, minionId: bound.minionId }, 'request handling failed'),
        );
        return;
      case 'bye':
        this.#drop(bound);
        return;
      case 'heartbeat':
        return; // lastSeen is set: that is all a minion's heartbeat is for
      default:
        this.#o.log.warn(
          { minionId: message.id, type: message.t },
          'dropped a message of a type this port does not take',
        );
    }
  }

  #send(session: MinionSession, message: MasterMessage): void {
    this.#sendOn(this.#minion, session.routingId, message, () => this.#drop(session));
  }

  #sendOn(socket: Router, route: Buffer, message: MasterMessage, unreachable: () => void): boolean {
    try {
      // mandatory + sendTimeout 0: a gone peer throws at once instead of silently dropping.
      void socket.send([route, encodeMessage(message)]).catch(unreachable);
      return true;
    } catch {
      unreachable();
      return false;
    }
  }

  #tellWaiting(minionId: string, message: MasterMessage): void {
    const route = this.#waiting.get(minionId);
    if (route === undefined) return;
    this.#waiting.delete(minionId);
    this.#sendOn(this.#enrol, route, message, () => undefined);
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
    const body = encodeMessage({ v: WIRE_VERSION, t: 'heartbeat', at: Date.now() });
    for (const session of [...this.#sessions.values()]) {
      try {
        void this.#minion.send([session.routingId, body]).catch(() => this.#drop(session));
      } catch {
        this.#drop(session);
      }
    }
  }

  #expireSilent(): void {
    const cutoff = Date.now() - this.#o.silenceMs;
    for (const session of this.#sessions.values()) {
      if (session.lastSeen < cutoff) {
        this.#o.log.info({ minionId: session.minionId }, 'minion went silent');
        this.#drop(session);
      }
    }
  }
}

function portOf(endpoint: string | null): number {
  const match = /:(\d+)$/.exec(endpoint ?? '');
  if (match === null) throw new Error(`no port in endpoint ${String(endpoint)}`);
  return Number(match[1]);
}
