import { after, test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { stopProcess, waitFor } from '@phoenix/devstack/testing';
import { ADMIN_TOKEN, type RunningMaster } from './lib/cluster.js';
import { api, launchChromium, openDashboard, screenshot, skipWithoutChromium as skip } from './lib/dashboard.js';
import { useLifecycleCluster } from './lib/lifecycle-cluster.js';

// An instance as the dashboard follows it through its whole life, on the real path: the
// auto-scaling simulator launches it (a real phoenix-minion), the lifecycle reactor accepts its
// key and runs its first highstate, it moves to another master when its own stops, and a scale-in
// terminates it through the reactor. Its page shows both histories; the table hides it once
// terminated unless the lifecycle filter asks for terminated instances. On the same instance: the
// target preview against the master's own targeting, and what the job history costs. Last, a
// launch whose first highstate fails, abandoned.

const cluster = useLifecycleCluster();
let browser: Browser | undefined;
let page: Page;
let problems: string[];
let second: RunningMaster;
let instanceId: string;

after(async () => {
  await browser?.close();
});

interface Answer {
  minion: { lifecycle?: { state: string }; connectedMaster?: string; connected: boolean };
  history: {
    lifecycle: Array<{ event: string; at: number; by?: string; jid?: string }>;
    masters: Array<{ event: string; masterId: string; at: number }>;
  };
}
const minion = async (id: string): Promise<Answer> =>
  (await api<Answer>(second.api, 'GET', `/minions/${encodeURIComponent(id)}`)).body;

test('an instance launches, is accepted and highstated by the reactor, and goes into service', { skip }, async () => {
  const c = cluster();
  second = await c.addMaster('master-2');
  c.scale(1);
  instanceId = await waitFor(() => c.instances('InService')[0], {
    what: 'an instance continued into service',
    timeoutMs: 90_000,
    intervalMs: 250,
  });
  await waitFor(async () => (await minion(instanceId)).minion.lifecycle?.state === 'in-service', {
    what: `${instanceId} recorded in service`,
    timeoutMs: 30_000,
  });
  const events = (await minion(instanceId)).history.lifecycle.map((e) => e.event);
  assert.deepEqual(events, ['launching', 'key-accepted', 'highstate-started', 'highstate-succeeded', 'in-service']);
});

test(
  'its master stops: the minion moves to the other one, and the move is in its master history',
  { skip },
  async () => {
    const c = cluster();
    const before = await minion(instanceId);
    // Wherever its failover order put it first, it is on master-2 once master-1 is gone.
    await stopProcess(c.master.process, 10_000);
    await waitFor(
      async () => {
        const now = await minion(instanceId);
        return now.minion.connected && now.minion.connectedMaster === 'master-2';
      },
      { what: `${instanceId} connected to master-2`, timeoutMs: 30_000 },
    );
    const masters = (await minion(instanceId)).history.masters;
    assert.ok(before.history.masters.some((e) => e.masterId === 'master-1' && e.event === 'connected'));
    assert.deepEqual(masters.at(-1), { ...masters.at(-1), masterId: 'master-2', event: 'connected' });
    assert.ok(
      masters.findIndex((e) => e.masterId === 'master-1') < masters.findLastIndex((e) => e.masterId === 'master-2'),
      'master-1 before master-2',
    );
  },
);

test('the minion page shows its lifecycle history and its master history, with times', { skip }, async (t) => {
  browser = await launchChromium();
  ({ page, problems } = await openDashboard(browser, second.api, { path: `/ui/#/minions/${instanceId}` }));
  await page.locator(`#minion-page[data-minion-id="${instanceId}"]`).waitFor();
  const lifecycle = page.locator('#minion-lifecycle-history');
  await lifecycle.locator('tr[data-event="in-service"]').waitFor();
  // Newest first, each step in words with its time.
  const steps = await lifecycle
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
  assert.deepEqual(steps, ['in-service', 'highstate-succeeded', 'highstate-started', 'key-accepted', 'launching']);
  const text = await lifecycle.innerText();
  // Either master may run the first highstate (a claim decides) and record the instance in service.
  assert.match(text, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+in service\s+master-[12]/);
  assert.match(text, /first highstate succeeded \d{20}/, 'the first highstate names its job');
  assert.match(text, /key accepted\s+master-[12]/, 'the master that accepted it');
  const masters = page.locator('#minion-master-history');
  await masters.locator('tr[data-master-id="master-2"][data-event="connected"]').first().waitFor();
  assert.ok((await masters.locator('tr[data-master-id="master-1"]').count()) >= 1, 'master-1 is there too');
  assert.match(await masters.locator('tbody tr').first().innerText(), /master-2\s+connected/, 'newest first');
  await screenshot(t, page, 'minion-histories');
});

test(
  "the target preview is the master's own targeting: vouched grains, pcre, compound — and the job agrees",
  { skip },
  async () => {
    await page.goto(`${second.api}/ui/#/`);
    const runner = page.locator('#job-runner');
    const preview = page.locator('#target-preview');
    const type = runner.locator('select[name="targetType"]');
    const target = runner.locator('input[name="target"]');
    // A grain the master vouches for (the instance's group, by the naming convention)…
    await type.selectOption('grain');
    await target.fill('service_group:demo-web');
    await preview.and(page.locator('[data-count="1"]')).waitFor();
    assert.match(await preview.innerText(), new RegExp(`matches 1 accepted minion: ${instanceId}`));
    // …and one it only reports about itself, which targets nothing (as the job would find).
    await target.fill('os:Debian');
    await preview.and(page.locator('[data-count="0"]')).waitFor();
    await type.selectOption('pcre');
    await target.fill('i-[0-9a-f]+$');
    await preview.and(page.locator('[data-count="1"]')).waitFor();
    await type.selectOption('compound');
    await target.fill('G@service_group:demo-web and E@^i- and not L@nobody');
    await preview.and(page.locator('[data-count="1"]')).waitFor();
    await runner.locator('input[name="fun"]').fill('test.ping');
    await runner.locator('input[name="args"]').fill('');
    await runner.locator('button[name="run"]').click();
    const results = page.locator('#job-results[data-finished="true"]');
    await results.waitFor({ timeout: 30_000 });
    const jid = (await results.getAttribute('data-jid')) as string;
    const job = (await api<{ job: { expected: string[]; targetType: string } }>(second.api, 'GET', `/jobs/${jid}`)).body
      .job;
    assert.deepEqual([job.targetType, job.expected], ['compound', [instanceId]], 'the job went where the preview said');
    // A target half changed from one type to another (`*` as a grain) is refused, and the console notes the 400.
    problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('status of 400')));
  },
);

