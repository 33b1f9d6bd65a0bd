/** The few master API calls the bench makes, with the admin token. */
export class BenchApi {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async #call<T>(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /**
   * The master's CPU time in ms as it measures it (process.cpuUsage, microseconds), from its
   * /metrics: /proc's 10 ms ticks can read zero across a few small jobs.
   */
  async cpuMs(): Promise<number> {
    const response = await fetch(`${this.base}/metrics`, {
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
    const text = await response.text();
    const line = /^phoenix_master_process_cpu_seconds_total(?:\{[^}]*\})? (\S+)$/m.exec(text);
    if (line === null) throw new Error('GET /metrics: no phoenix_master_process_cpu_seconds_total');
    return Number(line[1]) * 1000;
  }

  /** Minions connected to each master, as the masters table says (updated every registry heartbeat). */
  async connectedByMaster(): Promise<Map<string, number>> {
    const { masters } = await this.#call<{ masters: Array<{ masterId: string; minionCount: number }> }>(
      'GET',
      '/api/v1/masters',
    );
    return new Map(masters.map((m) => [m.masterId, m.minionCount]));
  }

  /** How many keys matching `match` the masters know, in `state` if given. */
  async keyCount(match: string, state?: 'accepted'): Promise<number> {
    const query = `match=${encodeURIComponent(match)}${state === undefined ? '' : `&state=${state}`}`;
    const { keys } = await this.#call<{ keys: unknown[] }>('GET', `/api/v1/keys?${query}`);
    return keys.length;
  }

  /** Accepts every pending key matching `match` (one call: a thousand keys take a while). */
  async accept(match: string): Promise<void> {
    await this.#call('POST', '/api/v1/keys/accept', { match }, 300_000);
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
  ): Promise<{ jid: string; expected: number; latencies: number[]; allMs: number; duplicates: number }> {
    const start = Date.now();
    const startHr = process.hrtime.bigint();
    const { jid, minions } = await this.submit(target, fun, timeoutMs, args);
    const { firstAt, duplicates } = await this.follow(jid, timeoutMs);
    const allMs = Number(process.hrtime.bigint() - startHr) / 1e6;
    const latencies = [...firstAt.values()].map((at) => at - start);
    return { jid, expected: minions.length, latencies, allMs, duplicates };
  }

  submit(
    target: string,
    fun: string,
    timeoutMs: number,
    args: unknown[] = [],
  ): Promise<{ jid: string; minions: string[] }> {
    return this.#call('POST', '/api/v1/jobs', { target, fun, args, timeoutMs });
  }

  /** A job's event stream to its end: each minion's first return's `receivedAt`, and returns seen again. */
  async follow(jid: string, timeoutMs: number): Promise<{ firstAt: Map<string, number>; duplicates: number }> {
    const response = await fetch(`${this.base}/api/v1/jobs/${jid}/stream?timeoutMs=${timeoutMs}`, {
      headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
      signal: AbortSignal.timeout(timeoutMs + 10_000),
    });
    if (!response.ok || response.body === null) throw new Error(`stream ${jid}: ${response.status}`);
    const firstAt = new Map<string, number>();
    let duplicates = 0;
    const decoder = new TextDecoder();
    let buffered = '';
    let done = false;
    for await (const chunk of response.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      const events = buffered.split('\n\n');
      buffered = events.pop() ?? '';
      for (const event of events) {
        const name = /^event: (.*)$/m.exec(event)?.[1];
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (name === 'return' && data !== undefined) {
          const ret = JSON.parse(data) as { minionId: string; receivedAt: number };
          if (firstAt.has(ret.minionId)) duplicates++;
          else firstAt.set(ret.minionId, ret.receivedAt);
        } else if (name === 'done') done = true;
      }
      if (done) break;
    }
    return { firstAt, duplicates };
  }

  /** The returns stored for a job (whichever master stored them). */
  async returns(jid: string): Promise<Array<{ minionId: string; ret: unknown }>> {
    const { returns } = await this.#call<{ returns: Array<{ minionId: string; ret: unknown }> }>(
      'GET',
      `/api/v1/jobs/${jid}`,
    );
    return returns;
  }

  /** The live masters' ids (as the masters table says). */
  async liveMasters(): Promise<string[]> {
    const { masters } = await this.#call<{ masters: Array<{ masterId: string; liveness: string }> }>(
      'GET',
      '/api/v1/masters',
    );
    return masters.filter((m) => m.liveness === 'live').map((m) => m.masterId);
  }

  /** Each matching minion's master, as the minions table records it (every page). */
  async connectedMasters(match: string): Promise<Map<string, string | undefined>> {
    const found = new Map<string, string | undefined>();
    let cursor: string | undefined;
    do {
      const query = `match=${encodeURIComponent(match)}&limit=1000${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
      const page = await this.#call<{
        minions: Array<{ minionId: string; connectedMaster?: string }>;
        cursor?: string;
      }>('GET', `/api/v1/minions?${query}`);
      for (const minion of page.minions) found.set(minion.minionId, minion.connectedMaster);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return found;
  }
}
