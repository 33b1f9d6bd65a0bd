import type { MasterView } from '@phoenix/api';
import { ApiClient, fetchTransport } from '@phoenix/api/client';

/** The few master API calls the bench makes, with the admin token, through the API's own client. */
export class BenchApi {
  readonly #client: ApiClient;

  constructor(base: string, token: string) {
    this.#client = new ApiClient({
      transport: fetchTransport(base),
      token,
      failure: ({ status, code, message }) => new Error(`the API answered ${status} ${code ?? ''}: ${message ?? ''}`),
    });
  }

  /**
   * The master's CPU time in ms as it measures it (process.cpuUsage, microseconds), from its
   * /metrics: /proc's 10 ms ticks can read zero across a few small jobs.
   */
  async cpuMs(): Promise<number> {
    const text = await this.#client.call('metrics');
    const line = /^phoenix_master_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m.exec(text);
    if (line === null) throw new Error('GET /metrics: no phoenix_master_process_cpu_seconds_total');
    return Number(line[1]) * 1000;
  }

  /** Minions connected to each master, as the masters table says (updated every registry heartbeat). */
  async connectedByMaster(): Promise<Map<string, number>> {
    const { masters } = await this.#client.call('masters');
    return new Map(masters.map((m) => [m.masterId, m.minionCount]));
  }

  /** How many keys matching `match` the masters know, in `state` if given. */
  async keyCount(match: string, state?: 'accepted'): Promise<number> {
    const { keys } = await this.#client.call('listKeys', {
      query: { match, ...(state === undefined ? {} : { state }) },
    });
    return keys.length;
  }

  /** Accepts every pending key matching `match` (one call: a thousand keys take a while). */
  async accept(match: string): Promise<void> {
    await this.#client.call('changeKeys', { params: { action: 'accept' }, body: { match } }, { timeoutMs: 300_000 });
  }

  /**
   * Submits `fun` to `target` and follows the job's event stream to its end. Latencies are from
   * just before submission to each minion's first return's `receivedAt` (the master's clock; same
   * machine), and `allMs` to when the client saw the stream's `done`; a minion's return seen again
   * on the stream is counted in `duplicates`, never as another answer.
   */
  async runJob(
    target: string,
    fun: string,
    timeoutMs: number,
    args: unknown[] = [],
  ): Promise<{
    jid: string;
    expected: number;
    latencies: number[];
    /** Each answering minion's first return, as the master stamped its arrival. */
    firstAt: Map<string, number>;
    allMs: number;
    duplicates: number;
  }> {
    const start = Date.now();
    const startHr = process.hrtime.bigint();
    const { jid, minions } = await this.submit(target, fun, timeoutMs, args);
    const { firstAt, duplicates } = await this.follow(jid, timeoutMs);
    const allMs = Number(process.hrtime.bigint() - startHr) / 1e6;
    const latencies = [...firstAt.values()].map((at) => at - start);
    return { jid, expected: minions.length, latencies, firstAt, allMs, duplicates };
  }

  async submit(
    target: string,
    fun: string,
    timeoutMs: number,
    args: unknown[] = [],
  ): Promise<{ jid: string; minions: string[]; notConnected: string[] }> {
    const answer = await this.#client.call('submitJob', { body: { target, fun, args, timeoutMs } });
    if (!('jid' in answer)) throw new Error('the API answered a job with a run');
    return answer;
  }

  /** A job's event stream to its end: each minion's first return's `receivedAt`, and returns seen again. */
  async follow(jid: string, timeoutMs: number): Promise<{ firstAt: Map<string, number>; duplicates: number }> {
    const firstAt = new Map<string, number>();
    let duplicates = 0;
    await this.#client.stream(
      'jobStream',
      { params: { jid }, query: { timeoutMs } },
      ({ event, data }) => {
        if (event !== 'return') return;
        if (firstAt.has(data.minionId)) duplicates++;
        else firstAt.set(data.minionId, data.receivedAt);
      },
      { signal: AbortSignal.timeout(timeoutMs + 10_000) },
    );
    return { firstAt, duplicates };
  }

  /** The returns stored for a job (whichever master stored them). */
  async returns(jid: string): Promise<Array<{ minionId: string; ret: unknown }>> {
    const { returns } = await this.#client.call('getJob', { params: { jid } });
    return returns;
  }

  /** Every master's row with its liveness, as the masters table says. */
  async masters(): Promise<MasterView[]> {
    return (await this.#client.call('masters')).masters;
  }

  /** Every master fetches its git roots now; this one answers once its own fetch is done. */
  async updateFileServer(): Promise<void> {
    await this.#client.call('fileServerUpdate');
  }

  /** The live masters' ids (as the masters table says). */
  async liveMasters(): Promise<string[]> {
    const { masters } = await this.#client.call('masters');
    return masters.filter((m) => m.liveness === 'live').map((m) => m.masterId);
  }

  /** Each matching minion's master, as the minions table records it (every page). */
  async connectedMasters(match: string): Promise<Map<string, string | undefined>> {
    const found = new Map<string, string | undefined>();
    let cursor: string | undefined;
    do {
      const page = await this.#client.call('listMinions', {
        query: { match, limit: 1000, ...(cursor === undefined ? {} : { cursor }) },
      });
      for (const minion of page.minions) found.set(minion.minionId, minion.connectedMaster);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return found;
  }
}
