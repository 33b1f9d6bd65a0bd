import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Browser, Page } from 'playwright-core';
import { stopProcess, useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { PHOENIX_BIN } from './lib/cli.js';
import { execFile } from 'node:child_process';
import { api, launchChromium, openDashboard, screenshot, skipWithoutChromium as skip } from './lib/dashboard.js';

// What an on-call engineer hit in the dashboard: the arguments field, skipped and offline minions
// in a job's result, the keys panel and its confirmations, the OS · role column, 800 px.

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();

let master: RunningMaster;
let browser: Browser | undefined;
let page: Page;
let problems: string[];
const minions = new Map<string, ChildProcess>();

interface MinionRow {
  minionId: string;
  connected: boolean;
  keyState?: string;
}
interface JobAnswer {
  job: { fun: string; args: unknown[]; kwargs: Record<string, unknown>; target: string; targetType: string };
}

async function listMinions(): Promise<MinionRow[]> {
  return (await api<{ minions: MinionRow[] }>(master.api, 'GET', '/minions')).body.minions;
}

// node:test starts top-level before() hooks together, so the cluster starts in the first test.
test('a master, two minions and one that went offline come up', { skip }, async () => {
  const tree = join(dir(), 'srv');
  await mkdir(tree, { recursive: true });
  await writeFile(join(tree, 'top.sls'), "base:\n  '*':\n    - motd\n");
  // A file that changes (a diff), a command that fails, a state that is clean.
  await writeFile(
    join(tree, 'motd.sls'),
    [
      'motd:',
      '  file.managed:',
      '    - name: /etc/motd',
      '    - contents: "hello <img src=x onerror=window.pwned=1>"',
      'fails:',
      '  cmd.run:',
      '    - name: exit 3',
      'quiet:',
      '  test.succeed_without_changes: []',
      '',
    ].join('\n'),
  );
  master = await startMasterProcess(devstack(), dir(), processes, 'jobs-master', undefined, {
    fileRoots: { base: [tree] },
  });
  for (const [id, grains] of [
    ['jobs-1', { roles: ['web', 'db'] }],
    ['jobs-2', { role: 'cache' }],
    ['jobs-off', {}],
  ] as const) {
    const root = join(dir(), id, 'root');
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc', 'motd'), 'old words\n');
    minions.set(id, await startMinionProcess(devstack(), dir(), processes, id, [master], { grains, state: { root } }));
  }
  await waitFor(async () => (await listMinions()).filter((m) => m.keyState === 'pending').length === 3, {
    what: 'three pending keys',
    timeoutMs: 20_000,
  });
  assert.equal((await api(master.api, 'POST', '/keys/accept', { match: 'jobs-*' })).status, 200);
  await waitFor(async () => (await listMinions()).filter((m) => m.connected).length === 3, {
    what: 'three minions connected',
    timeoutMs: 30_000,
  });
  // jobs-off is accepted, then goes away: an offline minion the target still selects.
  await stopProcess(minions.get('jobs-off') as ChildProcess);
  await waitFor(async () => (await listMinions()).find((m) => m.minionId === 'jobs-off')?.connected === false, {
    what: 'jobs-off offline',
    timeoutMs: 30_000,
  });
  browser = await launchChromium();
  ({ page, problems } = await openDashboard(browser, master.api));
});
after(async () => {
  await browser?.close();
});

/** Fills the job runner and runs; returns the jid once the results say the job is finished. */
async function runFromDashboard(target: string, fun: string, args: string): Promise<string> {
  const runner = page.locator('#job-runner');
  await runner.locator('input[name="target"]').fill(target);
  await runner.locator('select[name="targetType"]').selectOption('glob');
  await runner.locator('input[name="fun"]').fill(fun);
  await runner.locator('input[name="args"]').fill(args);
  const before = await page
    .locator('#job-results')
    .getAttribute('data-jid')
    .catch(() => null);
  await runner.locator('button[name="run"]').click();
  await waitFor(
    async () => {
      const results = page.locator('#job-results[data-finished="true"]');
      if ((await results.count()) === 0) return undefined;
      const jid = await results.getAttribute('data-jid');
      return jid !== null && jid !== before ? jid : undefined;
    },
    { what: `${fun} to finish in the dashboard`, timeoutMs: 30_000 },
  );
  return (await page.locator('#job-results').getAttribute('data-jid')) as string;
}

/** `phoenix run --async TARGET FUN <line>` with the line given to a real shell, as a person types it. */
function runFromShell(target: string, fun: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      '/bin/sh',
      ['-c', `"${process.execPath}" "${PHOENIX_BIN}" run --async --out json ${target} ${fun} ${line}`],
      { env: { ...process.env, PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err !== null) reject(new Error(`phoenix run failed: ${stderr}`));
        else resolve((JSON.parse(stdout) as { jid: string }).jid);
      },
    );
  });
}

