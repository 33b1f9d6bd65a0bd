import { Dealer, Router, type Context } from 'zeromq';
import type { Logger } from 'pino';
import { decodePeerMessage, encodeMessage, WIRE_VERSION, MAX_MESSAGE_BYTES, type PeerMessage } from '@phoenix/protocol';
import type { MasterRecord } from '@phoenix/store';
import type { Refusals } from './limits/refusals.js';

const ZMTP_HEARTBEAT = { heartbeatInterval: 1_000, heartbeatTimeout: 3_000, heartbeatTimeToLive: 3_000 };
/** Minion ids in one presence message at most (the wire's bound). */
const MAX_PRESENCE = 100_000;

/**
 * The connections between masters. Each master binds one router (ZAP domain `peer`: only the
 * cluster key itself may connect, and only masters hold it) and keeps one dealer to every other
 * live master. Sends never block: messages for a peer still connecting wait in its queue; a peer
 * that is gone misses them, and what matters (jobs, returns, keys) is in the tables.
 */
export interface PeerMeshOptions {
  context: Context;
  bind: string;
  port: number;
  masterId: string;
  clusterKeys: { publicKey: string; secretKey: string };
  log: Logger;
  onMessage: (message: PeerMessage) => void;
  /** Every peer is greeted this often (0: only when its link is made), so each can tell the others run. */
  helloEveryMs?: number;
  /** The minions connected to this master now: told to a peer on every link made to it. */
  connectedMinions?: () => readonly string[];
  refusals?: Refusals;
}

export class PeerMesh {
  readonly #o: PeerMeshOptions;
  readonly #router: Router;
  readonly #dealers = new Map<string, { socket: Dealer; endpoint: string }>();
  /** By master: when a message from it last arrived (its greetings come every helloEveryMs). */
  readonly #heard = new Map<string, number>();
  #hello: NodeJS.Timeout | undefined;
  #closed = false;
  port = 0;

  constructor(options: PeerMeshOptions) {
    this.#o = options;
    this.#router = new Router({
      context: options.context,
      curveServer: true,
      curveSecretKey: options.clusterKeys.secretKey,
      zapDomain: 'peer',
      linger: 0,
      maxMessageSize: MAX_MESSAGE_BYTES * 2,
      ...ZMTP_HEARTBEAT,
    });
  }

  async start(): Promise<void> {
    await this.#router.bind(`tcp://${this.#o.bind}:${this.#o.port === 0 ? '*' : this.#o.port}`);
    this.port = Number(/:(\d+)$/.exec(this.#router.lastEndpoint ?? '')?.[1]);
    void this.#serve();
    const every = this.#o.helloEveryMs ?? 0;
    if (every > 0) {
      this.#hello = setInterval(
        () => this.broadcast({ v: WIRE_VERSION, t: 'peer-hello', masterId: this.#o.masterId }),
        every,
      );
      this.#hello.unref();
    }
  }

  /**
   * When a message from `masterId` last arrived over the mesh: a master heard from is running,
   * whatever the masters table says of it (its heartbeat writes may be landing late).
   */
  heardFrom(masterId: string): number | undefined {
    return this.#heard.get(masterId);
  }

  /** Connects to every live master but this one, and lets go of those no longer live. */
  sync(masters: readonly MasterRecord[]): void {
    const wanted = new Map(
      masters
        .filter((m) => m.masterId !== this.#o.masterId && m.ports.peer > 0)
        .map((m) => [m.masterId, `tcp://${m.host}:${m.ports.peer}`]),
    );
    for (const [id, dealer] of this.#dealers) {
      if (wanted.get(id) !== dealer.endpoint) {
        dealer.socket.close();
        this.#dealers.delete(id);
      }
    }
    for (const [id, endpoint] of wanted) {
      if (this.#dealers.has(id)) continue;
      const socket = new Dealer({
        context: this.#o.context,
        curveServerKey: this.#o.clusterKeys.publicKey,
        curvePublicKey: this.#o.clusterKeys.publicKey,
        curveSecretKey: this.#o.clusterKeys.secretKey,
        linger: 0,
        sendTimeout: 0,
        // Queued while the connection is being made (bounded by the high-water mark), so a job
        // forwarded the moment a peer is found is not lost to the handshake.
        sendHighWaterMark: 10_000,
        ...ZMTP_HEARTBEAT,
      });
      socket.connect(endpoint);
      this.#dealers.set(id, { socket, endpoint });
      this.#send(id, { v: WIRE_VERSION, t: 'peer-hello', masterId: this.#o.masterId });
      // A new link may be to a master that missed this one's connect events (it was frozen, or
      // taken for dead and let go): it learns who is here at once.
      const minions = this.#o.connectedMinions?.() ?? [];
      if (minions.length > 0)
        this.#send(id, {
          v: WIRE_VERSION,
          t: 'peer-presence',
          from: this.#o.masterId,
          minions: minions.slice(0, MAX_PRESENCE),
        });
    }
  }

  broadcast(message: PeerMessage): void {
    for (const id of this.#dealers.keys()) this.#send(id, message);
  }

  sendTo(masterId: string, message: PeerMessage): boolean {
    if (!this.#dealers.has(masterId)) return false;
    this.#send(masterId, message);
    return true;
  }

  close(): void {
    this.#closed = true;
    if (this.#hello) clearInterval(this.#hello);
    for (const dealer of this.#dealers.values()) dealer.socket.close();
    this.#dealers.clear();
    this.#router.close();
  }

  #send(masterId: string, message: PeerMessage): void {
    const dealer = this.#dealers.get(masterId);
    if (dealer === undefined) return;
    let body: Uint8Array;
    try {
      body = encodeMessage(message);
    } catch (err) {
      this.#o.log.warn(
        { err, peer: masterId, type: message.t },
        'a peer message could not be encoded; the table carries it',
      );
      return;
    }
    dealer.socket.send(body).catch(() => {
      this.#o.log.debug({ peer: masterId, type: message.t }, 'peer not reachable; the table carries it');
    });
  }

  async #serve(): Promise<void> {
    while (!this.#closed) {
      try {
        for await (const [, body, ...extra] of this.#router) {
          if (body === undefined || extra.length > 0) {
            this.#o.refusals?.count('peer', 'frames');
            continue;
          }
          const decoded = decodePeerMessage(body);
          if (!decoded.ok) {
            this.#o.refusals?.count('peer', decoded.code);
            this.#o.log.warn({ reason: decoded.reason }, 'dropped a peer message');
            continue;
          }
          const message = decoded.message;
          const from = message.t === 'peer-hello' ? message.masterId : 'from' in message ? message.from : undefined;
          if (typeof from === 'string' && from !== this.#o.masterId) {
            this.#heard.delete(from);
            this.#heard.set(from, Date.now());
            // Bounded: the least recently heard go first.
            if (this.#heard.size > 10_000) this.#heard.delete(this.#heard.keys().next().value as string);
          }
          try {
            this.#o.onMessage(decoded.message);
          } catch (err) {
            this.#o.log.error({ err, type: decoded.message.t }, 'peer message handling failed');
          }
        }
        return;
      } catch (err) {
        if (this.#closed) return;
        // The mesh carries jobs and returns: a failed loop listens again rather than going deaf.
        this.#o.log.error({ err }, 'peer socket loop failed; listening again');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}
