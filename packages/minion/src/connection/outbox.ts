import type { MinionMessage } from '@phoenix/protocol';

type ReturnMessage = Extract<MinionMessage, { t: 'return' }>;

/**
 * Returns not yet acknowledged by a master. Each is kept until an ack names its jid and is sent
 * again after every reconnect; the masters store each (jid, minion) once, so a re-send is harmless.
 */
export class Outbox {
  readonly #pending = new Map<string, ReturnMessage>();

  add(message: ReturnMessage): void {
    this.#pending.set(message.jid, message);
  }

  get(jid: string): ReturnMessage | undefined {
    return this.#pending.get(jid);
  }

  acknowledge(jid: string): boolean {
    return this.#pending.delete(jid);
  }

  pending(): ReturnMessage[] {
    return [...this.#pending.values()];
  }

  get size(): number {
    return this.#pending.size;
  }
}
