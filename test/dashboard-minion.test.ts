import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import { stopProcess, useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { freePort, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { api, launchChromium, openDashboard, screenshot, skipWithoutChromium as skip } from './lib/dashboard.js';

// A minion's own page and its actions; what the page does when things go wrong (a lost event
// stream, a revoked token, markup in a grain); and an accessibility check in both themes.

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
const MARKUP = '<img src=x onerror=window.pwned=1>';

let master: RunningMaster;
let ports: RunningMaster['ports'];
let browser: Browser | undefined;
let page: Page;
let problems: string[];

after(async () => {
  await browser?.close();
});

interface JobAnswer {
  job: { fun: string; args: unknown[]; kwargs: Record<string, unknown>; target: string; targetType: string };
  returns: Array<{ minionId: string; ret: unknown }>;
}
const keyState = async (id: string): Promise<string | undefined> =>
  (await api<{ keys: Array<{ state: string }> }>(master.api, 'GET', `/keys?match=${id}`)).body.keys[0]?.state;

test('a master and a minion whose grains hold markup', { skip }, async () => {
  ports = { enrol: await freePort(), minion: await freePort(), api: await freePort() };
  master = await startMasterProcess(devstack(), dir(), processes, 'page-master', ports);
  await startMinionProcess(devstack(), dir(), processes, 'page-1', [master], {
    grains: { roles: ['web'], note: MARKUP, [MARKUP]: 'as a name too' },
  });
  await waitFor(async () => (await keyState('page-1')) === 'pending', { what: 'page-1 pending', timeoutMs: 20_000 });
  await api(master.api, 'POST', '/keys/accept', { match: 'page-1' });
  await waitFor(
    async () =>
      (await api<{ minion: { connected: boolean } }>(master.api, 'GET', '/minions/page-1')).body.minion.connected,
    { what: 'page-1 connected', timeoutMs: 30_000 },
  );
  browser = await launchChromium();
  ({ page, problems } = await openDashboard(browser, master.api));
});

test('a minion has a page: key, connection, killswitch, grains — markup in a grain stays text', { skip }, async (t) => {
  await page.locator('#instances tr[data-minion-id="page-1"] a').click();
  await page.locator('#minion-page[data-minion-id="page-1"]').waitFor();
  assert.equal(new URL(page.url()).hash, '#/minions/page-1');
  const facts = await page.locator('#minion-facts').innerText();
  assert.match(facts, /accepted\s+([0-9a-f]{2}:){31}[0-9a-f]{2}/, 'the key and its fingerprint');
  assert.match(facts, /connected\s+to page-master/);
  assert.match(facts, /web/);
  assert.match(await page.locator('#minion-killswitch').innerText(), /enabled/);
  await page.locator('#minion-grains', { hasText: MARKUP }).waitFor();
  assert.match(await page.locator('#minion-grains').innerText(), /as a name too/);
  assert.equal(await page.locator('img').count(), 0, 'a grain is text, never markup');
  assert.equal(await page.evaluate('window.pwned'), undefined);
  await screenshot(t, page, 'minion-page');
});

test(
  'its actions ask first, naming the minion: disable with a reason, enable, highstate test=True, a job',
  { skip },
  async (t) => {
    const dialog = page.locator('dialog#confirm[open]');
    await page.locator('#minion-page input[name="reason"]').fill('swap the disk');
    await page.locator('#minion-page button[name="disable"]').click();
    assert.match(await dialog.innerText(), /page-1/);
    await screenshot(t, page, 'minion-confirm');
    await dialog.locator('button[name="cancel"]').click();
    const disabled = async () =>
      (await api<{ minion: { disabled?: { reason: string } } }>(master.api, 'GET', '/minions/page-1')).body.minion
        .disabled;
    assert.equal(await disabled(), undefined, 'cancel changes nothing');
    await page.locator('#minion-page button[name="disable"]').click();
    await dialog.locator('button[name="confirm"]', { hasText: 'Disable page-1' }).click();
    await page
      .locator('#minion-killswitch', { hasText: /disabled swap the disk — by test-admin, \d{4}-\d\d-\d\d/ })
      .waitFor();
    assert.equal((await disabled())?.reason, 'swap the disk');
    await page.locator('#minion-page button[name="enable"]').click();
    await dialog.locator('button[name="confirm"]', { hasText: 'Enable page-1' }).click();
    // The master answers once it has told the minion's killswitch (a job): on a loaded machine, a while.
    await page.locator('#minion-killswitch', { hasText: 'enabled' }).waitFor({ timeout: 30_000 });

    await page.locator('#minion-page button[name="highstate-test"]').click();
    await dialog.locator('button[name="confirm"]', { hasText: 'Dry-run page-1' }).click();
    await page.locator('#job-detail').waitFor();
    const jid = decodeURIComponent(new URL(page.url()).hash.replace('#/jobs/', ''));
    const job = (await api<JobAnswer>(master.api, 'GET', `/jobs/${jid}`)).body.job;
    assert.deepEqual(
      [job.fun, job.kwargs, job.target, job.targetType],
      ['state.highstate', { test: true }, 'page-1', 'list'],
    );

    await page.goBack();
    await page.locator('#minion-page input[name="fun"]').fill('test.echo');
    await page.locator('#minion-page input[name="args"]').fill("'hello there'");
    await page.locator('#minion-page button[name="run"]').click();
    await dialog.locator('button[name="confirm"]', { hasText: 'Run test.echo on page-1' }).click();
    await page
      .locator('#job-detail[data-result="ok"] tr[data-return-minion="page-1"]', { hasText: 'hello there' })
      .waitFor();
    await page.goBack();
    await page.locator('#minion-runs', { hasText: 'test=True' }).waitFor();
  },
);

test('the fleet at a glance: minions by state, masters with their load, the last hours drawn', { skip }, async (t) => {
  await page.goto(`${master.api}/ui/#/`);
  const state = (id: string) => page.locator(`#fleet-states li[data-state="${id}"]`);
  await state('connected').and(page.locator('[data-count="1"]')).waitFor();
  assert.match(await state('connected').innerText(), /connected\s+1/);
  assert.equal(await state('pending').getAttribute('data-count'), '0');
  await page.locator('#fleet-masters li[data-master-id="page-master"][data-count="1"]').waitFor();
  assert.match(await page.locator('#fleet-masters').innerText(), /page-master\s+live\s+1 · \d+ s ago/);
  // The chart is drawn on a canvas, with its legend, by the bundled chart library.
  await page.locator('#fleet .chart canvas').waitFor();
  assert.match(await page.locator('#fleet .chart').innerText(), /jobs[\s\S]*failed highstates[\s\S]*launches/i);
  assert.equal(await page.locator('#fleet .chart[role="img"][aria-label]').count(), 1, 'named for a screen reader');
  await page.locator('#fleet-activity', { hasText: /[1-9]\d* recent jobs/ }).waitFor();
  await screenshot(t, page, 'fleet');
});

test('a lost event stream says so, reconnects by itself and says that too', { skip }, async (t) => {
  await page.goto(`${master.api}/ui/#/`);
  await page.locator('#link-state', { hasText: 'events: live' }).waitFor();
  // The master goes away and comes back on the same ports.
  await stopProcess(master.process);
  await page
    .locator('#link-state', { hasText: 'the event stream was lost, reconnecting' })
    .waitFor({ timeout: 20_000 });
  await screenshot(t, page, 'events-lost');
  master = await startMasterProcess(devstack(), dir(), processes, 'page-master', ports);
  await page.locator('#link-state', { hasText: /events: live \(reconnected/ }).waitFor({ timeout: 30_000 });
  // The refused connections while it was away are the console's notes, expected.
  problems.splice(0);
});

test('a token revoked while the page is open returns to the login, saying why', { skip }, async (t) => {
  const made = await api<{ token: string; info: { id: string } }>(master.api, 'POST', '/tokens', {
    name: 'on-call',
    role: 'operate',
  });
  assert.equal(made.status, 201);
  const tab = await openDashboard(browser as Browser, master.api, { token: made.body.token });
  await tab.page.locator('header', { hasText: 'on-call (operate)' }).waitFor();
  assert.equal((await api(master.api, 'POST', `/tokens/${made.body.info.id}/revoke`, {})).status, 200);
  // The masters panel reads every 5 s: the next read is refused.
  await tab.page
    .locator('#login .error', { hasText: /Signed out: .*revoked.* \(PHX_[A-Z_]+\)/ })
    .waitFor({ timeout: 20_000 });
  await screenshot(t, tab.page, 'token-revoked');
  assert.equal(await tab.page.evaluate('sessionStorage.length'), 0, 'the token is forgotten');
  await tab.page.context().close();
});

const AXE = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

for (const scheme of ['light', 'dark'] as const) {
  test(`no serious accessibility violation (axe-core), ${scheme} theme, wide and on a phone`, { skip }, async (t) => {
    for (const viewport of [
      { width: 1400, height: 1000 },
      { width: 390, height: 844 },
    ]) {
      for (const path of ['/ui/#/', '/ui/#/minions/page-1']) {
        const tab = await openDashboard(browser as Browser, master.api, { colorScheme: scheme, viewport, path });
        await tab.page.locator('#instances tr[data-minion-id="page-1"], #minion-facts').first().waitFor();
        // Evaluated through the browser's debugging protocol: the page's own policy allows no injected script.
        await tab.page.evaluate(AXE);
        const checked = (await tab.page.evaluate(`axe.run(document).then((r) => ({
          passes: r.passes.length,
          serious: r.violations
            .filter((v) => v.impact === 'serious' || v.impact === 'critical')
            .map((v) => v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')),
        }))`)) as { passes: number; serious: string[] };
        assert.ok(checked.passes > 10, `axe checked the page (${checked.passes} rules passed)`);
        const violations = checked.serious;
        assert.deepEqual(violations, [], `${scheme}, ${viewport.width} px, ${path}`);
        if (viewport.width < 500) {
          const wide = (await tab.page.evaluate('document.documentElement.scrollWidth')) as number;
          const widest = await tab.page.evaluate(`[...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > ${viewport.width + 1})
            .slice(0, 5).map((e) => e.tagName + '.' + e.className + '#' + e.id).join(', ')`);
          assert.ok(wide <= viewport.width + 1, `nothing wider than the phone (${wide} px): ${String(widest)}`);
        }
        await screenshot(t, tab.page, `a11y-${scheme}-${viewport.width}${path.includes('minions') ? '-minion' : ''}`);
        assert.deepEqual(tab.problems, []);
        await tab.page.context().close();
      }
    }
  });
}

test('the keyboard reaches everything: the token, the filters, a sort, a minion link', { skip }, async () => {
  const tab = await openDashboard(browser as Browser, master.api);
  await tab.page.locator('#instances tr[data-minion-id="page-1"]').waitFor();
  await tab.page.locator('#instances input[name="search"]').focus();
  await tab.page.keyboard.type('page');
  let reached = '';
  for (let i = 0; i < 40 && reached === ''; i++) {
    await tab.page.keyboard.press('Tab');
    const name = (await tab.page.evaluate('document.activeElement?.getAttribute("name") ?? ""')) as string;
    if (name === 'sort-minion') reached = name;
  }
  assert.equal(reached, 'sort-minion', 'Tab reaches the sort buttons');
  await tab.page.keyboard.press('Enter');
  await tab.page.locator('#instances th[aria-sort="descending"]').waitFor();
  for (let i = 0; i < 20; i++) {
    await tab.page.keyboard.press('Tab');
    if (((await tab.page.evaluate('document.activeElement?.textContent ?? ""')) as string) === 'page-1') break;
  }
  await tab.page.keyboard.press('Enter');
  await tab.page.locator('#minion-page[data-minion-id="page-1"]').waitFor();
  await tab.page.context().close();
  assert.deepEqual(problems, []);
});