const LINES = [
  // The bug: this ran `exit` with cwd=3.
  `'exit 3'`,
  `'echo "a  b"; exit 3' cwd=/tmp timeout=5 env='{"A": 1}'`,
  `"it's" x\\ y '' 007 1.5 true None '[1, "two"]'`,
];

test('the arguments field gives the job phoenix run gives for the same text', { skip }, async (t) => {
  for (const line of LINES) {
    const fromPage = await runFromDashboard('jobs-1', 'cmd.run', line);
    const fromCli = await runFromShell('jobs-1', 'cmd.run', line);
    const [a, b] = await Promise.all([
      api<JobAnswer>(master.api, 'GET', `/jobs/${fromPage}`),
      api<JobAnswer>(master.api, 'GET', `/jobs/${fromCli}`),
    ]);
    const shape = ({ job }: JobAnswer) => ({
      fun: job.fun,
      args: job.args,
      kwargs: job.kwargs,
      target: job.target,
      targetType: job.targetType,
    });
    assert.deepEqual(shape(a.body), shape(b.body), `the same job for ${line}`);
  }
  const exit3 = await api<JobAnswer>(
    master.api,
    'GET',
    `/jobs/${await runFromDashboard('jobs-1', 'cmd.run', `'exit 3'`)}`,
  );
  assert.deepEqual(exit3.body.job.args, ['exit 3']);
  assert.deepEqual(exit3.body.job.kwargs, {});
  assert.match(await page.locator('#job-results tr[data-return-minion="jobs-1"]').innerText(), /failed \(3\)/);
  await screenshot(t, page, 'jobs-arguments');
});

test('a line that does not parse, and a job the API refuses, say why and run nothing', { skip }, async () => {
  const runner = page.locator('#job-runner');
  await runner.locator('input[name="fun"]').fill('cmd.run');
  await runner.locator('input[name="args"]').fill(`'exit 3`);
  await runner.locator('button[name="run"]').click();
  await page.locator('#job-error', { hasText: "arguments: unterminated ' quote at character 1" }).waitFor();
  await runner.locator('input[name="args"]').fill('');
  await runner.locator('input[name="fun"]').fill('nodot');
  await runner.locator('button[name="run"]').click();
  // The API's own code and message, as its error body has them.
  await page.locator('#job-error', { hasText: /PHX_API_[A-Z_]+/ }).waitFor();
  assert.match(await page.locator('#job-error').innerText(), /module\.function/);
  problems.splice(0); // the refused request made the console note a 400; that one is expected
});

test(
  'a disabled minion the job skipped, and an offline one, are in the result with their reason',
  { skip },
  async (t) => {
    const disabled = await api(master.api, 'POST', '/minions/jobs-2/disable', {
      reason: 'kernel upgrade <b>CHG-7</b>',
    });
    assert.equal(disabled.status, 200);
    const jid = await runFromDashboard('*', 'state.highstate', '');
    const results = page.locator('#job-results');
    const skipped = results.locator('tr[data-return-minion="jobs-2"]');
    assert.equal(await skipped.getAttribute('data-state'), 'skipped');
    assert.match(await skipped.innerText(), /skipped: .*kernel upgrade <b>CHG-7<\/b>/);
    assert.equal(
      await results.locator('tr[data-return-minion="jobs-2"] b').count(),
      0,
      'the reason is text, not markup',
    );
    const offline = results.locator('tr[data-return-minion="jobs-off"]');
    assert.equal(await offline.getAttribute('data-state'), 'offline');
    assert.match(await offline.innerText(), /not connected/);
    assert.equal(await results.locator('tr[data-return-minion="jobs-1"]').getAttribute('data-state'), 'returned');
    assert.match(await results.locator('p').first().innerText(), /1 skipped, 1 not connected/);
    await screenshot(t, page, 'jobs-skipped');

    // The job's history entry says the same, from the jobs table.
    await page.locator(`#job-history tr[data-jid="${jid}"] a`).click();
    const detail = page.locator(`#job-detail[data-jid="${jid}"]`);
    await detail
      .locator('tr[data-return-minion="jobs-2"][data-state="skipped"]', { hasText: 'kernel upgrade' })
      .waitFor();
    await detail.locator('tr[data-return-minion="jobs-off"][data-state="offline"]').waitFor();
    await page.goBack();
    await page.locator('#job-runner').waitFor();
    assert.equal((await api(master.api, 'POST', '/minions/jobs-2/enable', {})).status, 200);
  },
);

