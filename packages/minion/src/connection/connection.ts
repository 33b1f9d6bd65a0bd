import { randomBytes } from 'node:crypto';
import { Dealer, type Context } from 'zeromq';
import type { Logger } from 'pino';
import {
  decodeMasterMessage,
  encodeMessage,
  messageKey,
  scanMsgpack,
  sealMessage,
  sessionKey,
  signMessage,
  WIRE_LIMITS,
  WIRE_VERSION,
  MAX_MESSAGE_BYTES,
  PhoenixError,
  type CurveKeyPair,
  type KeyState,
  type MasterEndpoint,
  type MasterMessage,
  type MinionMessage,
} from '@phoenix/protocol';
import { describeMaster, type MasterAddress } from './master-address.js';
import { Outbox } from './outbox.js';
import type { JobOutcome } from '../executor/types.js';

type JobMessage = Extract<MasterMessage, { t: 'job' }>;
type ReplyMessage = Extract<MasterMessage, { t: 'reply' }>;
/** What a caller of `request` fills in; the connection adds the version, the minion id and `req`. */
export type RequestBody =
  | Omit<Extract<MinionMessage, { t: 'file' }>, 'v' | 'id' | 'req'>
  | Omit<Extract<MinionMessage, { t: 'pillar' }>, 'v' | 'id' | 'req'>;

/** The connected master could not be asked: none is connected, it went away, or it did not answer. */
export class MasterUnavailableError extends PhoenixError {
  constructor(message: string) {
    super('PHX_MINION_MASTER_UNAVAILABLE', message);
    this.name = 'MasterUnavailableError';
  }
}