/** The master's read requests of each table so far, from its /metrics. */
async function tableReads(): Promise<Record<string, number>> {
  const text = await (
    await fetch(`${second.api}/metrics`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      signal: AbortSignal.timeout(10_000),
    })
  ).text();
  const reads: Record<string, number> = {};
  for (const match of text.matchAll(/^phoenix_table_read_requests_total\{[^}]*table="(\w+)"[^}]*\} (\d+)/gm)) {
    reads[match[1] as string] = Number(match[2]);
  }
  return reads;
}

test(
  'the job history costs one listing whatever the number of jobs: no read of any job or its returns',
  { skip },
  async (t) => {
    const runJobs = async (n: number): Promise<void> => {
      const jids: string[] = [];
      for (let i = 0; i < n; i++) {
        const answer = await api<{ jid: string }>(second.api, 'POST', '/jobs', {
          target: [instanceId],
          targetType: 'list',
          fun: 'test.ping',
        });
        assert.equal(answer.status, 201);
        jids.push(answer.body.jid);
      }
      // Each job's summary is final on its row once its one minion returned.
      await waitFor(
        async () => {
          const listed = (
            await api<{ jobs: Array<{ jid: string; summary?: { final?: boolean } }> }>(
              second.api,
              'GET',
              '/jobs?limit=100',
            )
          ).body.jobs;
          return jids.every((jid) => listed.find((j) => j.jid === jid)?.summary?.final === true);
        },
        { what: `the summaries of ${n} jobs`, timeoutMs: 30_000 },
      );
    };
    /** Opens the dashboard, waits for every listed job's result, and counts what that cost. */
    const loadHistory = async (): Promise<{
      shown: number;
      getJob: number;
      listJobs: number;
      reads: Record<string, number>;
    }> => {
      const before = await tableReads();
      const tab = await openDashboard(browser as Browser, second.api);
      const asked: string[] = [];
      tab.page.on('request', (request) => asked.push(new URL(request.url()).pathname));
      await tab.page.reload();
      await tab.page
        .locator('#login input[name="token"]')
        .waitFor({ state: 'detached' })
        .catch(() => undefined);
      const rows = tab.page.locator('#job-history tbody tr');
      await waitFor(
        async () => {
          const results = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-result')));
          return results.length > 0 && results.every((r) => r === 'ok') && results.length;
        },
        { what: 'every job in the history with its result', timeoutMs: 20_000 },
      );
      const shown = await rows.count();
      const after = await tableReads();
      await tab.page.context().close();
      const delta = Object.fromEntries(Object.entries(after).map(([table, n]) => [table, n - (before[table] ?? 0)]));
      return {
        shown,
        getJob: asked.filter((path) => /^\/api\/v1\/jobs\/[^/]+$/.test(path)).length,
        listJobs: asked.filter((path) => path === '/api/v1/jobs').length,
        reads: delta,
      };
    };
    await runJobs(2);
    const few = await loadHistory();
    await runJobs(18);
    const many = await loadHistory();
    t.diagnostic(`2 jobs: ${JSON.stringify(few)}; 20 jobs: ${JSON.stringify(many)}`);
    assert.ok(many.shown >= few.shown + 18, `${many.shown} jobs shown, then ${few.shown}`);
    assert.equal(few.getJob, 0, 'no job was read one by one');
    assert.equal(many.getJob, 0, 'no job was read one by one');
    assert.equal(many.listJobs, few.listJobs, 'as many listings for 20 jobs as for 2');
    assert.equal(many.reads.returns ?? 0, 0, 'no returns were read');
    assert.equal(many.reads.returns ?? 0, few.reads.returns ?? 0);
    // The listings' own queries (one per day of retention and page) are all the jobs table is asked.
    assert.ok(
      (many.reads.jobs ?? 0) <= (few.reads.jobs ?? 0) + 4,
      `jobs-table reads do not grow with the jobs (${few.reads.jobs} for 2, ${many.reads.jobs} for 20; a panel that lists once more reads a few: 18 more jobs read one by one would be 18 more)`,
    );
  },
);