test(
  'the instance table shows os and role, connected and offline in words, and disabled with its reason',
  { skip },
  async () => {
    await api(master.api, 'POST', '/minions/jobs-2/disable', { reason: 'disk swap' });
    await waitFor(
      async () => /disabled disk swap/.test(await page.locator('#instances tr[data-minion-id="jobs-2"]').innerText()),
      {
        what: 'jobs-2 shown disabled, live',
        timeoutMs: 15_000,
      },
    );
    const one = await page.locator('#instances tr[data-minion-id="jobs-1"]').innerText();
    assert.match(one, /· web, db/, 'the roles grain');
    assert.match(one, /connected/);
    assert.match(await page.locator('#instances tr[data-minion-id="jobs-2"]').innerText(), /· cache/, 'the role grain');
    assert.match(await page.locator('#instances tr[data-minion-id="jobs-off"]').innerText(), /\toffline\t/);
    await api(master.api, 'POST', '/minions/jobs-2/enable', {});
  },
);

test('pending and refused keys are apart, and every key action asks first, naming the key', { skip }, async (t) => {
  const started = new Map<string, ChildProcess>();
  for (const id of ['key-new', 'key-bad'])
    started.set(id, await startMinionProcess(devstack(), dir(), processes, id, [master]));
  await page.locator('#keys-pending tr[data-key-id="key-bad"]').waitFor();
  assert.equal((await api(master.api, 'POST', '/keys/reject', { match: 'key-bad' })).status, 200);
  await page.locator('#keys-refused tr[data-key-id="key-bad"]', { hasText: 'rejected' }).waitFor();
  assert.equal(await page.locator('#keys-pending tr[data-key-id="key-bad"]').count(), 0, 'not among those awaiting');
  assert.equal(await page.locator('#keys-refused tr[data-key-id="key-new"]').count(), 0);

  const keyState = async (id: string) =>
    (await api<{ keys: Array<{ minionId: string; state: string }> }>(master.api, 'GET', `/keys?match=${id}`)).body
      .keys[0]?.state;
  for (const [action, id] of [
    ['accept', 'key-new'],
    ['reject', 'key-new'],
    ['delete', 'key-bad'],
  ] as const) {
    await page.locator(`#keys tr[data-key-id="${id}"] button[name="${action}"]`).click();
    const dialog = page.locator('dialog#confirm[open]');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), new RegExp(id), `the question names ${id}`);
    await dialog.locator('button[name="cancel"]').click();
    await page.locator('dialog#confirm[open]').waitFor({ state: 'detached' });
    assert.equal(await keyState(id), id === 'key-bad' ? 'rejected' : 'pending', `cancel leaves ${id} as it was`);
  }
  await page.locator('#keys tr[data-key-id="key-new"] button[name="accept"]').click();
  await screenshot(t, page, 'keys-confirm');
  await page.locator('dialog#confirm[open] button[name="confirm"]', { hasText: 'Accept key-new' }).click();
  await waitFor(async () => (await keyState('key-new')) === 'accepted', {
    what: 'key-new accepted',
    timeoutMs: 10_000,
  });
  // Stopped first: a running minion whose key is deleted enrols again at once.
  await stopProcess(started.get('key-bad') as ChildProcess);
  await page.locator('#keys tr[data-key-id="key-bad"] button[name="delete"]').click();
  await page.locator('dialog#confirm[open] button[name="confirm"]', { hasText: 'Delete key-bad' }).click();
  await waitFor(async () => (await keyState('key-bad')) === undefined, { what: 'key-bad deleted', timeoutMs: 10_000 });
  // Its row is read again and the API answers 404 (how the table learns it is gone): the console notes it.
  await page.locator('#instances tr[data-minion-id="key-bad"]').waitFor({ state: 'detached' });
  problems.splice(0);
});