interface PendingRequest {
  readonly message: MinionMessage;
  resolve(reply: ReplyMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface ConnectionOptions {
  id: string;
  /** The masters in failover order, read afresh at every (re)connect. */
  masters: () => readonly MasterAddress[];
  clusterPublicKey: string;
  keyPair: CurveKeyPair;
  context?: Context;
  /** The master heartbeat interval assumed until a master announces its own (in `welcome`). */
  heartbeatMs: number;
  /** Master heartbeats missed before the master counts as dead and the next one is tried. */
  missedHeartbeats: number;
  /** How often the minion tells its master it is alive (the master drops one silent for long). */
  aliveIntervalMs: number;
  /** How often a pending minion asks again whether its key was accepted. */
  enrolRetryMs: number;
  backoffMaxMs: number;
  grains: () => Record<string, unknown>;
  identity?: { document: string; signature: string };
  runJob: (job: JobMessage) => Promise<JobOutcome>;
  /** The connected master's view of the live masters (the master-list manager takes it from here). */
  onMasters?: (masters: MasterEndpoint[]) => void;
  /** Told of every change of connection state. */
  onState?: (state: ConnectionState) => void;
  /** A better master must stay first in the order this long before the minion moves to it. */
  returnAfterMs: number;
  /** Moves to a better master are spread at random over this window, so minions do not move at once. */
  moveSpreadMs: number;
  log: Logger;
}

export type ConnectionState = 'enrolling' | 'pending' | 'connected' | 'disconnected' | 'stopped';

const ZMTP_HEARTBEAT = { heartbeatInterval: 1_000, heartbeatTimeout: 3_000, heartbeatTimeToLive: 3_000 };
/** A master lost this recently is not moved back to: by then every registry has it dead or alive again. */
const LOST_MASTER_MS = 30_000;

/**
 * One minion's link to the masters: enrol on a master's enrol port until the key is accepted, then
 * one dealer connection to its minion port that carries jobs, returns, acks and heartbeats. A master
 * that stops answering heartbeats is left for the next in the failover order; the minion never gives
 * up (backoff with jitter, capped), and unacknowledged returns follow it to the next master.
 */
export class MinionConnection {
  readonly #o: ConnectionOptions;
  readonly #key: Buffer;
  readonly #outbox = new Outbox();
  #current: ConnectionState = 'disconnected';
  #master: MasterAddress | undefined;
  #socket: Dealer | undefined;
  #sending: Promise<void> = Promise.resolve();
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  /** Set once a master said the key is accepted; cleared when a master refuses the connection. */
  #accepted = false;
  #cursor = 0;
  /** A master being left (draining, or no longer first): skipped by the next pick while it is listed. */
  #avoid: string | undefined;
  #leaving = false;
  #moveTimer: NodeJS.Timeout | undefined;
  readonly #requests = new Map<number, PendingRequest>();
  /** When each master last failed this minion (by id): a move to the preferred master skips it a while. */
  readonly #lost = new Map<string, number>();
  #nextRequest = 0;
  /** The current connection's session: its key (bound to the master's nonce) and the last number used. */
  #session: { key: Buffer; seq: number } | undefined;

  constructor(options: ConnectionOptions) {
    this.#o = options;
    this.#key = messageKey(options.keyPair.secretKey, options.clusterPublicKey);
  }

  get state(): ConnectionState {
    return this.#current;
  }

  get #state(): ConnectionState {
    return this.#current;
  }

  set #state(state: ConnectionState) {
    if (state === this.#current) return;
    this.#current = state;
    this.#o.onState?.(state);
  }

  get master(): MasterAddress | undefined {
    return this.#state === 'connected' ? this.#master : undefined;
  }

  get unacknowledged(): number {
    return this.#outbox.size;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * The failover order changed (the manager calls this). The connection stays where it is unless
   * its master left the list — then it moves at once — or another master is now first: then it
   * moves after `returnAfterMs` plus a random share of `moveSpreadMs`, and only if that master is
   * still first then, so a flapping master does not bounce minions.
   */
  reorder(): void {
    this.#cursor = 0;
    const current = this.#master;
    if (this.#state !== 'connected' || current === undefined) return;
    const order = this.#o.masters();
    const position = order.findIndex((m) => sameMaster(m, current));
    if (position === 0) {
      clearTimeout(this.#moveTimer);
      this.#moveTimer = undefined;
      return;
    }
    if (position < 0) {
      this.#o.log.info({ master: describeMaster(current) }, 'master left the list; moving');
      this.#leave();
      return;
    }
    if (this.#moveTimer !== undefined) return;
    const delay = this.#o.returnAfterMs + Math.random() * this.#o.moveSpreadMs;
    this.#moveTimer = setTimeout(() => {
      this.#moveTimer = undefined;
      const first = this.#o.masters()[0];
      // Not back to a master this minion just lost: it is likely dead, only not yet out of the list.
      const lostRecently = first !== undefined && Date.now() - (this.#lost.get(idOf(first)) ?? 0) < LOST_MASTER_MS;
      if (
        !lostRecently &&
        this.#state === 'connected' &&
        first !== undefined &&
        this.#master &&
        !sameMaster(first, this.#master)
      ) {
        this.#o.log.info(
          { from: describeMaster(this.#master), to: describeMaster(first) },
          'moving to the preferred master',
        );
        this.#leave();
      }
    }, delay);
    this.#moveTimer.unref?.();
  }

  /** Closes the current connection on purpose: the loop connects again from the top of the order. */
  #leave(avoid?: string): void {
    this.#leaving = true;
    this.#avoid = avoid;
    this.#closeSaying();
  }

  /** Closes the connection, first telling a connected master so it drops the session at once. */
  #closeSaying(): void {
    const socket = this.#socket;
    if (socket === undefined) return;
    if (this.#current !== 'connected') {
      socket.close();
      return;
    }
    this.#send({ v: WIRE_VERSION, t: 'bye', id: this.#o.id });
    // Close once the goodbye is queued; linger lets ZeroMQ deliver it (bounded by the socket's linger).
    void this.#sending.then(() => socket.close());
  }

  async stop(): Promise<void> {
    clearTimeout(this.#moveTimer);
    this.#stopped = true;
    this.#closeSaying();
    this.#state = 'stopped';
    this.#failRequests('the minion is stopping');
    this.#wake?.();
    await this.#loop;
  }

  /**
   * Asks a master (its file server, or for this minion's pillar) and waits for the reply. Requests
   * only read, so one whose master is lost is asked again of the next master the minion connects
   * to: a state run survives its master's failover. It fails when no master answered in time; the
   * caller then falls back to what it cached.
   */
  request(body: RequestBody, timeoutMs: number): Promise<ReplyMessage> {
    if (this.#stopped) return Promise.reject(new MasterUnavailableError('the minion is stopping'));
    const req = (this.#nextRequest = (this.#nextRequest + 1) % 2 ** 31);
    const message = { ...body, v: WIRE_VERSION, id: this.#o.id, req } as MinionMessage;
    return new Promise<ReplyMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#requests.delete(req);
        reject(new MasterUnavailableError(`no master answered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#requests.set(req, { message, resolve, reject, timer });
      if (this.#state === 'connected') this.#send(message);
    });
  }

  #failRequests(reason: string): void {
    for (const [req, pending] of this.#requests) {
      clearTimeout(pending.timer);
      this.#requests.delete(req);
      pending.reject(new MasterUnavailableError(reason));
    }
  }

  /** Tells the connected master about changed grains at once, so the next job can target them. */
  grainsChanged(): void {
    if (this.#state === 'connected')
      this.#send({ v: WIRE_VERSION, t: 'grains', id: this.#o.id, grains: this.#o.grains() });
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      const order = this.#o.masters();
      if (order.length === 0) {
        this.#o.log.warn('no master is known; waiting for the master list');
        await this.#pause(this.#backoff(++failures));
        continue;
      }
      if (this.#avoid !== undefined && !order.some((m) => idOf(m) === this.#avoid)) this.#avoid = undefined;
      const candidates = order.filter((m) => this.#avoid === undefined || idOf(m) !== this.#avoid);
      const pool = candidates.length > 0 ? candidates : order;
      const master = pool[this.#cursor % pool.length] as MasterAddress;
      this.#master = master;
      const outcome = await this.#visit(master).catch((err: unknown) => {
        this.#o.log.warn({ err, master: describeMaster(master) }, 'connection failed');
        return 'failed' as const;
      });
      if (this.#stopped) break;
      if (this.#leaving) {
        this.#leaving = false;
        this.#cursor = 0;
        continue;
      }
      if (outcome === 'failed') {
        // Next: the master after the one that failed, in the order as it is now. (Counting on from
        // the cursor would send a minion that sat on a master other than its first back to the
        // dead one's predecessor, itself possibly the dead one, costing a whole timeout.)
        this.#lost.set(idOf(master), Date.now());
        const now = this.#o.masters();
        const at = now.findIndex((m) => sameMaster(m, master));
        this.#cursor = at < 0 ? this.#cursor + 1 : at + 1;
        failures++;
        await this.#pause(this.#backoff(failures));
      } else {
        failures = 0;
      }
    }
    this.#state = 'stopped';
  }

  /** Enrols if needed, then serves one connection until it fails or the minion stops. */
  async #visit(master: MasterAddress): Promise<'failed' | 'again'> {
    if (!this.#accepted) {
      const state = await this.#enrol(master);
      if (state === undefined) return 'failed';
      if (state === 'waited') return 'again'; // #enrol already waited a full retry interval
      if (state !== 'accepted') {
        this.#o.log.warn({ state, master: describeMaster(master) }, 'key not accepted; asking again later');
        await this.#pause(this.#o.enrolRetryMs);
        return 'again';
      }
      this.#accepted = true;
    }
    return this.#serve(master);
  }

  #socketFor(): Dealer {
    return new Dealer({
      ...(this.#o.context === undefined ? {} : { context: this.#o.context }),
      curveServerKey: this.#o.clusterPublicKey,
      curvePublicKey: this.#o.keyPair.publicKey,
      curveSecretKey: this.#o.keyPair.secretKey,
      routingId: randomBytes(16).toString('hex'),
      // Long enough to deliver a goodbye on close, short enough never to hold a stop back.
      linger: 200,
      maxMessageSize: MAX_MESSAGE_BYTES + 1024,
      reconnectInterval: 200,
      ...ZMTP_HEARTBEAT,
    });
  }

  /**
   * Asks `master` for the key's state; while it is pending or rejected, waits (bounded) for the
   * master's word that it was accepted, so an operator's accept lets the minion in at once.
   * 'waited': no word within the retry interval.
   */
  async #enrol(master: MasterAddress): Promise<KeyState | 'waited' | undefined> {
    this.#state = 'enrolling';
    const socket = this.#socketFor();
    this.#socket = socket;
    socket.receiveTimeout = this.#o.heartbeatMs * this.#o.missedHeartbeats;
    try {
      socket.connect(`tcp://${master.host}:${master.enrolPort}`);
      const enrol: MinionMessage = {
        v: WIRE_VERSION,
        t: 'enrol',
        id: this.#o.id,
        publicKey: this.#o.keyPair.publicKey,
        grains: this.#o.grains(),
        ...(this.#o.identity === undefined ? {} : { identity: this.#o.identity }),
      };
      const body = encodeMessage(enrol);
      await socket.send([body, signMessage(this.#key, body)]);
      let reply = await this.#receive(socket);
      if (reply?.t === 'enrolment' && (reply.state === 'pending' || reply.state === 'rejected')) {
        this.#state = 'pending';
        this.#o.log.info(
          { master: describeMaster(master), state: reply.state },
          `key ${reply.state}; waiting for acceptance`,
        );
        // The master tells us the moment the key is accepted; until then this is a quiet wait.
        socket.receiveTimeout = this.#o.enrolRetryMs;
        reply = await this.#receive(socket);
        if (reply === undefined) return 'waited';
      }
      if (reply?.t === 'enrolment') return reply.state;
      if (reply?.t === 'revoked') return 'rejected';
      return undefined;
    } finally {
      socket.close();
    }
  }

  async #receive(socket: Dealer): Promise<MasterMessage | undefined> {
    for (;;) {
      let frames: Buffer[];
      try {
        frames = await socket.receive();
      } catch {
        return undefined; // timed out, or closed by stop()
      }
      const decoded = decodeMasterMessage(frames[0] ?? Buffer.alloc(0));
      if (decoded.ok) return decoded.message;
      this.#o.log.warn({ reason: decoded.reason }, 'dropped a master message');
    }
  }

  async #serve(master: MasterAddress): Promise<'failed' | 'again'> {
    const socket = this.#socketFor();
    this.#socket = socket;
    const deadAfter = this.#o.heartbeatMs * this.#o.missedHeartbeats;
    socket.receiveTimeout = deadAfter;
    socket.connect(`tcp://${master.host}:${master.port}`);
    this.#sending = Promise.resolve();
    this.#session = undefined;
    let heartbeat: NodeJS.Timeout | undefined;
    try {
      // The master names this connection's nonce; everything from the hello on is sealed with it.
      const knock = encodeMessage({ v: WIRE_VERSION, t: 'knock', id: this.#o.id });
      this.#sending = this.#sending.then(() => socket.send(knock).catch(() => undefined));
      const challenge = await this.#receive(socket);
      if (challenge?.t !== 'challenge') {
        // No answer: the master is down, or its door refused the key (not accepted there): enrol again.
        this.#accepted = false;
        return 'failed';
      }
      this.#session = { key: sessionKey(this.#key, challenge.nonce), seq: -1 };
      this.#send({ v: WIRE_VERSION, t: 'hello', id: this.#o.id, grains: this.#o.grains(), running: [] });
      const welcome = await this.#receive(socket);
      if (welcome?.t !== 'welcome') {
        // No welcome: the master is down, or its door refused the key (not accepted there): enrol again.
        this.#accepted = false;
        return 'failed';
      }
      this.#state = 'connected';
      // The master heartbeats every connection at the interval it announces; silence for a few of
      // them means it is gone.
      const silentAfter = welcome.heartbeatMs * this.#o.missedHeartbeats;
      socket.receiveTimeout = silentAfter;
      this.#o.log.info({ master: describeMaster(master), masterId: welcome.masterId }, 'connected');
      for (const pending of this.#outbox.pending()) this.#send(pending);
      for (const request of this.#requests.values()) this.#send(request.message);
      // The order may have changed while this connection was being made: settle where it belongs.
      this.reorder();
      // Seldom: the master learns of a dead minion from its connection; this only shows that the
      // minion itself (not just its socket) is alive.
      heartbeat = setInterval(
        () => this.#send({ v: WIRE_VERSION, t: 'heartbeat', id: this.#o.id, at: Date.now() }),
        this.#o.aliveIntervalMs,
      );
      for (;;) {
        const message = await this.#receive(socket);
        if (this.#stopped) return 'again';
        // A deliberate leave closed the socket: not a failure, and not to be logged as one.
        if (message === undefined && this.#leaving) return 'again';
        if (message === undefined) {
          this.#o.log.warn(
            { master: describeMaster(master), silentMs: silentAfter },
            'master stopped answering; failing over',
          );
          return 'failed';
        }
        switch (message.t) {
          case 'job':
            void this.#runJob(message);
            break;
          case 'ack':
            this.#outbox.acknowledge(message.jid);
            break;
          case 'reply': {
            const pending = this.#requests.get(message.req);
            if (pending !== undefined) {
              this.#requests.delete(message.req);
              clearTimeout(pending.timer);
              pending.resolve(message);
            }
            break;
          }
          case 'masters':
            this.#o.onMasters?.(message.masters);
            if (message.draining === true) {
              this.#o.log.info({ master: describeMaster(master) }, 'master is draining; moving');
              this.#leave(idOf(master));
              return 'again';
            }
            break;
          case 'revoked':
            this.#o.log.warn({ reason: message.reason }, 'the master cut this minion off');
            this.#accepted = false;
            return 'again';
          default:
            break; // heartbeats only prove the master is alive, which receiving already did
        }
      }
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      if (this.#state === 'connected') this.#state = 'disconnected';
      // A deliberate leave closes the socket itself, once its goodbye has gone out.
      if (!this.#leaving) socket.close();
    }
  }

  async #runJob(job: JobMessage): Promise<void> {
    const outcome = await this.#o.runJob(job);
    let message: Extract<MinionMessage, { t: 'return' }> = {
      v: WIRE_VERSION,
      t: 'return',
      id: this.#o.id,
      jid: job.jid,
      fun: job.fun,
      success: outcome.success,
      retcode: outcome.retcode,
      ret: outcome.ret,
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
    };
    // A return its master would refuse (nested too deep, too big) would only earn this minion
    // strikes: it goes as a failed return saying why instead.
    let body = encodeWithin(message);
    if (typeof body === 'string') {
      this.#o.log.warn({ jid: job.jid, fun: job.fun, reason: body }, 'a return over the wire limits was replaced');
      message = { ...message, success: false, retcode: 1, ret: `the return of ${job.fun} was not sent: ${body}` };
      body = encodeMessage(message);
    }
    this.#outbox.add(message);
    if (this.#state === 'connected') this.#sendBody(body);
  }

  /**
   * Sends in order on the current socket, sealed with the connection's session key and the next
   * number (zeromq.js allows one pending send at a time). Nothing is sent before the session exists.
   */
  #send(message: MinionMessage): void {
    let body: Uint8Array;
    try {
      body = encodeMessage(message);
    } catch (err) {
      this.#o.log.warn({ err, type: message.t }, 'a message could not be encoded; not sent');
      return;
    }
    this.#sendBody(body);
  }

  #sendBody(body: Uint8Array): void {
    const socket = this.#socket;
    const session = this.#session;
    if (socket === undefined || session === undefined) return;
    session.seq++;
    const frames = [body, sealMessage(session.key, session.seq, body)];
    // A send on a socket closed meanwhile throws at once: it is a message for a connection that is gone.
    this.#sending = this.#sending.then(async () => {
      try {
        await socket.send(frames);
      } catch {
        // dropped with its connection; returns stay in the outbox until acknowledged
      }
    });
  }

  #backoff(failures: number): number {
    const ceiling = Math.min(this.#o.backoffMaxMs, 100 * 2 ** Math.min(failures, 16));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** The message's body, or why its master would refuse it (a string). */
function encodeWithin(message: MinionMessage): Uint8Array | string {
  try {
    const body = encodeMessage(message);
    if (body.byteLength > MAX_MESSAGE_BYTES) return `${body.byteLength} bytes (the limit is ${MAX_MESSAGE_BYTES})`;
    return scanMsgpack(body, WIRE_LIMITS)?.message ?? body;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function idOf(master: MasterAddress): string {
  return master.id ?? `${master.host}:${master.port}`;
}

function sameMaster(a: MasterAddress, b: MasterAddress): boolean {
  return a.host === b.host && a.port === b.port;
}
