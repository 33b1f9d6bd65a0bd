import { WIRE_VERSION, type Clock, type KeyState, type MinionMessage } from '@phoenix/protocol';
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

/** Enrolments asked on one connection while the key is pending, before a fresh connection. */
const ENROL_ASKS_PER_CONNECTION = 12;

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
  readonly #clock: Clock;

  constructor(settings: SocketSettings, master: MasterAddress) {
    this.#clock = settings.clock;
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
      const ask = async (): Promise<Awaited<ReturnType<MasterSocket['receive']>>> => {
        this.#socket.send(enrol);
        const answer = await this.#answer(request.answerMs, request.waitMs);
        // The identity document goes back with the master's challenge: signed by this key, it proves
        // the document was presented by the key's holder, on this connection, now (not replayed).
        const challenge = answer?.t === 'enrolment' ? answer.challenge : undefined;
        if (challenge === undefined || request.identity === undefined) return answer;
        this.#socket.send({ ...enrol, identity: { ...request.identity, challenge } });
        return this.#answer(request.answerMs, request.waitMs);
      };
      let reply = await ask();
      // The master tells us the moment the key is accepted; until then this is a quiet wait. The
      // enrolment is asked again on the same connection (a few times, then the caller decides):
      // a fleet waiting for its keys costs the master a message each, not a new CURVE handshake.
      for (
        let asked = 1;
        reply?.t === 'enrolment' && (reply.state === 'pending' || reply.state === 'rejected');
        asked++
      ) {
        request.onWaiting(reply.state);
        const word = await this.#socket.receive(request.waitMs);
        if (word !== undefined) {
          reply = word;
          continue;
        }
        if (this.#socket.closed) return 'unreachable';
        if (asked >= ENROL_ASKS_PER_CONNECTION || !this.#socket.reachable) return 'waited';
        reply = await ask();
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

  /**
   * The master's answer; undefined once it is clear none is coming (the port is gone, or silent too
   * long). A master whose connection stands (the CURVE handshake is done) but which is slow to
   * answer is busy, not gone: it gets `patienceMs` more, so a fleet enrolling at once does not
   * time out, give the master up and come back with a new connection (and a masters-table read),
   * which is what kept a busy master busy.
   */
  async #answer(answerMs: number, patienceMs: number): Promise<Awaited<ReturnType<MasterSocket['receive']>>> {
    const startedAt = this.#clock.now();
    // Probed in steps: a master that is gone is given up on long before a silent one would be.
    const step = Math.max(50, Math.ceil(answerMs / 3));
    for (;;) {
      const message = await this.#socket.receive(step);
      if (message !== undefined || this.#socket.closed) return message;
      const waited = this.#clock.now() - startedAt;
      if (waited >= answerMs + patienceMs || (waited >= answerMs && !this.#socket.reachable)) return undefined;
      if (!this.#socket.reachable && (await this.#socket.gone(step))) return undefined;
    }
  }
}
