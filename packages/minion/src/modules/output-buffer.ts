/**
 * Collects a child's output up to `limit` bytes and counts the rest, so `cat /dev/urandom` cannot
 * exhaust the minion's memory and the return still fits in one wire message. Chunks are decoded
 * together at the end, so a UTF-8 character split across two reads comes out whole.
 */
export class OutputBuffer {
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #dropped = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(chunk: Buffer): void {
    const room = this.#limit - this.#kept;
    if (room <= 0) {
      this.#dropped += chunk.length;
      return;
    }
    const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#chunks.push(kept);
    this.#kept += kept.length;
    this.#dropped += chunk.length - kept.length;
  }

  text(): string {
    const text = Buffer.concat(this.#chunks).toString('utf8');
    return this.#dropped === 0 ? text : `${text}\n[output truncated: ${this.#dropped} more bytes were dropped]`;
  }
}