test(
  'a scale-in terminates it through the reactor: terminated on its page, hidden by default, shown by the filter',
  { skip },
  async (t) => {
    const c = cluster();
    await page.goto(`${second.api}/ui/#/`);
    const row = page.locator(`#instances tr[data-minion-id="${instanceId}"]`);
    await row.waitFor();
    c.scale(0);
    await waitFor(async () => (await c.stateOf(instanceId)) === undefined, {
      what: `${instanceId} terminated by the simulator`,
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    await waitFor(async () => (await minion(instanceId)).minion.lifecycle?.state === 'terminated', {
      what: `${instanceId} recorded terminated by the reactor`,
      timeoutMs: 30_000,
    });
    // The reactor's events reach the page: the row leaves the default view without a reload.
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    await page.locator('#instances-terminated', { hasText: '+1 terminated, hidden' }).waitFor();
    await page.locator('#instances select[name="lifecycle"]').selectOption('terminated');
    await row.waitFor();
    assert.match(await row.innerText(), /terminated/);
    assert.match(new URL(page.url()).hash, /lifecycle=terminated/, 'the view is in the URL');
    await screenshot(t, page, 'instances-terminated');

    await row.locator('a').click();
    const lifecycle = page.locator('#minion-lifecycle-history');
    await lifecycle.locator('tr[data-event="terminated"]').waitFor();
    const steps = await lifecycle
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
    assert.deepEqual(steps.slice(0, 3), ['terminated', 'terminating', 'in-service']);
    assert.match(await lifecycle.locator('tr[data-event="terminated"]').innerText(), /terminated\s+master-2/);
    assert.deepEqual(problems, []);
  },
);

test('a launch whose first highstate fails is abandoned: its page says so, step by step', { skip }, async (t) => {
  const c = cluster();
  await writeFile(join(c.fileRoot, 'phoenix.sls'), 'broken-on-purpose:\n  cmd.run:\n    - name: exit 3\n');
  c.scale(1);
  const id = await waitFor(() => c.instances('Pending:Wait', 'InService').find((i) => i !== instanceId), {
    what: 'a second instance launching',
    timeoutMs: 30_000,
  });
  await waitFor(async () => (await minion(id)).minion.lifecycle?.state === 'terminated', {
    what: `${id} abandoned, then terminated through the reactor`,
    timeoutMs: 60_000,
  });
  t.diagnostic(`${id}: ${JSON.stringify((await minion(id)).history.lifecycle)}`);
  await page.goto(`${second.api}/ui/#/minions/${id}`);
  const lifecycle = page.locator(`#minion-page[data-minion-id="${id}"] #minion-lifecycle-history`);
  await lifecycle.locator('tr[data-event="abandoned"]').waitFor();
  await lifecycle.locator('tr[data-event="terminated"]').waitFor();
  const steps = await lifecycle
    .locator('tbody tr')
    .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')).reverse());
  assert.deepEqual(steps.slice(0, 5), [
    'launching',
    'key-accepted',
    'highstate-started',
    'highstate-failed',
    'abandoned',
  ]);
  assert.equal(steps.at(-1), 'terminated');
  assert.match(await lifecycle.locator('tr[data-event="abandoned"]').innerText(), /launch abandoned \d{20}\s+master-2/);
  assert.deepEqual(problems, []);
});
