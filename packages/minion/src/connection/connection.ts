import type { Context } from 'zeromq';
import type { Logger } from 'pino';
import {
  encodeMessage,
  HELLO_SEEN_MAX,
  MAX_MESSAGE_BYTES,
  messageKey,
  scanMsgpack,
  WIRE_LIMITS,
  WIRE_VERSION,
  type CurveKeyPair,
  type MasterEndpoint,
  type MasterMessage,
  type MinionMessage,
  systemClock,
  type Clock,
} from '@phoenix/protocol';
import { describeMaster, type MasterAddress } from './master-address.js';
import { MasterPool } from './master-pool.js';
import type { SocketSettings } from './master-socket.js';
import { Enrolment, type EnrolmentOutcome } from './enrolment.js';
import { Outbox } from './outbox.js';
import { MasterUnavailableError, RequestTable, type ReplyMessage, type RequestBody } from './requests.js';
import { SeenJobs } from './seen-jobs.js';
import { MasterSession, type WelcomeMessage } from './session.js';
import type { JobOutcome } from '../executor/types.js';

export { MasterUnavailableError, type RequestBody };

type JobMessage = Extract<MasterMessage, { t: 'job' }>;

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
  /** Every listed master failed: the masters table may know live masters the list does not. */
  onExhausted?: () => void;
  /** Told of every change of connection state. */
  onState?: (state: ConnectionState) => void;
  /** A better master must be settled (listed, not failing) this long before the minion moves to it. */
  returnAfterMs: number;
  /** Moves to a better master are spread at random over this window, so minions do not move at once. */
  moveSpreadMs: number;
  /** After a lost connection, the next master is tried after a random share of this. */
  reconnectSpreadMs?: number;
  /** Every timer and reading of the time (the failover policy's too); default the system clock. */
  clock?: Clock;
  /** The failover policy's jitter, [0, 1) like Math.random (the default). */
  random?: () => number;
  log: Logger;
}

/**
 * How many times a failover's allowance a move waits for the better master's welcome, and a
 * connection for the welcome of a master that has let the minion in (see MasterSession.open).
 */
const MOVE_PATIENCE = 3;

export type ConnectionState = 'enrolling' | 'pending' | 'connected' | 'disconnected' | 'stopped';

/**
 * One minion's link to the masters, as a state machine over small parts: the failover policy
 * (MasterPool) says which master to try and when to move; an Enrolment gets the key accepted on a
 * master's enrol port; a MasterSession carries jobs, returns, acks and heartbeats on its minion
 * port and says when the master is gone; the Outbox keeps returns until a master acknowledges
 * them, and the RequestTable file and pillar requests until one answers. The minion never gives
 * up, and what it owes a master follows it to the next one.
 */
export class MinionConnection {
  readonly #o: ConnectionOptions;
  readonly #settings: SocketSettings;
  readonly #outbox = new Outbox();
  readonly #requests = new RequestTable();
  readonly #seen = new SeenJobs();
  /** The time of the last hello: the next one's is later, even if the clock is not (see `at` in hello). */
  #lastHelloAt = 0;
  readonly #pool: MasterPool;
  #current: ConnectionState = 'disconnected';
  /** The master being visited (enrolling on, connecting to, or connected to). */
  #master: MasterAddress | undefined;
  #session: MasterSession | undefined;
  #enrolment: Enrolment | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  /** Set once a master said the key is accepted; cleared when a master refuses the connection. */
  #accepted = false;
  /** Masters in a row that kept this minion's handshake from completing (see #serve). */
  #keptOut = 0;
  /** The current connection is being closed on purpose (a move, a drain): not a failure. */
  #leaving = false;
  #moveTimer: unknown;
  /** A move under way: a session being opened with a better master while the current one serves. */
  #moving: MasterSession | undefined;
  /** A move made: the session the loop serves next, once the current one has said goodbye. */
  #adopt: { master: MasterAddress; session: MasterSession; welcome: WelcomeMessage } | undefined;
  readonly #clock: Clock;

