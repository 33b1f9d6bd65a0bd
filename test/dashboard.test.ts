import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, skipWithoutChromium as skip } from './lib/dashboard.js';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';

// The dashboard as a person uses it: Debian's Chromium, driven by playwright-core, against two real
// masters and real minion processes on the embedded AWS emulators.

const ARTIFACTS = resolve(
  process.env.PHOENIX_ARTIFACTS ?? join(fileURLToPath(new URL('../../', import.meta.url)), 'test-artifacts'),
  'dashboard',
);

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();

const masters: RunningMaster[] = [];
let browser: Browser | undefined;
let page: Page;
const problems: string[] = [];

after(async () => {
  await browser?.close();
});

async function screenshot(t: TestContext, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  t.diagnostic(`screenshot: ${path}`);
}

/** The text of the instance table's row for a minion, or undefined while it has none. */
async function instanceRow(minionId: string): Promise<string | undefined> {
  const row = page.locator(`#instances tr[data-minion-id="${minionId}"]`);
  return (await row.count()) === 0 ? undefined : row.innerText();
}

async function minionsConnected(master: RunningMaster, ids: readonly string[]): Promise<boolean> {
  const response = await fetch(`${master.api}/api/v1/minions`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as { minions: Array<{ minionId: string; connected: boolean }> };
  return ids.every((id) => body.minions.some((m) => m.minionId === id && m.connected));
}

test('two masters and two minions come up', { skip }, async () => {
  for (const id of ['dash-master-1', 'dash-master-2']) {
    masters.push(await startMasterProcess(devstack(), dir(), processes, id));
  }
  for (const id of ['dash-1', 'dash-2']) {
    await startMinionProcess(devstack(), dir(), processes, id, masters);
  }
});

test('the dashboard page is open, strict about scripts, and asks for a token', { skip }, async (t) => {
  const master = masters[0] as RunningMaster;
  const answer = await fetch(`${master.api}/ui/`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(answer.status, 200);
  const policy = answer.headers.get('content-security-policy') ?? '';
  assert.match(policy, /default-src 'none'/);
  assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
  const api = await fetch(`${master.api}/api/v1/minions`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(api.status, 401, 'the data behind it still needs a token');
  for (const path of ['/ui/..%2F..%2Fpackage.json', '/ui/app/../../../package.json', '/ui/nothing.js']) {
    const missing = await fetch(`${master.api}${path}`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(missing.status, 404, `${path} is no dashboard file`);
  }

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  // Only this master is ever asked for anything: no CDN, no font host.
  page.on('request', (request) => {
    if (!request.url().startsWith(master.api)) problems.push(`request outside the master: ${request.url()}`);
  });

  await page.goto(`${master.api}/`);
  assert.equal(new URL(page.url()).pathname, '/ui/', '/ leads to the dashboard');
  await page.locator('#login input[name="token"]').fill('not-a-valid-token');
  await page.locator('#login button[type="submit"]').click();
  await page.locator('#login .error', { hasText: 'not valid' }).waitFor();
  await screenshot(t, '0-login-refused');
  // The refused token made the console note a 401; that one is expected.
  problems.length = 0;

  await page.locator('#login input[name="token"]').fill(ADMIN_TOKEN);
  await page.locator('#login button[type="submit"]').click();
  await page.locator('header', { hasText: 'test-admin (admin) via dash-master-1' }).waitFor();
  await page.locator('#link-state', { hasText: 'events: live' }).waitFor();
  await screenshot(t, '1-signed-in');
});

test('the instance table lists both minions, and an admin accepts their keys from it', { skip }, async (t) => {
  await waitFor(
    async () => (await instanceRow('dash-1')) !== undefined && (await instanceRow('dash-2')) !== undefined,
    {
      what: 'both minions in the instance table',
      timeoutMs: 20_000,
    },
  );
  await page.locator('#masters tr[data-master-id="dash-master-2"]', { hasText: 'live' }).waitFor();
  await page.locator('#keys tr[data-key-id="dash-2"]', { hasText: 'pending' }).waitFor();
  await page.locator('#keys button[name="accept-all"]').click();
  // It asks first, naming the keys.
  const question = page.locator('dialog#confirm[open]');
  assert.match(await question.innerText(), /dash-1, dash-2/);
  await question.locator('button[name="confirm"]').click();
  await waitFor(
    async () =>
      (await instanceRow('dash-1'))?.includes('accepted') === true &&
      (await instanceRow('dash-2'))?.includes('accepted') === true,
    { what: 'both keys shown accepted', timeoutMs: 15_000 },
  );
  await waitFor(() => minionsConnected(masters[0] as RunningMaster, ['dash-1', 'dash-2']), {
    what: 'both minions connected',
    timeoutMs: 30_000,
  });
  // The search box narrows the table to what it matches.
  await page.locator('#instances input[name="search"]').fill('dash-2');
  await waitFor(async () => (await instanceRow('dash-1')) === undefined, {
    what: 'dash-1 filtered out',
    timeoutMs: 5_000,
  });
  assert.ok((await instanceRow('dash-2')) !== undefined);
  await page.locator('#instances input[name="search"]').fill('');
  await screenshot(t, '2-instances');
});

test('the job runner runs test.ping on * and shows every return as it arrives', { skip }, async (t) => {
  const runner = page.locator('#job-runner');
  await runner.locator('input[name="target"]').fill('*');
  await runner.locator('select[name="targetType"]').selectOption('glob');
  await runner.locator('input[name="fun"]').fill('test.ping');
  await runner.locator('button[name="run"]').click();
  const results = page.locator('#job-results[data-finished="true"]');
  await results.waitFor({ timeout: 30_000 });
  for (const id of ['dash-1', 'dash-2']) {
    const row = results.locator(`tr[data-return-minion="${id}"]`);
    assert.equal(await row.getAttribute('data-state'), 'returned', `${id} returned`);
    const text = await row.innerText();
    assert.match(text, /\bok\b/);
    assert.match(text, /\btrue\b/, 'test.ping answers true');
  }
  const jid = await results.getAttribute('data-jid');
  assert.ok(jid);
  await screenshot(t, '3-job-returns');

  // The job history has it; a click opens its page, with its returns from the jobs table.
  const entry = page.locator(`#job-history tr[data-jid="${jid}"]`);
  await entry.waitFor();
  await entry.locator('a').click();
  const detail = page.locator(`#job-detail[data-jid="${jid}"]`);
  await detail.locator('tr[data-return-minion="dash-2"][data-state="returned"]').waitFor();
  await detail.locator('tr[data-return-minion="dash-1"][data-state="returned"]').waitFor();
  await page.goBack();
  await page.locator('#runs').waitFor();
});

test(
  'a rollout shows live which minions are done, running and waiting, then that it succeeded',
  { skip },
  async (t) => {
    const response = await fetch(`${(masters[0] as RunningMaster).api}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        target: ['dash-1', 'dash-2'],
        targetType: 'list',
        fun: 'test.sleep',
        args: [3],
        batch: { size: '1' },
      }),
    });
    assert.equal(response.status, 201);
    const { runId } = (await response.json()) as { runId: string };
    const entry = page.locator(`#runs tr[data-run-id="${runId}"]`);
    await entry.waitFor({ timeout: 15_000 });
    await entry.click();
    const detail = page.locator(`#run-detail[data-run-id="${runId}"]`);
    // One minion at a time: while the first sleeps, the second waits for its turn.
    await detail.locator('tr[data-run-minion][data-state="running"]').waitFor({ timeout: 15_000 });
    await detail.locator('tr[data-run-minion][data-state="waiting"]').waitFor({ timeout: 5_000 });
    await screenshot(t, '4-rollout-running');
    await page.locator(`#run-detail[data-run-id="${runId}"][data-status="succeeded"]`).waitFor({ timeout: 30_000 });
    for (const id of ['dash-1', 'dash-2']) {
      assert.equal(await detail.locator(`tr[data-run-minion="${id}"]`).getAttribute('data-state'), 'ok', id);
    }
    assert.match(
      await page.locator('#run-counts').innerText(),
      /^2 ok · 0 failed · 0 running · 0 waiting · 0 never ran$/,
    );
  },
);

test('a newly launched minion appears in the table without a reload', { skip }, async (t) => {
  const loadedAt = await page.evaluate(() => performance.timeOrigin);
  // It knows only the second master: the first hears of its key from its peer, and the page from the first.
  await startMinionProcess(devstack(), dir(), processes, 'dash-3', [masters[1] as RunningMaster]);
  await waitFor(async () => (await instanceRow('dash-3'))?.includes('pending') === true, {
    what: 'dash-3 in the instance table',
    timeoutMs: 15_000,
  });
  assert.equal(await page.evaluate(() => performance.timeOrigin), loadedAt, 'the page was not reloaded');
  // And it came by the event stream (the table also re-reads everything every 30 s).
  await page.locator('#events li[data-tag="key/changed"]', { hasText: 'dash-3' }).first().waitFor();
  await screenshot(t, '4-new-minion');
  assert.deepEqual(problems, [], 'no script errors, policy violations or outside requests');
  t.diagnostic(`screenshots in ${ARTIFACTS}`);
});
