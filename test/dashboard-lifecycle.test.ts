import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { stopProcess, waitFor } from '@phoenix/devstack/testing';
import type { RunningMaster } from './lib/cluster.js';
import { api, launchChromium, openDashboard, screenshot, skipWithoutChromium as skip } from './lib/dashboard.js';
import { useLifecycleCluster } from './lib/lifecycle-cluster.js';

// An instance as the dashboard follows it through its whole life, on the real path: the
// auto-scaling simulator launches it (a real phoenix-minion), the lifecycle reactor accepts its
// key and runs its first highstate, it moves to another master when its own stops, and a scale-in
// terminates it through the reactor. Its page shows both histories; the table hides it once
// terminated unless the lifecycle filter asks for terminated instances.

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
  assert.match(text, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+in service\s+master-1/);
  assert.match(text, /first highstate succeeded \d{20}/, 'the first highstate names its job');
  assert.match(text, /key accepted/);
  const masters = page.locator('#minion-master-history');
  await masters.locator('tr[data-master-id="master-2"][data-event="connected"]').first().waitFor();
  assert.ok((await masters.locator('tr[data-master-id="master-1"]').count()) >= 1, 'master-1 is there too');
  assert.match(await masters.locator('tbody tr').first().innerText(), /master-2\s+connected/, 'newest first');
  await screenshot(t, page, 'minion-histories');
});

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
