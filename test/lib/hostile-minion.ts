import { Dealer } from 'zeromq';
import {
  decodeMasterMessage,
  encodeMessage,
  generateCurveKeyPair,
  messageKey,
  sealMessage,
  sessionKey,
  signMessage,
  type CurveKeyPair,
  type MasterMessage,
  type MinionMessage,
} from '@phoenix/protocol';

/** Where a hostile client finds a master: its enrol and minion ports on loopback. */
export interface MasterPorts {
  readonly ports: { readonly enrol: number; readonly minion: number };
}

/** Frames as they went out, so a test can replay them elsewhere. */
export type Frames = readonly [Uint8Array, ...Uint8Array[]];

/**
 * A minion that speaks the real wire protocol by hand, over real ZeroMQ with CURVE, and does what
 * a real minion never would: sends arbitrary (but correctly signed) bytes, floods, replays. It is
 * accepted the honest way — it enrols, and the test accepts its key through the API — so what it
 * sends carries a real accepted key.
 */
export class HostileMinion {
  readonly id: string;
  readonly keyPair: CurveKeyPair;
  readonly #clusterPublicKey: string;
  readonly #key: Buffer;
  #socket: Dealer | undefined;
  /** The current connection's session key and the last sequence number used on it. */
  #session: { key: Buffer; seq: number } | undefined;
  /** Messages received on the current connection, oldest first (bounded). */
  readonly received: MasterMessage[] = [];
  /** When each of `received` arrived (performance.now()), for ordering across clients. */
  readonly receivedAt: number[] = [];
  /** Everything sent on the current connection, in order. */
  readonly sent: Frames[] = [];
  #waiters = new Set<() => void>();

  constructor(id: string, clusterPublicKey: string, keyPair: CurveKeyPair = generateCurveKeyPair()) {
    this.id = id;
    this.keyPair = keyPair;
    this.#clusterPublicKey = clusterPublicKey;
    this.#key = messageKey(keyPair.secretKey, clusterPublicKey);
  }

