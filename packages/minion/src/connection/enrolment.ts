import { WIRE_VERSION, type KeyState, type MinionMessage } from '@phoenix/protocol';
import type { MasterAddress } from './master-address.js';
import { MasterSocket, type SocketSettings } from './master-socket.js';

export interface EnrolmentRequest {
  id: string;
  grains: Record<string, unknown>;
  identity?: { document: string; signature: string };
  /** How long the master may take to answer (a few heartbeats). */
  answerMs: number;
  /** While the key is pending or rejected, how long to wait for the master's word that it was accepted. */
  waitMs: number;
  /** The master answered that the key is pending (or rejected): the minion waits. */
  onWaiting(state: 'pending' | 'rejected'): void;
}

/**
 * `waited`: the key is still pending after a whole wait. `unreachable`: the master did not answer
 * (its enrol port is gone, or silent).
 */
export type EnrolmentOutcome = KeyState | 'waited' | 'unreachable';

/**
 * Enrolment on one master's enrol port: the minion presents its key (signed, proving it holds the
 * secret half) and learns its state. While the key is pending or rejected it waits, bounded, for
 * the master's word that it was accepted, so an operator's accept lets the minion in at once.
 */
export class Enrolment {
  readonly #socket: MasterSocket;

  constructor(settings: SocketSettings, master: MasterAddress) {
    this.#socket = new MasterSocket(settings, master, 'enrol', 'signed');
  }

  async run(request: EnrolmentRequest, publicKey: string): Promise<EnrolmentOutcome> {
    try {
      const enrol: MinionMessage = {
        v: WIRE_VERSION,
        t: 'enrol',
        id: request.id,
        publicKey,
        grains: request.grains,
      };
      this.#socket.send(enrol);
      let reply = await this.#answer(request.answerMs);
      // The identity document goes back with the master's challenge: signed by this key, it proves
      // the document was presented by the key's holder, on this connection, now (not replayed).
      const challenge = reply?.t === 'enrolment' ? reply.challenge : undefined;
      if (challenge !== undefined && request.identity !== undefined) {
        this.#socket.send({ ...enrol, identity: { ...request.identity, challenge } });
        reply = await this.#answer(request.answerMs);
      }
      if (reply?.t === 'enrolment' && (reply.state === 'pending' || reply.state === 'rejected')) {
        request.onWaiting(reply.state);
        // The master tells us the moment the key is accepted; until then this is a quiet wait.
        reply = await this.#socket.receive(request.waitMs);
        if (reply === undefined) return this.#socket.closed ? 'unreachable' : 'waited';
      }
      if (reply?.t === 'enrolment') return reply.state;
      if (reply?.t === 'revoked') return 'rejected';
      return 'unreachable';
    } finally {
      this.#socket.close();
    }
  }

  close(): void {
    this.#socket.close();
  }

  /** The master's answer; undefined once it is clear none is coming (the port is gone, or silent too long). */
  async #answer(answerMs: number): Promise<Awaited<ReturnType<MasterSocket['receive']>>> {
    const startedAt = Date.now();
    // Probed in steps: a master that is gone is given up on long before a silent one would be.
    const step = Math.max(50, Math.ceil(answerMs / 3));
    for (;;) {
      const message = await this.#socket.receive(step);
      if (message !== undefined || this.#socket.closed) return message;
      if (Date.now() - startedAt >= answerMs) return undefined;
      if (!this.#socket.reachable && (await this.#socket.gone(step))) return undefined;
    }
  }
}
