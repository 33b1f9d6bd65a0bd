/** Where a refused input came from: a fixed vocabulary, like the reasons, so metrics stay small. */
export type RefusedInput =
  | 'wire' // a minion's message on the minion port
  | 'enrol' // an enrolment on the enrol port
  | 'peer' // another master's message
  | 'api' // an API request body
  | 'job' // a job's arguments, from the API or a schedule
  | 'sqs' // a lifecycle-queue message
  | 'pillar' // a minion's pillar request
  | 'file' // a minion's file-server request
  | 'stream'; // an API event or job stream

/**
 * Counts inputs refused at this master's boundaries, by where they came from and why (`/metrics`
 * shows them as `phoenix_refused_inputs_total{input,reason}`). Plain counts: the metrics registry
 * reads them, and every part that refuses something needs only this.
 */
export class Refusals {
  readonly #counts = new Map<string, { input: RefusedInput; reason: string; count: number }>();

  count(input: RefusedInput, reason: string): void {
    const key = `${input}\0${reason}`;
    const entry = this.#counts.get(key);
    if (entry === undefined) this.#counts.set(key, { input, reason, count: 1 });
    else entry.count++;
  }

  entries(): ReadonlyArray<{ input: RefusedInput; reason: string; count: number }> {
    return [...this.#counts.values()].map((entry) => ({ ...entry }));
  }
}