test(
  'a highstate reads like the outputter: per state result, comment, duration, a coloured diff; a summary; filters',
  { skip },
  async (t) => {
    // An earlier highstate wrote the file already: it says the old words again, so this one changes it.
    await writeFile(join(dir(), 'jobs-1', 'root', 'etc', 'motd'), 'old words\n');
    await runFromDashboard('jobs-1', 'state.highstate', '');
    const row = page.locator('#job-results tr[data-return-minion="jobs-1"]');
    const summary = row.locator('.state-summary');
    assert.deepEqual(
      [
        await summary.getAttribute('data-succeeded'),
        await summary.getAttribute('data-changed'),
        await summary.getAttribute('data-failed'),
      ],
      ['2', '1', '1'],
    );
    assert.match(await summary.innerText(), /succeeded 2.*changed 1.*failed 1.*3 states/s);
    const motd = row.locator('[data-state-id="motd"][data-result="changed"]');
    assert.match(await motd.locator('.diff-del').first().innerText(), /^-old words/);
    assert.match(await motd.locator('.diff-add').first().innerText(), /^\+hello <img src=x onerror=window\.pwned=1>/);
    assert.match(await motd.innerText(), /file\.managed/);
    assert.match(await motd.innerText(), /\d+(\.\d)? ms/, 'its duration');
    assert.equal(await page.locator('#job-results img').count(), 0, 'a file diff is text, never markup');
    assert.equal(await page.evaluate('window.pwned'), undefined);
    const fails = row.locator('[data-state-id="fails"][data-result="failed"]');
    assert.match(await fails.locator('pre.comment').innerText(), /exit|3/);
    await row.locator('[data-state-id="quiet"][data-result="clean"]').waitFor();
    await screenshot(t, page, 'results-highstate');

    const ids = async (): Promise<string[]> =>
      row.locator('[data-state-id]').evaluateAll((all) => all.map((e) => e.getAttribute('data-state-id') ?? ''));
    await page.locator('#job-results input[name="only-failures"]').check();
    await waitFor(async () => JSON.stringify(await ids()) === JSON.stringify(['fails']), {
      what: `the states ${JSON.stringify(['fails'])}`,
      timeoutMs: 5_000,
    });
    await page.locator('#job-results input[name="only-failures"]').uncheck();
    // A command's run is a change (pid, retcode, stdout), even when it failed, as in Salt.
    await page.locator('#job-results input[name="only-changes"]').check();
    await waitFor(async () => JSON.stringify(await ids()) === JSON.stringify(['motd', 'fails']), {
      what: `the states ${JSON.stringify(['motd', 'fails'])}`,
      timeoutMs: 5_000,
    });
    await page.locator('#job-results input[name="only-changes"]').uncheck();
    await waitFor(async () => JSON.stringify(await ids()) === JSON.stringify(['motd', 'fails', 'quiet']), {
      what: `the states ${JSON.stringify(['motd', 'fails', 'quiet'])}`,
      timeoutMs: 5_000,
    });
  },
);

