import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { phoenix } from './lib/cli.js';

/*
 * The master schedule and the killswitch, cluster-wide: three masters all run the same cron (every
 * two seconds) and each tick fires exactly one state.highstate job, from whichever master claimed
 * it. A minion whose state runs an operator disabled (state.disable) shows as disabled in every
 * master's listing, and scheduled and submitted highstates skip it and say why.
 */

// Processes first: `after` hooks run in the order they were registered, and masters whose
// schedule ticks every second must stop before the local DynamoDB they write to does.
const processes = useProcesses();
const devstack = useDevstack();
const tmp = useTempDir('phoenix-schedule-');

interface Skipped {
  minionId: string;
  reason: string;
}
interface Job {
  jid: string;
  fun: string;
  originMaster: string;
  submitter: string;
  expected: string[];
  skipped?: Skipped[];
  schedule?: { name: string; tickAt: number };
  createdAt: number;
}
interface MinionView {
  minionId: string;
  connected: boolean;
  disabled?: { by: string; at: number; reason: string; source: string };
}
interface Submitted {
  jid: string;
  minions: string[];
  skipped: Skipped[];
  job: Job;
}

async function api<T>(master: RunningMaster, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${master.api}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

const scheduledJobs = async (master: RunningMaster): Promise<Job[]> =>
  (await api<{ jobs: Job[] }>(master, 'GET', '/jobs?limit=1000')).jobs.filter((j) => j.schedule?.name === 'highstate');

/** A job's returns, once every expected minion has returned (bounded). */
const returnsOf = (master: RunningMaster, jid: string) =>
  waitFor(
    async () => {
      const shown = await api<{
        returns: Array<{ minionId: string; success: boolean; ret: unknown }>;
        missing: string[];
      }>(master, 'GET', `/jobs/${jid}`);
      return shown.missing.length === 0 ? shown.returns : undefined;
    },
    { what: `the returns of ${jid}`, timeoutMs: 15_000, intervalMs: 100 },
  );

test(
  'each scheduled tick fires one highstate job from one of three masters; a disabled minion is shown and skipped',
  { timeout: 120_000 },
  async () => {
    const dir = tmp();
    const cloud = devstack();
    const salt = join(dir, 'tree', 'salt');
    const pillar = join(dir, 'tree', 'pillar');
    await mkdir(salt, { recursive: true });
    await mkdir(pillar, { recursive: true });
    await writeFile(join(salt, 'top.sls'), "base:\n  '*':\n    - noop\n");
    await writeFile(join(salt, 'noop.sls'), 'noop:\n  test.succeed_without_changes: []\n');
    const masters = await Promise.all(
      ['m-1', 'm-2', 'm-3'].map((id) =>
        startMasterProcess(cloud, dir, processes, id, undefined, {
          fileRoots: { base: [salt] },
          pillarRoots: { base: [pillar] },
          heartbeatIntervalMs: 500,
          schedule: [
            { name: 'highstate', cron: '*/2 * * * * *', target: '*', function: 'state.highstate', splaySeconds: 1 },
          ],
        }),
      ),
    );
    const [m1, m2, m3] = masters as [RunningMaster, RunningMaster, RunningMaster];
    for (const id of ['web-1', 'web-2']) await startMinionProcess(cloud, dir, processes, id, masters);
    await waitFor(
      async () => {
        await api(m1, 'POST', '/keys/accept', { match: 'web-*' });
        const { minions } = await api<{ minions: MinionView[] }>(m1, 'GET', '/minions');
        return minions.filter((m) => m.connected).length === 2;
      },
      { what: 'both minions to be accepted and connected', timeoutMs: 20_000, intervalMs: 200 },
    );

    // Three ticks that found both minions: each fired once, whichever master won it.
    const fired = await waitFor(
      async () => {
        const jobs = await scheduledJobs(m2);
        return jobs.filter((j) => j.expected.length === 2).length >= 3 ? jobs : undefined;
      },
      { what: 'three scheduled ticks to fire', timeoutMs: 20_000, intervalMs: 250 },
    );
    const byTick = new Map<number, Job[]>();
    for (const job of fired)
      byTick.set(job.schedule?.tickAt ?? -1, [...(byTick.get(job.schedule?.tickAt ?? -1) ?? []), job]);
    for (const [tickAt, jobs] of byTick) {
      assert.equal(jobs.length, 1, `tick ${new Date(tickAt).toISOString()} fired ${jobs.length} jobs`);
      assert.equal(tickAt % 2_000, 0, 'ticks are on the two-second marks');
      const [job] = jobs as [Job];
      assert.equal(job.fun, 'state.highstate');
      assert.ok(['m-1', 'm-2', 'm-3'].includes(job.originMaster));
      assert.equal(job.submitter, `schedule/highstate@${job.originMaster}`);
    }
    const full = fired.find((j) => j.expected.length === 2) as Job;
    assert.deepEqual([...full.expected].sort(), ['web-1', 'web-2']);
    // The job is an ordinary one: every master shows it, and the minions ran the highstate.
    const returns = await returnsOf(m3, full.jid);
    assert.deepEqual(returns.map((r) => r.minionId).sort(), ['web-1', 'web-2']);

    // The killswitch on web-1: every master's listing says who, when and why.
    const disabled = await api<Submitted>(m1, 'POST', '/jobs', {
      target: 'web-1',
      fun: 'state.disable',
      kwargs: { reason: 'maintenance window', by: 'alice' },
    });
    assert.deepEqual(disabled.minions, ['web-1']);
    const [disableReturn] = await returnsOf(m1, disabled.jid);
    assert.equal(disableReturn?.success, true, JSON.stringify(disableReturn?.ret));
    const disabledAt = (disableReturn?.ret as { at: string }).at;
    for (const master of [m3, m2]) {
      const shown = await waitFor(
        async () => {
          const { minions } = await api<{ minions: MinionView[] }>(master, 'GET', '/minions?disabled=true');
          return minions.length > 0 ? minions : undefined;
        },
        { what: `web-1 to show as disabled on ${master.id}`, timeoutMs: 10_000, intervalMs: 100 },
      );
      assert.deepEqual(shown, [
        {
          ...shown[0],
          minionId: 'web-1',
          disabled: { by: 'alice', at: Date.parse(disabledAt), reason: 'maintenance window', source: 'killswitch' },
        },
      ]);
    }
    const listedAt = Date.now();
    const reason = `state runs disabled by alice at ${disabledAt}: maintenance window`;

    // Scheduled highstates from then on skip web-1, whichever master fires them, and record why.
    const skipping = await waitFor(
      async () => {
        const later = (await scheduledJobs(m1)).filter((j) => j.createdAt > listedAt + 500);
        return later.length >= 2 ? later : undefined;
      },
      { what: 'two scheduled ticks after web-1 was disabled', timeoutMs: 15_000, intervalMs: 250 },
    );
    for (const job of skipping) {
      assert.deepEqual(job.expected, ['web-2'], job.jid);
      assert.deepEqual(job.skipped, [{ minionId: 'web-1', reason }], job.jid);
    }

    // A submitted highstate skips it too, and says so; test=True and other functions still reach it.
    const direct = await api<Submitted>(m2, 'POST', '/jobs', { target: '*', fun: 'state.highstate' });
    assert.deepEqual(direct.minions, ['web-2']);
    assert.deepEqual(direct.skipped, [{ minionId: 'web-1', reason }]);
    assert.deepEqual(direct.job.skipped, [{ minionId: 'web-1', reason }]);
    const predicted = await api<Submitted>(m2, 'POST', '/jobs', {
      target: '*',
      fun: 'state.apply',
      kwargs: { test: true },
    });
    assert.deepEqual([...predicted.minions].sort(), ['web-1', 'web-2']);
    assert.deepEqual(predicted.skipped, []);
    const ping = await api<Submitted>(m2, 'POST', '/jobs', { target: '*', fun: 'test.ping' });
    assert.deepEqual([...ping.minions].sort(), ['web-1', 'web-2']);
    // Every selected minion skipped: the job is recorded with who and why, and nothing is sent.
    const alone = await api<Submitted>(m3, 'POST', '/jobs', {
      target: ['web-1'],
      targetType: 'list',
      fun: 'state.sls',
      args: ['noop'],
    });
    assert.deepEqual(alone.minions, []);
    assert.deepEqual(alone.skipped, [{ minionId: 'web-1', reason }]);
    const stored = await api<{ job: Job; missing: string[] }>(m1, 'GET', `/jobs/${alone.jid}`);
    assert.deepEqual(stored.job.skipped, [{ minionId: 'web-1', reason }]);
    assert.deepEqual(stored.missing, []);

    // The operator's view: phoenix run says who was skipped and why (and fails), phoenix minions marks it.
    const cli = { PHOENIX_API: m3.api, PHOENIX_TOKEN: ADMIN_TOKEN };
    const run = await phoenix(['run', 'web-1', 'state.highstate', '--timeout', '5'], cli, 30_000);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stderr, new RegExp(`^web-1: skipped: ${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    const listing = await phoenix(['minions'], cli, 30_000);
    assert.equal(listing.code, 0, listing.stderr);
    assert.match(listing.stdout, /^web-1 .* DISABLED by alice \(maintenance window\)$/m);
    assert.doesNotMatch(listing.stdout, /^web-2 .*DISABLED/m);

    // state.enable lifts it everywhere: the listing clears and highstates reach web-1 again.
    const enabled = await api<Submitted>(m1, 'POST', '/jobs', { target: 'web-1', fun: 'state.enable' });
    assert.deepEqual(enabled.minions, ['web-1']);
    await returnsOf(m1, enabled.jid);
    await waitFor(
      async () => (await api<{ minions: MinionView[] }>(m2, 'GET', '/minions?disabled=true')).minions.length === 0,
      { what: 'web-1 to show as enabled', timeoutMs: 10_000, intervalMs: 100 },
    );
    const again = await waitFor(
      async () => {
        const submitted = await api<Submitted>(m3, 'POST', '/jobs', {
          target: '*',
          fun: 'state.highstate',
          kwargs: { queue: true },
        });
        return submitted.skipped.length === 0 ? submitted : undefined;
      },
      { what: 'a highstate to reach web-1 again', timeoutMs: 10_000, intervalMs: 250 },
    );
    assert.deepEqual([...again.minions].sort(), ['web-1', 'web-2']);
  },
);
