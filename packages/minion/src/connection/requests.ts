import { PhoenixError, type MasterMessage, type MinionMessage } from '@phoenix/protocol';
import { MinionErrors } from '../errors.js';

export type ReplyMessage = Extract<MasterMessage, { t: 'reply' }>;
/** What a caller of `request` fills in; the connection adds the version, the minion id and `req`. */
export type RequestBody =
  | Omit<Extract<MinionMessage, { t: 'file' }>, 'v' | 'id' | 'req'>
  | Omit<Extract<MinionMessage, { t: 'pillar' }>, 'v' | 'id' | 'req'>;

/** The connected master could not be asked: none is connected, it went away, or it did not answer. */
export class MasterUnavailableError extends PhoenixError {
  constructor(message: string) {
    super(MinionErrors.PHX_MINION_MASTER_UNAVAILABLE, message);
    this.name = 'MasterUnavailableError';
  }
}

interface PendingRequest {
  readonly message: MinionMessage;
  resolve(reply: ReplyMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The minion's requests waiting for a master's reply, by request number. Requests only read, so a
 * request whose master is lost is asked again of the next one (`messages()` after a reconnect):
 * a state run survives its master's failover. Each fails alone once its time is up.
 */
export class RequestTable {
  readonly #pending = new Map<number, PendingRequest>();
  #next = 0;

  /** Adds a request; `stamp` makes its message from the number it was given. */
  add(
    timeoutMs: number,
    stamp: (req: number) => MinionMessage,
  ): { message: MinionMessage; reply: Promise<ReplyMessage> } {
    const req = (this.#next = (this.#next + 1) % 2 ** 31);
    const message = stamp(req);
    const reply = new Promise<ReplyMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(req);
        reject(new MasterUnavailableError(`no master answered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(req, { message, resolve, reject, timer });
    });
    return { message, reply };
  }

  /** Hands a reply to its request; false when none waits for it (it timed out, or was never asked). */
  resolve(reply: ReplyMessage): boolean {
    const pending = this.#pending.get(reply.req);
    if (pending === undefined) return false;
    this.#pending.delete(reply.req);
    clearTimeout(pending.timer);
    pending.resolve(reply);
    return true;
  }

  /** Every request still waiting, to be asked again of a new master. */
  messages(): MinionMessage[] {
    return [...this.#pending.values()].map((p) => p.message);
  }

  failAll(reason: string): void {
    for (const [req, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(req);
      pending.reject(new MasterUnavailableError(reason));
    }
  }

  get size(): number {
    return this.#pending.size;
  }
}
