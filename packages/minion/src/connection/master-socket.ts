import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Dealer, type Context } from 'zeromq';
import type { Logger } from 'pino';
import {
  decodeMasterMessage,
  encodeMessage,
  sealMessage,
  sessionKey,
  signMessage,
  MAX_MESSAGE_BYTES,
  type Clock,
  type CurveKeyPair,
  type MasterMessage,
  type MinionMessage,
} from '@phoenix/protocol';
import type { MasterAddress } from './master-address.js';

/** What every socket of one minion shares: its keys, the cluster key it pins, the context. */
export interface SocketSettings {
  clusterPublicKey: string;
  keyPair: CurveKeyPair;
  /** The key this minion signs its messages with (messageKey of its secret and the cluster key). */
  messageKey: Buffer;
  context?: Context;
  log: Logger;
  /** The time and the timers of every judgment of this minion's connections (not ZeroMQ's own). */
  clock: Clock;
}

const ZMTP_HEARTBEAT = { heartbeatInterval: 1_000, heartbeatTimeout: 3_000, heartbeatTimeToLive: 3_000 };

/**
 * A dealer to one master port. `immediate`: messages are queued only on a completed connection
 * (CURVE handshake and the master's admission done), which is what makes `reachable` mean
 * something: it turns false at once when the master's end of the connection is gone, and stays
 * false until a handshake completes.
 */
/** How long a closing socket waits for its queued sends (a goodbye) before it closes anyway. */
const CLOSE_AFTER_SENDS_MS = 500;

function dealer(settings: SocketSettings): Dealer {
  return new Dealer({
    ...(settings.context === undefined ? {} : { context: settings.context }),
    curveServerKey: settings.clusterPublicKey,
    curvePublicKey: settings.keyPair.publicKey,
    curveSecretKey: settings.keyPair.secretKey,
    routingId: randomBytes(16).toString('hex'),
    immediate: true,
    // Long enough to deliver a goodbye on close, short enough never to hold a stop back.
    linger: 200,
    maxMessageSize: MAX_MESSAGE_BYTES + 1024,
    reconnectInterval: 200,
    ...ZMTP_HEARTBEAT,
  });
}

/**
 * How a socket's messages prove who sent them: `signed` (the enrol port) with the minion's key;
 * `sealed` (the minion port) with a key bound to the nonce the master names for this connection and
 * a sequence number, so no message is worth anything on another connection or a second time.
 */
export type Framing = 'signed' | 'sealed';

/**
 * One connection to one port of one master, carrying signed or sealed minion messages out and
 * master messages in. Sends go out in order (zeromq.js allows one pending send at a time); a send
 * on a connection that is gone is dropped with it (what must survive, the outbox and the request
 * table keep). It knows nothing of what the messages mean.
 */
export class MasterSocket {
  readonly #settings: SocketSettings;
  readonly #socket: Dealer;
  readonly #host: string;
  readonly #port: number;
  readonly #framing: Framing;
  /** A sealed socket's session: its key (bound to the master's nonce) and the last number used. */
  #session: { key: Buffer; seq: number } | undefined;
  #sending: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(settings: SocketSettings, master: MasterAddress, port: 'enrol' | 'minion', framing: Framing) {
    this.#settings = settings;
    this.#socket = dealer(settings);
    this.#host = master.host;
    this.#port = port === 'enrol' ? master.enrolPort : master.port;
    this.#framing = framing;
    this.#socket.connect(`tcp://${this.#host}:${this.#port}`);
  }

  /** From now on every message is sealed for the connection the master named `nonce` for. */
  sealWith(nonce: Uint8Array): void {
    this.#session = { key: sessionKey(this.#settings.messageKey, nonce), seq: -1 };
  }

  /**
   * A completed connection exists. False while the handshake is still under way (a busy master),
   * once the master's end is gone, or while a master will not let this minion in: `gone()` tells
   * the gone case apart.
   */
  get reachable(): boolean {
    return !this.#closed && this.#socket.writable;
  }

  /**
   * Whether nothing listens on the master's port any more (its process died: the connection is
   * refused at once). A master that is busy or frozen still accepts at the TCP level, and a host
   * that does not answer within `timeoutMs` is not taken as gone: for those, silence decides.
   */
  gone(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const probe = connect({ host: this.#host, port: this.#port });
      const clock = this.#settings.clock;
      const done = (refused: boolean): void => {
        clock.clearTimeout(timer);
        probe.destroy();
        resolve(refused);
      };
      const timer = clock.setTimeout(() => done(false), timeoutMs);
      probe.once('connect', () => done(false));
      probe.once('error', (err: NodeJS.ErrnoException) =>
        done(err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH'),
      );
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Queues a message behind those before it; one that cannot be encoded is logged and not sent. */
  send(message: MinionMessage): void {
    let body: Uint8Array;
    try {
      body = encodeMessage(message);
    } catch (err) {
      this.#settings.log.warn({ err, type: message.t }, 'a message could not be encoded; not sent');
      return;
    }
    this.sendBody(body);
  }

  /** Queues an encoded message, signed or sealed. A sealed socket sends nothing before its session exists. */
  sendBody(body: Uint8Array): void {
    if (this.#closed) return;
    let proof: Buffer;
    if (this.#framing === 'signed') {
      proof = signMessage(this.#settings.messageKey, body);
    } else {
      const session = this.#session;
      if (session === undefined) return;
      session.seq++;
      proof = sealMessage(session.key, session.seq, body);
    }
    this.#queue([body, proof]);
  }

  /** Queues a message as it is, with no proof: the knock that asks the master for a nonce. */
  sendBare(message: MinionMessage): void {
    if (this.#closed) return;
    this.#queue([encodeMessage(message)]);
  }

  #queue(frames: Array<Uint8Array | Buffer>): void {
    const socket = this.#socket;
    // A send on a socket closed meanwhile throws at once: it is a message for a connection that is gone.
    this.#sending = this.#sending.then(async () => {
      try {
        await socket.send(frames);
      } catch {
        // dropped with its connection
      }
    });
  }

  /** The next master message within `timeoutMs`; undefined on time-out or once closed. */
  async receive(timeoutMs: number): Promise<MasterMessage | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      this.#socket.receiveTimeout = timeoutMs;
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
      } catch {
        return undefined; // timed out, or closed
      }
      const decoded = decodeMasterMessage(frames[0] ?? Buffer.alloc(0));
      if (decoded.ok) return decoded.message;
      this.#settings.log.warn({ reason: decoded.reason }, 'dropped a master message');
    }
  }

  /** Closes once what is queued has been handed to ZeroMQ (linger delivers it, bounded). */
  closeAfterSends(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Bounded: with `immediate`, a send waits for a live connection, and a master that died has
    // none, so a goodbye to it would hold the socket (and the process) open for ever.
    const socket = this.#socket;
    const clock = this.#settings.clock;
    const timer = clock.setTimeout(() => socket.close(), CLOSE_AFTER_SENDS_MS);
    void this.#sending.then(() => {
      clock.clearTimeout(timer);
      socket.close();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
  }
}
