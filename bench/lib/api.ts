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
   * just before submission to each return's `receivedAt` (the master's clock; same machine), and
   * `allMs` to when the client saw the stream's `done`.
   */
  async runJob(
    target: string,
    fun: string,
    timeoutMs: number,
  ): Promise<{ expected: number; latencies: number[]; allMs: number }> {
    const start = Date.now();
    const startHr = process.hrtime.bigint();
    const { jid, minions } = await this.#call<{ jid: string; minions: string[] }>('POST', '/api/v1/jobs', {
      target,
      fun,
      timeoutMs,
    });
    const response = await fetch(`${this.base}/api/v1/jobs/${jid}/stream?timeoutMs=${timeoutMs}`, {
      headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' },
      signal: AbortSignal.timeout(timeoutMs + 10_000),
    });
    if (!response.ok || response.body === null) throw new Error(`stream ${jid}: ${response.status}`);
    const latencies: number[] = [];
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
          latencies.push((JSON.parse(data) as { receivedAt: number }).receivedAt - start);
        } else if (name === 'done') done = true;
      }
      if (done) break;
    }
    const allMs = Number(process.hrtime.bigint() - startHr) / 1e6;
    return { expected: minions.length, latencies, allMs };
  }
}