  /** One signed enrolment on `master`'s enrol port; resolves with the state the master answers. */
  async enrol(master: MasterPorts, timeoutMs = 5_000): Promise<string | undefined> {
    const socket = this.#dealer();
    try {
      socket.receiveTimeout = timeoutMs;
      socket.connect(`tcp://127.0.0.1:${master.ports.enrol}`);
      const body = encodeMessage({ v: 1, t: 'enrol', id: this.id, publicKey: this.keyPair.publicKey });
      await socket.send([body, signMessage(this.#key, body)]);
      const [reply] = await socket.receive();
      const decoded = decodeMasterMessage(reply ?? Buffer.alloc(0));
      return decoded.ok && decoded.message.t === 'enrolment' ? decoded.message.state : undefined;
    } catch {
      return undefined;
    } finally {
      socket.close();
    }
  }

  /**
   * Enrols `count` made-up ids (`<prefix>-<n>`) with this minion's key, all on one connection to
   * `master`'s enrol port, as fast as the socket takes them; waits (bounded) for the answers and
   * counts them by state. A real minion enrols one id, once per connection.
   */
  async enrolFlood(
    master: MasterPorts,
    count: number,
    prefix: string,
    timeoutMs = 30_000,
    /** The answers are taken as all in once none came for this long. */
    quietMs = 2_000,
  ): Promise<{ sent: number; answers: Record<string, number> }> {
    const socket = this.#dealer();
    const answers: Record<string, number> = {};
    let answered = 0;
    try {
      socket.connect(`tcp://127.0.0.1:${master.ports.enrol}`);
      const listening = (async () => {
        socket.receiveTimeout = quietMs;
        for (;;) {
          let reply: Buffer | undefined;
          try {
            [reply] = await socket.receive();
          } catch {
            return; // quiet for quietMs, or closed
          }
          const decoded = decodeMasterMessage(reply ?? Buffer.alloc(0));
          const state = decoded.ok && decoded.message.t === 'enrolment' ? decoded.message.state : 'other';
          answers[state] = (answers[state] ?? 0) + 1;
          if (++answered >= count) return;
        }
      })();
      for (let i = 0; i < count; i++) {
        const body = encodeMessage({ v: 1, t: 'enrol', id: `${prefix}-${i}`, publicKey: this.keyPair.publicKey });
        await socket.send([...this.signed(body)]);
      }
      await Promise.race([listening, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
      return { sent: count, answers };
    } finally {
      socket.close();
    }
  }

  /**
   * Opens a connection to `master`'s minion port without saying anything yet: `knock` then gets the
   * connection's nonce. For replays: frames captured elsewhere can be sent on it as they are.
   */
  open(master: MasterPorts): void {
    this.close();
    const socket = this.#dealer();
    this.#socket = socket;
    this.#session = undefined;
    this.received.length = 0;
    this.receivedAt.length = 0;
    this.sent.length = 0;
    socket.connect(`tcp://127.0.0.1:${master.ports.minion}`);
    void this.#listen(socket);
  }

  /** Asks for this connection's nonce and derives its session key, as a real minion does. */
  async knock(timeoutMs = 5_000): Promise<boolean> {
    await this.sendFrames([encodeMessage({ v: 1, t: 'knock', id: this.id })]);
    const challenge = await this.waitFor((m) => m.t === 'challenge', timeoutMs).catch(() => undefined);
    if (challenge?.t !== 'challenge') return false;
    this.#session = { key: sessionKey(this.#key, challenge.nonce), seq: -1 };
    return true;
  }

  /**
   * Opens a connection to `master`'s minion port and says hello as this minion, as a real minion
   * does (knock, challenge, sealed hello); resolves with the welcome, or undefined when none came
   * (the key is not accepted there, or the master refused).
   */
  async connect(master: MasterPorts, timeoutMs = 5_000): Promise<MasterMessage | undefined> {
    this.open(master);
    if (!(await this.knock(timeoutMs))) return undefined;
    await this.send({ v: 1, t: 'hello', id: this.id, grains: { hostile: true }, running: [] });
    return this.waitFor((m) => m.t === 'welcome', timeoutMs).catch(() => undefined);
  }

  /** Encodes, seals and sends one message on the current connection. */
  send(message: MinionMessage | Record<string, unknown>): Promise<void> {
    return this.sendBody(encodeMessage(message as MinionMessage));
  }

  /**
   * Seals and sends arbitrary bytes as a message body (what the codec itself would never produce)
   * with the connection's next sequence number, or with `seq` when given.
   */
  async sendBody(body: Uint8Array, seq?: number): Promise<void> {
    const session = this.#session;
    if (session === undefined) throw new Error(`${this.id} has no session: knock first`);
    session.seq = seq ?? session.seq + 1;
    await this.sendFrames([body, sealMessage(session.key, session.seq, body)]);
  }

  /** Frames for the enrol port, signed with the minion's own key (enrolment has no session). */
  signed(body: Uint8Array): Frames {
    return [body, signMessage(this.#key, body)];
  }

  /** Sends frames exactly as given (a replay of someone else's, say). */
  async sendFrames(frames: Frames): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) throw new Error(`${this.id} is not connected`);
    this.sent.push(frames);
    await socket.send([...frames]);
  }

  /** The first message received (from now or already) that matches, within `timeoutMs`. */
  waitFor(match: (message: MasterMessage) => boolean, timeoutMs: number): Promise<MasterMessage> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.received.find(match);
        if (found === undefined) return false;
        done();
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.id}: no matching message within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      const wake = (): void => void check();
      if (!check()) this.#waiters.add(wake);
    });
  }

  close(): void {
    this.#socket?.close();
    this.#socket = undefined;
  }

  #dealer(): Dealer {
    return new Dealer({
      curveServerKey: this.#clusterPublicKey,
      curvePublicKey: this.keyPair.publicKey,
      curveSecretKey: this.keyPair.secretKey,
      linger: 0,
      sendHighWaterMark: 100_000,
      // A flood's acknowledgements queue here while this process is busy sending: a master drops a
      // session it cannot send to (mandatory, no wait), which is not what a flood test measures.
      receiveHighWaterMark: 100_000,
      maxMessageSize: 8 * 1024 * 1024,
    });
  }

  async #listen(socket: Dealer): Promise<void> {
    try {
      for await (const [body] of socket) {
        const decoded = decodeMasterMessage(body ?? Buffer.alloc(0));
        if (!decoded.ok || decoded.message.t === 'heartbeat') continue;
        this.received.push(decoded.message);
        this.receivedAt.push(performance.now());
        if (this.received.length > 10_000) {
          this.received.shift();
          this.receivedAt.shift();
        }
        for (const wake of [...this.#waiters]) wake();
      }
    } catch {
      // closed
    }
  }
}

/**
 * The msgpack bytes of a `return` whose `ret` is `depth` arrays nested in each other around a nil:
 * about one byte a level, so 200,000 levels is a ~195 KiB message, far under the size limit.
 */
export function deepReturnBody(id: string, jid: string, depth: number): Buffer {
  const head = encodeMessage({
    v: 1,
    t: 'return',
    id,
    jid,
    fun: 'test.ping',
    success: true,
    retcode: 0,
    startedAt: 0,
    finishedAt: 0,
    ret: null,
  });
  // `ret` is the last field, and nil its last byte: replace that nil with the nesting.
  return Buffer.concat([head.subarray(0, head.length - 1), Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);
}