test('any other return is a tree that folds, and long output wraps and can be copied', { skip }, async () => {
  await runFromDashboard('jobs-1', 'grains.item', 'roles os');
  const row = page.locator('#job-results tr[data-return-minion="jobs-1"]');
  const tree = row.locator('details.tree').first();
  assert.equal(await tree.getAttribute('open'), '');
  assert.match(await tree.innerText(), /roles[\s\S]*web[\s\S]*db/);
  await tree.locator('summary').first().click();
  assert.equal(await tree.getAttribute('open'), null, 'a click folds it');
  await runFromDashboard('jobs-1', 'cmd.run', `'seq 1 3000'`);
  const long = page.locator('#job-results tr[data-return-minion="jobs-1"] .long');
  assert.match(await long.locator('pre').innerText(), /…$/, 'folded after a screenful');
  await long.locator('button', { hasText: /Show all \d+ characters/ }).click();
  assert.match(await long.locator('pre').innerText(), /\n3000$/);
  await long.locator('button[name="copy"]').waitFor();
  const markup = await runFromDashboard('jobs-1', 'test.echo', `'<img src=x onerror=window.pwned=2>'`);
  assert.ok(markup);
  assert.match(
    await page.locator('#job-results tr[data-return-minion="jobs-1"]').innerText(),
    /<img src=x onerror=window\.pwned=2>/,
  );
  assert.equal(await page.locator('#job-results img').count(), 0, 'a return is text, never markup');
  assert.equal(await page.evaluate('window.pwned'), undefined);
});

test(
  'the job history says each job’s result, duration and returns, filters, and opens a job at its own URL',
  { skip },
  async (t) => {
    const ok = await runFromDashboard('jobs-1', 'test.echo', 'history');
    const failed = await runFromDashboard('jobs-1', 'cmd.run', `'exit 3'`);
    const row = (jid: string) => page.locator(`#job-history tr[data-jid="${jid}"]`);
    await row(ok).and(page.locator('[data-result="ok"]')).waitFor();
    await row(failed).and(page.locator('[data-result="failed"]')).waitFor();
    assert.match(await row(ok).innerText(), /test\.echo\s+jobs-1 \(glob\)\s+ok\s+1\/1\s+\d+(\.\d)? m?s\s+test-admin/);
    assert.match(await row(failed).innerText(), /\bfailed\s+1\/1/);

    const history = page.locator('#job-history');
    await history.locator('input[name="filter-fun"]').fill('test.echo');
    await row(failed).waitFor({ state: 'detached' });
    assert.equal(await row(ok).count(), 1);
    await history.locator('input[name="filter-submitter"]').fill('nobody');
    await row(ok).waitFor({ state: 'detached' });
    await history.locator('input[name="filter-submitter"]').fill('admin');
    await history.locator('input[name="filter-target"]').fill('jobs-1');
    await row(ok).waitFor();
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await history.locator('input[name="filter-since"]').fill(tomorrow);
    await row(ok).waitFor({ state: 'detached' });
    await history.locator('input[name="filter-since"]').fill('');
    await history.locator('input[name="filter-fun"]').fill('');
    await history.locator('input[name="filter-submitter"]').fill('');
    await history.locator('input[name="filter-target"]').fill('');
    await screenshot(t, page, 'job-history');

    // A click opens the job's own page, at the top, at a URL of its own.
    await row(failed).locator('a').click();
    const detail = page.locator(`#job-detail[data-jid="${failed}"][data-result="failed"]`);
    await detail.waitFor();
    assert.equal(new URL(page.url()).hash, `#/jobs/${failed}`);
    assert.ok(((await detail.boundingBox())?.y ?? 1e9) < 200, 'the job is at the top of the page');
    assert.match(await page.locator('#job-outcome').innerText(), /failed 1 of 1 returned, 1 failed in/);
    await screenshot(t, page, 'job-page');
    await page.goBack();
    await page.locator('#job-history').waitFor();

    // The URL alone opens it: in a new browser, after the token.
    const other = await openDashboard(browser as Browser, master.api, { path: `/ui/#/jobs/${ok}` });
    await other.page.locator(`#job-detail[data-jid="${ok}"][data-result="ok"]`).waitFor();
    assert.match(await other.page.locator('#job-detail tr[data-return-minion="jobs-1"]').innerText(), /history/);
    assert.deepEqual(other.problems, []);
    await other.page.context().close();
  },
);