  constructor(options: ConnectionOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#settings = {
      clusterPublicKey: options.clusterPublicKey,
      keyPair: options.keyPair,
      messageKey: messageKey(options.keyPair.secretKey, options.clusterPublicKey),
      ...(options.context === undefined ? {} : { context: options.context }),
      log: options.log,
      clock: this.#clock,
    };
    this.#pool = new MasterPool({
      settleMs: options.returnAfterMs,
      spreadMs: options.moveSpreadMs,
      backoffMaxMs: options.backoffMaxMs,
      ...(options.reconnectSpreadMs === undefined ? {} : { reconnectSpreadMs: options.reconnectSpreadMs }),
      clock: this.#clock,
      ...(options.random === undefined ? {} : { random: options.random }),
    });
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
   * The failover order changed (the manager calls this). A wait for the next attempt ends (the new
   * list may hold a master to try); a connected minion stays where it is unless its master left the
   * list (it moves at once) or a better master has settled (it moves then; see MasterPool).
   */
  reorder(): void {
    this.#pool.setOrder(this.#o.masters());
    this.#wake?.();
    this.#settle();
  }

  /** Stays, leaves, or arms the move to a better master; the timer asks again when it fires. */
  #settle(): void {
    this.#clock.clearTimeout(this.#moveTimer);
    this.#moveTimer = undefined;
    const current = this.#master;
    if (this.#state !== 'connected' || current === undefined || this.#leaving) return;
    const placement = this.#pool.placement(current);
    if (placement.action === 'stay') return;
    if (placement.action === 'leave') {
      this.#o.log.info({ master: describeMaster(current) }, 'master left the list; moving');
      this.#leave();
      return;
    }
    if (placement.inMs <= 0) {
      this.#moveTo(current, placement.to);
      return;
    }
    this.#moveTimer = this.#clock.setTimeout(() => this.#settle(), placement.inMs);
    (this.#moveTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Moves to a better master make before they break: the session with `to` is opened while the
   * current one goes on serving, and only once `to` has welcomed this minion is the current master
   * told goodbye. A master that does not answer in time (busy, or not yet itself again after a
   * freeze) costs nothing but a later try: the minion is never left between masters by a move,
   * where a job sent meanwhile would wait for its hello.
   */
  #moveTo(current: MasterAddress, to: MasterAddress): void {
    if (this.#moving !== undefined || this.#adopt !== undefined) return;
    this.#o.log.info({ from: describeMaster(current), to: describeMaster(to) }, 'moving to the preferred master');
    const session = new MasterSession(this.#settings, to, {
      heartbeatMs: this.#o.heartbeatMs,
      missedHeartbeats: this.#o.missedHeartbeats,
    });
    this.#moving = session;
    // More patience than a failover has: the current master serves meanwhile, and a move given up
    // on is tried again with a new handshake, more work for a master busy welcoming a herd (a
    // master just back from a freeze, or new in a restart storm: 1,895 of 4,282 moves in one chaos
    // run at N=1,000 got no welcome within three heartbeats).
    void session.open(this.#hello(), session.silentAfterMs * MOVE_PATIENCE).then(
      (welcome) => this.#moved(current, to, session, welcome),
      (err: unknown) => {
        this.#o.log.warn({ err, master: describeMaster(to) }, 'connection failed');
        this.#moved(current, to, session, 'gone');
      },
    );
  }

  #moved(
    current: MasterAddress,
    to: MasterAddress,
    session: MasterSession,
    welcome: WelcomeMessage | 'gone' | 'silent' | 'closed',
  ): void {
    if (this.#moving === session) this.#moving = undefined;
    const stillHere = !this.#stopped && !this.#leaving && this.#state === 'connected' && this.#master === current;
    if (typeof welcome === 'string' || !stillHere) {
      session.close();
      if (typeof welcome === 'string' && welcome !== 'closed' && stillHere) {
        // Not now: the pool says when to try again; the minion stays where it is meanwhile. A master
        // that is there but slow to welcome (just back from a freeze, or busy with a surge) is tried
        // again after a short backoff; one whose process is gone settles afresh.
        this.#o.log.info({ master: describeMaster(to), why: welcome }, 'the preferred master did not answer; staying');
        if (welcome === 'silent') this.#pool.moveFailed(to);
        else this.#pool.failed(to);
        this.#settle();
      }
      return;
    }
    this.#adopt = { master: to, session, welcome };
    this.#leave();
  }

  #hello(): Extract<MinionMessage, { t: 'hello' }> {
    return {
      v: WIRE_VERSION,
      t: 'hello',
      id: this.#o.id,
      grains: this.#o.grains(),
      running: [],
      seen: this.#seen.newest(HELLO_SEEN_MAX),
      at: (this.#lastHelloAt = Math.max(Math.floor(this.#clock.now()), this.#lastHelloAt + 1)),
    };
  }

  /** Closes the current connection on purpose: the loop connects again from the top of the order. */
  #leave(): void {
    this.#leaving = true;
    this.#closeSaying();
  }

  /** Closes the connection, first telling a connected master so it drops the session at once. */
  #closeSaying(): void {
    this.#enrolment?.close();
    const session = this.#session;
    if (session === undefined) return;
    if (this.#current !== 'connected') {
      session.close();
      return;
    }
    session.send({ v: WIRE_VERSION, t: 'bye', id: this.#o.id });
    session.closeAfterSends();
  }

  async stop(): Promise<void> {
    this.#clock.clearTimeout(this.#moveTimer);
    this.#stopped = true;
    this.#moving?.close();
    this.#adopt?.session.close();
    this.#adopt = undefined;
    this.#closeSaying();
    this.#state = 'stopped';
    this.#requests.failAll('the minion is stopping');
    this.#wake?.();
    await this.#loop;
  }

  /**
   * Asks a master (its file server, or for this minion's pillar) and waits for the reply; asked
   * again of the next master after a failover. It fails when no master answered in time; the caller
   * then falls back to what it cached.
   */
  request(body: RequestBody, timeoutMs: number): Promise<ReplyMessage> {
    if (this.#stopped) return Promise.reject(new MasterUnavailableError('the minion is stopping'));
    const { message, reply } = this.#requests.add(
      timeoutMs,
      (req) => ({ ...body, v: WIRE_VERSION, id: this.#o.id, req }) as MinionMessage,
    );
    if (this.#state === 'connected') this.#send(message);
    return reply;
  }

  /** Sends an event of this minion's (event.send) to its master; false when none is connected. */
  sendEvent(tag: string, data: Record<string, unknown>): boolean {
    if (this.#state !== 'connected') return false;
    this.#send({ v: WIRE_VERSION, t: 'event', id: this.#o.id, tag, data });
    return true;
  }

  /** Tells the connected master about changed grains at once, so the next job can target them. */
  grainsChanged(): void {
    if (this.#state === 'connected')
      this.#send({ v: WIRE_VERSION, t: 'grains', id: this.#o.id, grains: this.#o.grains() });
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#pool.setOrder(this.#o.masters());
      const adopted = this.#adopt;
      if (adopted !== undefined) {
        // A move made: the session the better master already welcomed carries on from here.
        this.#adopt = undefined;
        this.#master = adopted.master;
        const outcome = await this.#serve(adopted.master, adopted).catch((err: unknown) => {
          this.#o.log.warn({ err, master: describeMaster(adopted.master) }, 'connection failed');
          return 'failed' as const;
        });
        if (this.#stopped) break;
        if (this.#leaving) this.#leaving = false;
        else if (outcome === 'lost') this.#pool.lost(adopted.master);
        else if (outcome === 'failed') this.#pool.failed(adopted.master);
        continue;
      }
      const choice = this.#pool.next();
      if (choice.master === undefined) {
        this.#pool.nothingListed();
        this.#readTableIfExhausted();
        this.#o.log.warn('no master is known; waiting for the master list');
        await this.#pause(this.#pool.next().waitMs);
        continue;
      }
      if (choice.waitMs > 0) {
        // Every listed master failed lately: a wait, ended early by a new list.
        await this.#pause(choice.waitMs);
        continue;
      }
      const master = choice.master;
      this.#master = master;
      const outcome = await this.#visit(master).catch((err: unknown) => {
        this.#o.log.warn({ err, master: describeMaster(master) }, 'connection failed');
        return 'failed' as const;
      });
      if (this.#stopped) break;
      if (this.#leaving) {
        this.#leaving = false;
        continue;
      }
      if (outcome === 'failed' || outcome === 'lost') {
        // The next listed master that has not failed is tried at once (the pool says which), or,
        // after a lost connection, after a random share of the reconnect spread.
        if (outcome === 'lost') this.#pool.lost(master);
        else this.#pool.failed(master);
        this.#readTableIfExhausted();
      }
    }
    this.#state = 'stopped';
  }

  #readTableIfExhausted(): void {
    if (!this.#pool.takeTableRead()) return;
    this.#o.log.info(
      { masters: this.#pool.order.map(describeMaster) },
      'no listed master answers; reading the masters table',
    );
    this.#o.onExhausted?.();
  }

  /** Enrols if needed, then serves one connection until it fails or the minion stops. */
  async #visit(master: MasterAddress): Promise<'failed' | 'lost' | 'again'> {
    if (!this.#accepted) {
      const state = await this.#enrol(master);
      if (this.#stopped) return 'again';
      if (state === 'unreachable') return 'failed';
      if (state === 'waited') return 'again'; // the enrolment already waited a full retry interval
      if (state !== 'accepted') {
        this.#o.log.warn({ state, master: describeMaster(master) }, 'key not accepted; asking again later');
        await this.#pause(this.#o.enrolRetryMs);
        return 'again';
      }
      this.#accepted = true;
    }
    return this.#serve(master);
  }

  async #enrol(master: MasterAddress): Promise<EnrolmentOutcome> {
    this.#state = 'enrolling';
    const enrolment = new Enrolment(this.#settings, master);
    this.#enrolment = enrolment;
    try {
      return await enrolment.run(
        {
          id: this.#o.id,
          grains: this.#o.grains(),
          ...(this.#o.identity === undefined ? {} : { identity: this.#o.identity }),
          answerMs: this.#o.heartbeatMs * this.#o.missedHeartbeats,
          waitMs: this.#o.enrolRetryMs,
          onWaiting: (state) => {
            this.#state = 'pending';
            this.#o.log.info({ master: describeMaster(master), state }, `key ${state}; waiting for acceptance`);
          },
        },
        this.#o.keyPair.publicKey,
      );
    } finally {
      this.#enrolment = undefined;
    }
  }

  async #serve(
    master: MasterAddress,
    adopted?: { session: MasterSession; welcome: WelcomeMessage },
  ): Promise<'failed' | 'lost' | 'again'> {
    const session =
      adopted?.session ??
      new MasterSession(this.#settings, master, {
        heartbeatMs: this.#o.heartbeatMs,
        missedHeartbeats: this.#o.missedHeartbeats,
      });
    this.#session = session;
    let alive: unknown;
    try {
      const welcome =
        adopted?.welcome ??
        (await session.open(this.#hello(), session.silentAfterMs, session.silentAfterMs * MOVE_PATIENCE));
      if (welcome === 'closed') return 'again';
      if (typeof welcome === 'string') {
        // No welcome. A master that is gone, or that let this minion in and is too busy to welcome
        // it, says nothing against the key: the next master is tried with it. Only when every
        // listed master in a row kept the handshake from completing (they do not know the key, or
        // are frozen) is the key's state asked for again, by enrolling: re-enrolling a fleet at a
        // busy master is what kept 331 of 1,000 minions out for 35 s in a restart storm.
        if (welcome === 'silent' && !session.admitted && ++this.#keptOut >= this.#pool.order.length) {
          this.#accepted = false;
          this.#keptOut = 0;
        }
        this.#o.log.warn(
          { master: describeMaster(master), why: welcome, admitted: session.admitted },
          'no welcome from the master',
        );
        return 'failed';
      }
      this.#keptOut = 0;
      this.#pool.connected(master);
      this.#state = 'connected';
      this.#o.log.info({ master: describeMaster(master), masterId: welcome.masterId }, 'connected');
      for (const pending of this.#outbox.pending()) session.send(pending);
      for (const request of this.#requests.messages()) session.send(request);
      // The order may have changed while this connection was being made: settle where it belongs.
      this.#settle();
      // Seldom: the master learns of a dead minion from its connection; this only shows that the
      // minion itself (not just its socket) is alive.
      const beat = (): void => {
        session.send({ v: WIRE_VERSION, t: 'heartbeat', id: this.#o.id, at: this.#clock.now() });
        alive = this.#clock.setTimeout(beat, this.#o.aliveIntervalMs);
      };
      alive = this.#clock.setTimeout(beat, this.#o.aliveIntervalMs);
      for (;;) {
        const message = await session.next();
        // Closed here: a deliberate leave, or the minion is stopping; not a failure.
        if (this.#stopped || message === 'closed') return 'again';
        if (message === 'gone' || message === 'silent') {
          this.#o.log.warn(
            { master: describeMaster(master), why: message, silentMs: session.silentAfterMs },
            message === 'gone'
              ? 'lost the connection to the master; failing over'
              : 'master stopped answering; failing over',
          );
          return 'lost';
        }
        switch (message.t) {
          case 'job':
            this.#onJob(message);
            break;
          case 'ack':
            if (this.#outbox.acknowledge(message.jid)) this.#o.log.debug({ jid: message.jid }, 'return acknowledged');
            break;
          case 'reply':
            this.#requests.resolve(message);
            break;
          case 'masters':
            this.#o.onMasters?.(message.masters);
            if (message.draining === true) {
              this.#o.log.info({ master: describeMaster(master) }, 'master is draining; moving');
              this.#pool.avoid(master);
              this.#leave();
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
      this.#clock.clearTimeout(alive);
      this.#clock.clearTimeout(this.#moveTimer);
      this.#moveTimer = undefined;
      if (this.#state === 'connected') this.#state = 'disconnected';
      if (this.#session === session) this.#session = undefined;
      // A deliberate leave already asked for a close after its goodbye; then this does nothing.
      session.close();
    }
  }

  /** A job runs once per jid: one sent again (after a failover, or two ways at once) does not run again. */
  #onJob(job: JobMessage): void {
    if (this.#seen.add(job.jid)) {
      void this.#runJob(job);
      return;
    }
    // Its return, if no master has acknowledged it yet, goes to this master now.
    const pending = this.#outbox.get(job.jid);
    if (pending !== undefined) this.#send(pending);
    this.#o.log.debug({ jid: job.jid }, 'job already seen; not run again');
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
    if (this.#state === 'connected') this.#session?.sendBody(body);
  }

  #send(message: MinionMessage): void {
    this.#session?.send(message);
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#clock.clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = this.#clock.setTimeout(done, ms);
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
