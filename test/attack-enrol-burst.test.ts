import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { acceptOnce, adminEnv, api, everyMasterAnswers, untilAnswers } from './lib/attack.js';
import { startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { HostileMinion } from './lib/hostile-minion.js';

// 10,000 key requests at once, from many connections (a fleet launched together, or someone
// posing as one): the master keeps serving the minion already connected, and every request is
// either a pending key or counted as refused, none silently lost. The senders share this process
// with the devstack, so the ping latency printed is the master's and its table's together.
const CONNECTIONS = 200;
const PER_CONNECTION = 50;
const REQUESTS = CONNECTIONS * PER_CONNECTION;
/** A small per-connection burst, so the table work (in this test's one process) stays seconds. */
const LIMITS = { burst: 4, perSecond: 2 };
/**
 * How long the connected minion's `test.ping` (CLI start included) may take during the burst, as the
 * median of the pings made while it lasts: four quiet pings' worth, and 2 s at least. Its job's two
 * table writes once queued behind the burst's (one connection pool for both), so a ping waited for
 * the burst's end: medians 2.9–5.4 s (one or two pings in all), 0.4–0.5 s quiet. With a pool of
 * their own, 0.3–0.9 s; the first ping of the burst is the slowest (0.8–3.4 s), mostly this
 * process, which holds the table and the 200 senders, catching up.
 */
const pingBoundMs = (quietMs: number): number => Math.max(2_000, 4 * quietMs);
const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
let master: RunningMaster;

const env = (): NodeJS.ProcessEnv => adminEnv(master, dir());

/** Every `phoenix_refused_inputs_total{input="enrol",...}` on the master, summed. */
async function enrolRefusals(): Promise<{ total: number; byReason: Record<string, number> }> {
  const { text } = await api(master, 'GET', '/metrics');
  const byReason: Record<string, number> = {};
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('phoenix_refused_inputs_total{') || !line.includes('input="enrol"')) continue;
    const reason = /reason="([^"]*)"/.exec(line)?.[1] ?? '?';
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    byReason[reason] = count;
    total += count;
  }
  return { total, byReason };
}

const pendingKeys = async (): Promise<number> =>
  json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env())).keys.length;

test('a master and a genuine minion', async () => {
  master = await startMasterProcess(devstack(), dir(), processes, 'm1', undefined, { enrolment: LIMITS });
  await startMinionProcess(devstack(), dir(), processes, 'steady-1', [master]);
  await acceptOnce(env(), 'steady-1');
  await untilAnswers(env(), 'steady-1');
});

test(`${REQUESTS} key requests at once from ${CONNECTIONS} connections: each one a pending key or counted, the minion served`, async () => {
  const quietAt = performance.now();
  await everyMasterAnswers([master], 'steady-1', dir());
  const quietMs = performance.now() - quietAt;
  const refusedBefore = await enrolRefusals();
  const pendingBefore = await pendingKeys();
  const senders = Array.from(
    { length: CONNECTIONS },
    (_, c) => new HostileMinion(`herd-${c}`, devstack().clusterKeys.publicKey),
  );
  const started = performance.now();
  let burstDone = false;
  const burst = Promise.all(
    senders.map((sender, c) => sender.enrolFlood(master, PER_CONNECTION, `herd-${c}`, 30_000, 10_000)),
  ).finally(() => (burstDone = true));
  // The connected minion, asked through the API while the burst lasts (at least one ping).
  const pings: number[] = [];
  while (pings.length === 0 || (!burstDone && pings.length < 30)) {
    const at = performance.now();
    const out = await phoenix(['run', 'steady-1', 'test.ping', '--out', 'json', '--timeout', '10'], env());
    assert.equal(out.code, 0, `a test.ping during the burst: ${out.stdout}${out.stderr}`);
    pings.push(performance.now() - at);
  }
  const floods = await burst;
  const seconds = (performance.now() - started) / 1000;
  const answers: Record<string, number> = {};
  for (const flood of floods)
    for (const [state, count] of Object.entries(flood.answers)) answers[state] = (answers[state] ?? 0) + count;

  // Every request is accounted for: a pending key in the table, or a refusal the master counted.
  let refused = refusedBefore;
  let pending = pendingBefore;
  await waitFor(
    async () => {
      refused = await enrolRefusals();
      pending = await pendingKeys();
      return refused.total - refusedBefore.total + (pending - pendingBefore) >= REQUESTS;
    },
    { what: `all ${REQUESTS} requests pending or counted`, timeoutMs: 60_000 },
  ).catch((err: unknown) => {
    throw new Error(
      `${pending - pendingBefore} pending, refusals ${JSON.stringify(refused.byReason)}, answers ${JSON.stringify(answers)}`,
      { cause: err },
    );
  });
  const counted = refused.total - refusedBefore.total;
  assert.equal(counted + (pending - pendingBefore), REQUESTS, 'each request once');
  assert.ok(
    pending - pendingBefore <= CONNECTIONS * LIMITS.burst + Math.ceil(seconds * CONNECTIONS * LIMITS.perSecond),
  );
  console.log(
    `# ${REQUESTS} key requests in ${seconds.toFixed(1)} s: ${pending - pendingBefore} pending, ${counted} refused and counted ` +
      `${JSON.stringify(Object.fromEntries(Object.entries(refused.byReason).map(([r, n]) => [r, n - (refusedBefore.byReason[r] ?? 0)])))}; ` +
      `answers seen ${JSON.stringify(answers)}; test.ping (CLI included) ${Math.round(quietMs)} ms before, during it: ${pings.map(Math.round).join(', ')} ms`,
  );
  assert.ok(
    median(pings) <= pingBoundMs(quietMs),
    `the connected minion waited on the burst: test.ping took ${pings.map(Math.round).join(', ')} ms during it (median ${Math.round(median(pings))}), ${Math.round(quietMs)} ms before (bound ${Math.round(pingBoundMs(quietMs))} ms)`,
  );
  await everyMasterAnswers([master], 'steady-1', dir());
});
