import { Router, type Context } from 'zeromq';
import type { Logger } from 'pino';
import { z85Encode } from '@phoenix/protocol';

/** Decides whether a CURVE public key may complete a handshake in a ZAP domain. */
export type ZapPolicy = (domain: string, publicKey: string) => boolean;

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/**
 * The ZAP handler (ZeroMQ RFC 27) of one master's context: libzmq asks it about every CURVE
 * handshake, and it answers from the cluster's key states, so a socket in the `minion` domain only
 * ever completes handshakes with accepted keys. Unknown keys may still reach the `enrol` domain.
 */
export class ZapHandler {
  readonly #socket: Router;
  readonly #policy: ZapPolicy;
  readonly #log: Logger;
  #closed = false;

  constructor(context: Context, policy: ZapPolicy, log: Logger) {
    this.#socket = new Router({ context, linger: 0 });
    this.#policy = policy;
    this.#log = log;
  }

  async start(): Promise<void> {
    await this.#socket.bind(ZAP_ENDPOINT);
    void this.#serve();
  }

  async #serve(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#answerAll();
        return;
      } catch (err) {
        if (this.#closed) return;
        // Without its ZAP handler a master admits nobody: it listens again instead.
        this.#log.error({ err }, 'ZAP handler failed; listening again');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  #allows(domain: string, key: Buffer): boolean {
    try {
      return this.#policy(domain, z85Encode(key));
    } catch (err) {
      this.#log.error({ err, domain }, 'ZAP policy failed; handshake refused');
      return false;
    }
  }

  async #answerAll(): Promise<void> {
    for await (const frames of this.#socket) {
      // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials…]
      const [route, delimiter, version, requestId, domain, address, , mechanism, key] = frames;
      if (route === undefined || delimiter === undefined || version === undefined || requestId === undefined) continue;
      const allowed =
        version.toString() === '1.0' &&
        mechanism?.toString() === 'CURVE' &&
        key?.length === 32 &&
        this.#allows(domain?.toString() ?? '', key);
      if (!allowed) {
        this.#log.debug({ domain: domain?.toString(), address: address?.toString() }, 'handshake refused by ZAP');
      }
      await this.#socket.send([
        route,
        delimiter,
        '1.0',
        requestId,
        allowed ? '200' : '400',
        allowed ? 'OK' : 'Denied',
        '',
        '',
      ]);
    }
  }

  close(): void {
    this.#closed = true;
    this.#socket.close();
  }
}
