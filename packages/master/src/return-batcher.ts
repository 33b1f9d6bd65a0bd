import type { NewReturn } from '@phoenix/store';

interface Waiting {
  readonly ret: NewReturn;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Gathers the returns that arrive within `lingerMs` (or `maxBatch` of them) and stores them with
 * one batch write, so a job's thousand returns cost tens of table requests instead of a thousand.
 * Each caller still learns when its own return is stored: only then is the minion acknowledged.
 */
export class ReturnBatcher {
  readonly #write: (rets: readonly NewReturn[]) => Promise<void>;
  readonly #lingerMs: number;
  readonly #maxBatch: number;
  #queue: Waiting[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    write: (rets: readonly NewReturn[]) => Promise<void>,
    options: { lingerMs?: number; maxBatch?: number } = {},
  ) {
    this.#write = write;
    this.#lingerMs = options.lingerMs ?? 2;
    this.#maxBatch = options.maxBatch ?? 100;
  }

  store(ret: NewReturn): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ret, resolve, reject });
      if (this.#queue.length >= this.#maxBatch) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#lingerMs);
    });
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    // Inside a promise: whatever the write throws, even before it awaits anything, rejects this
    // batch's callers and never escapes the timer that flushed it.
    Promise.resolve(batch.map((waiting) => waiting.ret))
      .then((rets) => this.#write(rets))
      .then(
        () => batch.forEach((waiting) => waiting.resolve()),
        (err: unknown) => batch.forEach((waiting) => waiting.reject(err)),
      );
  }
}
