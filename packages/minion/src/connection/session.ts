import { WIRE_VERSION, type Clock, type MasterMessage, type MinionMessage } from '@phoenix/protocol';
import type { MasterAddress } from './master-address.js';
import { MasterSocket, type SocketSettings } from './master-socket.js';

export type WelcomeMessage = Extract<MasterMessage, { t: 'welcome' }>;
type HelloMessage = Extract<MinionMessage, { t: 'hello' }>;

/**
 * Why a session ended, or never began: `gone` — the master's end of the connection is gone (its
 * process died) or it never let this minion in; `silent` — connected, but nothing heard for the
 * allowed number of heartbeats (a frozen or overloaded master); `closed` — closed on this side.
 */
export type SessionEnd = 'gone' | 'silent' | 'closed';

export interface SessionTiming {
  /** The master's heartbeat interval assumed until its welcome announces its own. */
  heartbeatMs: number;
  /** Heartbeats missed before the master counts as silent. */
  missedHeartbeats: number;
}

/**
 * One session with a master's minion port: hello, welcome, then the master's messages until the
 * connection ends. Liveness is judged here: a master's heartbeat is due every interval; when one is
 * late the connection itself is looked at, so a dead master (its connection closed, its port
 * refusing) is left after at most one interval, and a frozen or overloaded one after
 * `missedHeartbeats` of them.
 */
export class MasterSession {
  readonly #socket: MasterSocket;
  readonly #timing: SessionTiming;
  readonly #clock: Clock;
  #heartbeatMs: number;
  #lastHeard: number;
  #admitted = false;

  constructor(settings: SocketSettings, master: MasterAddress, timing: SessionTiming) {
    this.#clock = settings.clock;
    this.#lastHeard = settings.clock.now();
    this.#socket = new MasterSocket(settings, master, 'minion', 'sealed');
    this.#timing = timing;
    this.#heartbeatMs = timing.heartbeatMs;
  }

  /**
   * Knocks, seals the session with the nonce the master answers with, says hello: the master's
   * welcome, or why none came. `patienceMs`: how long a master that is there may take to welcome
   * before it counts as silent (by default the silence allowed once connected);
   * `admittedPatienceMs`, how long once it has let this minion in (see `admitted`): a master
   * taking a herd is alive and working through it, and a new try elsewhere only adds a handshake
   * to another busy master.
   */
  async open(
    hello: HelloMessage,
    patienceMs = this.#silentAfter(),
    admittedPatienceMs = patienceMs,
  ): Promise<WelcomeMessage | SessionEnd> {
    const startedAt = this.#clock.now();
    this.#socket.sendBare({ v: WIRE_VERSION, t: 'knock', id: hello.id });
    const patience = (): number => (this.#admitted ? Math.max(patienceMs, admittedPatienceMs) : patienceMs);
    const challenge = await this.#await('challenge', startedAt, patience);
    if (typeof challenge === 'string') return challenge;
    this.#admitted = true;
    this.#socket.sealWith(challenge.nonce);
    this.#socket.send(hello);
    const welcome = await this.#await('welcome', startedAt, patience);
    if (typeof welcome === 'string') return welcome;
    this.#heartbeatMs = welcome.heartbeatMs;
    this.#lastHeard = this.#clock.now();
    return welcome;
  }

  /** The master's answer of type `t` (anything else before it means nothing), within `patienceMs` of `since`. */
  async #await<T extends 'challenge' | 'welcome'>(
    t: T,
    since: number,
    patienceMs: () => number,
  ): Promise<Extract<MasterMessage, { t: T }> | SessionEnd> {
    for (;;) {
      const message = await this.#socket.receive(this.#heartbeatMs);
      if (this.#socket.closed) return 'closed';
      if (message?.t === t) return message as Extract<MasterMessage, { t: T }>;
      if (message !== undefined) continue;
      // A completed connection: the handshake is done, so the master's door admitted this key.
      if (this.#socket.reachable) this.#admitted = true;
      if (await this.#gone()) return 'gone';
      if (this.#clock.now() - since >= patienceMs()) return 'silent';
    }
  }

  /** The master's next message, or why the session ended. */
  async next(): Promise<MasterMessage | SessionEnd> {
    for (;;) {
      const message = await this.#socket.receive(this.#heartbeatMs);
      if (this.#socket.closed) return 'closed';
      if (message !== undefined) {
        this.#lastHeard = this.#clock.now();
        return message;
      }
      if (await this.#gone()) return 'gone';
      if (this.#clock.now() - this.#lastHeard >= this.#silentAfter()) return 'silent';
    }
  }

  /** Asked only when a heartbeat (or the welcome) is late: is the master's process gone? */
  async #gone(): Promise<boolean> {
    if (this.#socket.reachable) return false;
    return this.#socket.gone(this.#heartbeatMs);
  }

  /**
   * Whether the master let this minion in: the CURVE handshake completed (its door admitted the
   * key) or it answered the knock. A master that is silent after that is busy, and says nothing
   * against the key; one that never completed the handshake may not know the key (or is frozen).
   */
  get admitted(): boolean {
    return this.#admitted;
  }

  /** How long silence may last before the master counts as gone: a few of its heartbeats. */
  get silentAfterMs(): number {
    return this.#silentAfter();
  }

  send(message: MinionMessage): void {
    this.#socket.send(message);
  }

  /** Sends a message already encoded (and checked against the wire's limits). */
  sendBody(body: Uint8Array): void {
    this.#socket.sendBody(body);
  }

  /** Closes once the messages already queued (a goodbye) have gone to ZeroMQ. */
  closeAfterSends(): void {
    this.#socket.closeAfterSends();
  }

  close(): void {
    this.#socket.close();
  }

  #silentAfter(): number {
    return this.#heartbeatMs * this.#timing.missedHeartbeats;
  }
}