test('the runner previews what a target matches, and has test=True and batch options', { skip }, async () => {
  const runner = page.locator('#job-runner');
  await runner.locator('select[name="targetType"]').selectOption('glob');
  await runner.locator('input[name="target"]').fill('jobs-*');
  await page.locator('#target-preview', { hasText: 'matches 3 accepted minions: jobs-1, jobs-2, jobs-off' }).waitFor();
  await runner.locator('input[name="target"]').fill('jobs-?');
  await page.locator('#target-preview', { hasText: 'matches 2 accepted minions: jobs-1, jobs-2' }).waitFor();
  await runner.locator('select[name="targetType"]').selectOption('list');
  await runner.locator('input[name="target"]').fill('jobs-2,nobody');
  await page.locator('#target-preview', { hasText: 'matches 1 accepted minion: jobs-2' }).waitFor();
  // Every target type is the master's own targeting (POST /targets/preview): the preview is the job.
  await runner.locator('select[name="targetType"]').selectOption('pcre');
  await runner.locator('input[name="target"]').fill('jobs-[12]');
  await page.locator('#target-preview', { hasText: 'matches 2 accepted minions: jobs-1, jobs-2' }).waitFor();
  await runner.locator('select[name="targetType"]').selectOption('grain');
  await runner.locator('input[name="target"]').fill('id:jobs-1');
  await page.locator('#target-preview', { hasText: 'matches 1 accepted minion: jobs-1' }).waitFor();
  // A grain the minion only reports about itself is not one the master targets by (as the job would find).
  await runner.locator('input[name="target"]').fill('roles:web');
  await page.locator('#target-preview[data-count="0"]', { hasText: 'matches 0 accepted minions' }).waitFor();
  await runner.locator('select[name="targetType"]').selectOption('compound');
  await runner.locator('input[name="target"]').fill('jobs-* and not L@jobs-2');
  await page.locator('#target-preview', { hasText: 'matches 2 accepted minions: jobs-1, jobs-off' }).waitFor();
  await runner.locator('input[name="target"]').fill('jobs-* and');
  await page.locator('#target-preview.error', { hasText: 'PHX_TARGET_INVALID' }).waitFor();
  // The refused preview made the console note a 400 (and a target half changed from one type to another may too).
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('status of 400')));
  await runner.locator('input[name="target"]').fill('jobs-1');
  await runner.locator('select[name="targetType"]').selectOption('glob');

  await runner.locator('input[name="test"]').check();
  const dry = await runFromDashboard('jobs-1', 'state.highstate', '');
  assert.deepEqual((await api<JobAnswer>(master.api, 'GET', `/jobs/${dry}`)).body.job.kwargs, { test: true });
  await runner.locator('input[name="test"]').uncheck();

  await runner.locator('input[name="target"]').fill('jobs-1,jobs-2');
  await runner.locator('select[name="targetType"]').selectOption('list');
  await runner.locator('input[name="fun"]').fill('test.ping');
  await runner.locator('input[name="args"]').fill('');
  await runner.locator('input[name="batch"]').fill('1');
  await runner.locator('button[name="run"]').click();
  const rollout = page.locator('#job-rollout');
  await rollout.waitFor();
  const runId = (await rollout.getAttribute('data-run-id')) as string;
  assert.equal((await api(master.api, 'GET', `/runs/${runId}`)).status, 200, 'the API has the rollout');
  await page.locator(`#runs tr[data-run-id="${runId}"]`).waitFor();
  await runner.locator('input[name="batch"]').fill('');
});

test('at 800 px nothing is cut off: every table fits its panel', { skip }, async (t) => {
  await page.setViewportSize({ width: 800, height: 1000 });
  await page.locator('#instances tr[data-minion-id="jobs-1"]').waitFor();
  // Run in the page (a string: the test's own types have no DOM).
  const overflow = (await page.evaluate(`(() => {
    const wide = [];
    if (document.documentElement.scrollWidth > window.innerWidth) wide.push('page ' + document.documentElement.scrollWidth);
    for (const table of document.querySelectorAll('table')) {
      const panel = table.closest('section');
      const box = table.getBoundingClientRect();
      const edge = panel.getBoundingClientRect();
      if (box.right > edge.right + 1) wide.push(panel.id + ': table ends at ' + box.right + ', panel at ' + edge.right);
    }
    return wide;
  })()`)) as string[];
  assert.deepEqual(overflow, []);
  await screenshot(t, page, 'instances-800px');
  await page.setViewportSize({ width: 1400, height: 1000 });
  assert.deepEqual(problems, [], 'no script errors, policy violations or outside requests');
});
