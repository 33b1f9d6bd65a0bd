import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHighState } from '../src/compile/high.js';
import { compileLow } from '../src/compile/low.js';
import type { LowChunk } from '../src/compile/chunk.js';
import { planRun } from '../src/compile/requisites.js';
import type { PlannedChunk } from '../src/compile/requisites.js';
import type { CallOutcome } from '../src/engine/result.js';
import { runPlan } from '../src/engine/runner.js';
import type { StateCall } from '../src/engine/runner.js';
import { StateCompileError } from '../src/errors.js';
import { parseYaml } from '../src/render/yaml.js';

/*
 * The requisite system as a pure core: SLS text is parsed, compiled into low chunks and planned,
 * then run against a scripted `call` that records what the engine asked for. No file, no process.
 */

/** How a scripted state behaves: fails, or changes something (predicted with test=True). */
interface Script {
  fails?: boolean;
  changes?: boolean;
}

async function plan(files: Record<string, string>, targets = ['main']): Promise<PlannedChunk[]> {
  const high = await buildHighState(
    targets.map((name) => ({ name, env: 'base' })),
    async (name) => {
      const text = files[name];
      if (text === undefined) return undefined;
      const { value, keyLines } = parseYaml(text, `salt://${name}.sls`);
      return { name, env: 'base', file: `${name}.sls`, data: value, keyLines };
    },
  );
  return planRun(compileLow(high));
}

async function run(
  planned: PlannedChunk[],
  scripts: Record<string, Script> = {},
  options: { test?: boolean; failhard?: boolean; select?: (p: PlannedChunk) => boolean } = {},
) {
  const calls: string[] = [];
  const call = async ({ chunk, mode, test }: StateCall): Promise<CallOutcome> => {
    calls.push(`${chunk.id}${mode === 'run' ? '' : `:${mode}`}${test && mode !== 'predict' ? ':test' : ''}`);
    const script = scripts[chunk.id] ?? {};
    if (mode === 'mod_watch') return { result: test ? null : true, comment: 'restarted', changes: { restarted: true } };
    if (script.fails) return { result: false, comment: 'it failed', changes: {} };
    if (script.changes) return { result: test ? null : true, comment: 'changed', changes: { done: true } };
    return { result: true, comment: 'in the right state', changes: {} };
  };
  const outcome = await runPlan(planned, {
    test: options.test ?? false,
    failhard: options.failhard ?? false,
    call,
    hasModWatch: (chunk: LowChunk) => chunk.state === 'service',
    now: () => 1_700_000_000_000,
    ...(options.select === undefined ? {} : { select: options.select }),
  });
  const byId: Record<string, { result: boolean | null; comment: string; changes: object; run: number }> = {};
  for (const result of Object.values(outcome.results)) {
    byId[result.__id__] = {
      result: result.result,
      comment: result.comment,
      changes: result.changes,
      run: result.__run_num__,
    };
  }
  return { calls, byId, results: outcome.results, haltedBy: outcome.haltedBy };
}

async function compileErrors(files: Record<string, string>): Promise<string[]> {
  try {
    await plan(files);
  } catch (err) {
    assert.ok(err instanceof StateCompileError, `expected a compile error, got ${String(err)}`);
    return [...err.errors];
  }
  assert.fail('expected the SLS not to compile');
}

test('states run in the order written, and results are keyed and numbered as Salt does', async () => {
  const planned = await plan({
    main: `
c:
  test.nop: []
a:
  test.nop:
    - name: first-name
b:
  test.nop: []
`,
  });
  const { calls, results } = await run(planned);
  assert.deepEqual(calls, ['c', 'a', 'b']);
  const entry = results['test_|-a_|-first-name_|-nop'];
  assert.ok(entry, 'tag is module_|-id_|-name_|-function');
  assert.equal(entry.__run_num__, 1);
  assert.equal(entry.__sls__, 'main');
  assert.equal(entry.name, 'first-name');
  assert.match(entry.start_time, /^\d\d:\d\d:\d\d\.\d{6}$/);
});

test("order: explicit numbers first, 'first' before them, 'last' and negatives at the end", async () => {
  const planned = await plan({
    main: `
plain-1:
  test.nop: []
at-last:
  test.nop:
    - order: last
almost-last:
  test.nop:
    - order: -1
numbered-2:
  test.nop:
    - order: 2
numbered-1:
  test.nop:
    - order: 1
at-first:
  test.nop:
    - order: first
plain-2:
  test.nop: []
`,
  });
  const { calls } = await run(planned);
  assert.deepEqual(calls, ['at-first', 'numbered-1', 'numbered-2', 'plain-1', 'plain-2', 'almost-last', 'at-last']);
});

test('require pulls the required state forward, and a failed requisite fails the state without running it', async () => {
  const planned = await plan({
    main: `
app-config:
  file.managed:
    - name: /etc/app.conf
    - require:
      - pkg: app
app:
  pkg.installed: []
`,
  });
  const ok = await run(planned);
  assert.deepEqual(ok.calls, ['app', 'app-config'], 'required state runs first even though written later');

  const failed = await run(planned, { app: { fails: true } });
  assert.deepEqual(failed.calls, ['app'], 'the requiring state is never called');
  assert.equal(failed.byId['app-config']?.result, false);
  assert.equal(failed.byId['app-config']?.comment, 'One or more requisite failed: main.app');
});

test('require_in is require seen from the other side; sls and bare-ID requisites work too', async () => {
  const planned = await plan(
    {
      main: `
include:
  - other
late:
  test.nop:
    - require:
      - sls: other
      - early
early:
  test.nop:
    - require_in:
      - test: late
`,
      other: `
from-other:
  test.nop: []
`,
    },
    ['main'],
  );
  const { calls } = await run(planned, { 'from-other': { fails: true } });
  assert.deepEqual(calls, ['from-other', 'early'], 'late is not called: its sls requisite failed');
  const late = await run(planned);
  assert.deepEqual(late.calls, ['from-other', 'early', 'late']);
});

test('watch: a change in the watched state triggers mod_watch (a restart), and only then', async () => {
  const planned = await plan({
    main: `
nginx:
  service.running:
    - watch:
      - file: nginx-conf
nginx-conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
`,
  });
  const unchanged = await run(planned);
  assert.deepEqual(unchanged.calls, ['nginx-conf', 'nginx'], 'no change: no restart');

  const changed = await run(planned, { 'nginx-conf': { changes: true } });
  assert.deepEqual(changed.calls, ['nginx-conf', 'nginx', 'nginx:mod_watch']);
  assert.deepEqual(changed.byId.nginx?.changes, { restarted: true });

  const startedAnyway = await run(planned, { 'nginx-conf': { changes: true }, nginx: { changes: true } });
  assert.deepEqual(startedAnyway.calls, ['nginx-conf', 'nginx'], 'a service that just started is not restarted again');

  const watchedFailed = await run(planned, { 'nginx-conf': { fails: true } });
  assert.equal(watchedFailed.byId.nginx?.result, false, 'a failed watch fails the watcher like a require');

  const predicted = await run(planned, { 'nginx-conf': { changes: true } }, { test: true });
  assert.deepEqual(predicted.calls, ['nginx-conf:test', 'nginx:test', 'nginx:mod_watch:test']);
  assert.equal(predicted.byId.nginx?.result, null, 'test=True predicts the restart with result None');
});

test('onchanges runs a state only when a target changed; onchanges_in is the same from the other side', async () => {
  const planned = await plan({
    main: `
config:
  file.managed:
    - name: /etc/app.conf
reload:
  cmd.run:
    - name: systemctl reload app
    - onchanges:
      - file: config
notify:
  cmd.run:
    - name: notify
flag:
  file.managed:
    - name: /etc/flag
    - onchanges_in:
      - cmd: notify
`,
  });
  const quiet = await run(planned);
  assert.deepEqual(quiet.calls, ['config', 'flag']);
  assert.equal(quiet.byId.reload?.result, true);
  assert.equal(quiet.byId.reload?.comment, 'State was not run because none of the onchanges reqs changed');
  assert.equal(quiet.byId.notify?.result, true);

  const changed = await run(planned, { config: { changes: true }, flag: { changes: true } });
  assert.deepEqual(changed.calls, ['config', 'reload', 'flag', 'notify']);

  const predicted = await run(planned, { config: { changes: true } }, { test: true });
  assert.equal(predicted.byId.reload?.result, true, 'reload itself reports no change in this script');
  assert.ok(predicted.calls.includes('reload:test'), 'with test=True a predicted change counts as a change');

  const failedTarget = await run(planned, { config: { fails: true } });
  assert.equal(failedTarget.byId.reload?.result, false, 'a failed onchanges target fails the state');
});

test('onfail runs a state only when a target failed; onfail_all needs every target to fail', async () => {
  const planned = await plan({
    main: `
deploy:
  cmd.run:
    - name: deploy
migrate:
  cmd.run:
    - name: migrate
rollback:
  cmd.run:
    - name: rollback
    - onfail:
      - cmd: deploy
      - cmd: migrate
page-oncall:
  cmd.run:
    - name: page
    - onfail_all:
      - cmd: deploy
      - cmd: migrate
`,
  });
  const fine = await run(planned);
  assert.deepEqual(fine.calls, ['deploy', 'migrate']);
  assert.equal(fine.byId.rollback?.comment, 'State was not run because onfail req did not change');
  assert.equal(fine.byId.rollback?.result, true);

  const one = await run(planned, { deploy: { fails: true } });
  assert.deepEqual(one.calls, ['deploy', 'migrate', 'rollback'], 'any failure triggers onfail; not onfail_all');

  const both = await run(planned, { deploy: { fails: true }, migrate: { fails: true } });
  assert.deepEqual(both.calls, ['deploy', 'migrate', 'rollback', 'page-oncall']);
});

test('prereq runs a state before its target only when the target would change', async () => {
  const planned = await plan({
    main: `
site-down:
  cmd.run:
    - name: take the site down
    - prereq:
      - file: site-code
site-code:
  file.managed:
    - name: /srv/site/code
`,
  });
  const noChange = await run(planned);
  assert.deepEqual(noChange.calls, ['site-code:predict', 'site-code']);
  assert.equal(noChange.byId['site-down']?.comment, 'No changes detected');
  assert.equal(noChange.byId['site-down']?.result, true);

  const change = await run(planned, { 'site-code': { changes: true } });
  assert.deepEqual(change.calls, ['site-code:predict', 'site-down', 'site-code']);
  assert.ok((change.byId['site-down']?.run ?? 99) < (change.byId['site-code']?.run ?? -1));

  const prereqFails = await run(planned, { 'site-code': { changes: true }, 'site-down': { fails: true } });
  assert.deepEqual(prereqFails.calls, ['site-code:predict', 'site-down']);
  assert.equal(prereqFails.byId['site-code']?.result, false, 'a failed prereq fails its target, which never runs');

  const wouldFail = await run(planned, { 'site-code': { fails: true } });
  assert.equal(wouldFail.byId['site-down']?.result, false, 'a target that would fail fails the prereq state');

  const inForm = await plan({
    main: `
site-code:
  file.managed:
    - name: /srv/site/code
    - prereq_in:
      - cmd: site-down
site-down:
  cmd.run:
    - name: take the site down
`,
  });
  const viaIn = await run(inForm, { 'site-code': { changes: true } });
  assert.deepEqual(viaIn.calls, ['site-code:predict', 'site-down', 'site-code']);
});

test('failhard stops at the first failure: per state, or for the whole run', async () => {
  const planned = await plan({
    main: `
one:
  test.nop: []
two:
  test.nop:
    - failhard: True
three:
  test.nop: []
`,
  });
  const halted = await run(planned, { two: { fails: true } });
  assert.deepEqual(halted.calls, ['one', 'two']);
  assert.equal(halted.haltedBy, 'test_|-two_|-two_|-nop');
  assert.equal(Object.keys(halted.results).length, 2, 'states after the failure are neither run nor reported');

  const global = await run(planned, { one: { fails: true } }, { failhard: true });
  assert.deepEqual(global.calls, ['one']);

  const notHard = await run(planned, { one: { fails: true } });
  assert.deepEqual(notHard.calls, ['one', 'two', 'three'], 'without failhard the run goes on');

  const predicted = await run(planned, { two: { changes: true } }, { test: true, failhard: true });
  assert.deepEqual(predicted.calls, ['one:test', 'two:test', 'three:test'], 'None is not a failure');
});

test('test=True: every state is called in test mode and would-change states report None', async () => {
  const planned = await plan({
    main: `
a:
  test.nop: []
b:
  test.nop: []
`,
  });
  const { calls, byId } = await run(planned, { b: { changes: true } }, { test: true });
  assert.deepEqual(calls, ['a:test', 'b:test']);
  assert.equal(byId.a?.result, true);
  assert.equal(byId.b?.result, null);
  assert.deepEqual(byId.b?.changes, { done: true }, 'the predicted changes are shown');
});

test('a cycle is a compile error naming the states, before anything runs', async () => {
  const errors = await compileErrors({
    main: `
a:
  test.nop:
    - require:
      - test: b
b:
  test.nop:
    - watch:
      - test: c
c:
  test.nop:
    - require:
      - test: a
`,
  });
  assert.equal(errors.length, 1);
  assert.match(
    errors[0] ?? '',
    /^Recursive requisite found: 'test: a' .* needs 'test: b' .* needs 'test: c' .* needs 'test: a'/,
  );

  const self = await compileErrors({ main: 'a:\n  test.nop:\n    - require:\n      - test: a\n' });
  assert.match(self[0] ?? '', /Recursive requisite found: 'test: a' \(ID 'a' in SLS 'main'\) has a require on itself/);

  const viaPrereq = await compileErrors({
    main: `
a:
  test.nop:
    - prereq:
      - test: b
b:
  test.nop:
    - require:
      - test: c
c:
  test.nop:
    - require:
      - test: a
`,
  });
  assert.match(viaPrereq[0] ?? '', /Recursive requisite found/);
});

test("a requisite naming no state fails that state only, with Salt's comment; the rest runs", async () => {
  const planned = await plan({
    main: `
ok:
  test.nop: []
config:
  file.managed:
    - name: /etc/x
    - require:
      - pkg: ngnix
      - ok
    - watch_in:
      - service: missing-service
after:
  test.nop:
    - require:
      - file: config
`,
  });
  const { byId, calls } = await run(planned);
  assert.deepEqual(byId.config, {
    result: false,
    comment:
      'The following requisites were not found:\n' +
      '                   require:\n' +
      '                       pkg: ngnix\n' +
      '                   watch_in:\n' +
      '                       service: missing-service\n',
    changes: {},
    run: 1,
  });
  assert.equal(byId.after?.comment, 'One or more requisite failed: main.config');
  assert.deepEqual(calls, ['ok'], 'the state with a lost requisite did not run; the others did');
});

test('requisite targets may be globs and may name a state by its name instead of its ID', async () => {
  const planned = await plan({
    main: `
restart:
  cmd.run:
    - name: restart
    - onchanges:
      - file: /etc/app/*
conf-a:
  file.managed:
    - name: /etc/app/a.conf
conf-b:
  file.managed:
    - name: /etc/app/b.conf
`,
  });
  const { calls } = await run(planned, { 'conf-b': { changes: true } });
  assert.deepEqual(calls, ['conf-a', 'conf-b', 'restart']);
});

test('names expands one ID into one state per name; use copies arguments from another state', async () => {
  const planned = await plan({
    main: `
base-file:
  file.managed:
    - name: /etc/base
    - mode: '0600'
    - user: app
tools:
  pkg.installed:
    - names:
      - vim
      - curl:
        - version: '7.0'
copy:
  file.managed:
    - name: /etc/copy
    - user: other
    - use:
      - file: base-file
`,
  });
  const chunks = planned.map((p) => p.chunk);
  assert.deepEqual(
    chunks.filter((c) => c.id === 'tools').map((c) => [c.name, c.args.version]),
    [
      ['vim', undefined],
      ['curl', '7.0'],
    ],
  );
  const copy = chunks.find((c) => c.id === 'copy');
  assert.deepEqual(
    copy?.args,
    { name: '/etc/copy', user: 'other', mode: '0600' },
    'own arguments win; name is never copied',
  );
});

test('include and extend: included states come first, extend adds requisites and replaces arguments', async () => {
  const planned = await plan({
    main: `
include:
  - .common
extend:
  motd:
    file.managed:
      - mode: '0600'
      - require:
        - test: mine
mine:
  test.nop: []
`,
    common: `
motd:
  file.managed:
    - name: /etc/motd
    - mode: '0644'
    - require:
      - test: common-first
common-first:
  test.nop: []
`,
  });
  const { calls } = await run(planned);
  assert.deepEqual(calls, ['common-first', 'mine', 'motd']);
  const motd = planned.find((p) => p.chunk.id === 'motd')?.chunk;
  assert.equal(motd?.args.mode, '0600');
  assert.deepEqual(
    motd?.requisites.require.map((r) => r.text),
    ['test: common-first', 'test: mine'],
  );
});

test('structural mistakes are compile errors naming the ID and SLS: nothing runs', async () => {
  const errors = await compileErrors({
    main: `
include:
  - missing-sls
just-a-string: 42
two-functions:
  pkg:
    - installed
    - removed
bad-argument:
  file.managed:
    - name: /etc/x
    - not a key value
bad-requisite:
  file.managed:
    - require:
      - [a, b]
bad-order:
  test.nop:
    - order: soon
unsupported:
  test.nop:
    - listen:
      - test: a
extend:
  nobody:
    file.managed: []
`,
  });
  const text = errors.join('\n');
  assert.match(
    text,
    /Specified SLS 'missing-sls' in saltenv 'base' is not available on the file server \(included from 'main'\)/,
  );
  assert.match(text, /ID 'just-a-string' in SLS 'base:main' \(salt:\/\/main.sls\) at line 4 is not a dictionary/);
  assert.match(text, /too many functions declared in state 'pkg' \('installed' and 'removed'\)/);
  assert.match(text, /every argument must be a single 'key: value'/);
  assert.match(text, /Cannot extend ID 'nobody' in 'base:main'/);
  const secondPass = await compileErrors({
    main: `
bad-requisite:
  file.managed:
    - require:
      - [a, b]
bad-order:
  test.nop:
    - order: soon
unsupported:
  test.nop:
    - retry:
        attempts: 2
`,
  });
  const more = secondPass.join('\n');
  assert.match(more, /in 'require', \["a","b"\] is not a requisite/);
  assert.match(more, /'order' must be a number, 'first' or 'last'/);
  assert.match(more, /'retry' is not supported by Phoenix states/);
});

test('conflicting IDs across SLS files are an error, as in Salt', async () => {
  const errors = await compileErrors({
    main: 'include:\n  - other\nsame:\n  test.nop: []\n',
    other: 'same:\n  test.nop: []\n',
  });
  assert.match(errors[0] ?? '', /conflicting ID is 'same' and is found in SLS 'base:other' and SLS 'base:main'/);
});

test('sls_id-style selection runs one ID and what its requisites pull in, nothing else', async () => {
  const planned = await plan({
    main: `
unrelated:
  test.nop: []
dep:
  test.nop: []
target:
  test.nop:
    - require:
      - test: dep
`,
  });
  const { calls } = await run(planned, {}, { select: (p) => p.chunk.id === 'target' });
  assert.deepEqual(calls, ['dep', 'target']);
});

test('listen and listen_in: each listener runs its mod_watch once, at the end, in definition order', async () => {
  const planned = await plan({
    main: `
nginx-conf:
  file.managed:
    - name: /etc/nginx/nginx.conf
    - listen_in:
      - service: nginx
site-conf:
  file.managed:
    - name: /etc/nginx/site.conf
    - listen_in:
      - service: nginx
php-conf:
  file.managed:
    - name: /etc/php.ini
unchanged:
  file.managed:
    - name: /etc/quiet
nginx:
  service.running: []
php-fpm:
  service.running:
    - listen:
      - file: php-conf
quiet-service:
  service.running:
    - listen:
      - file: unchanged
after:
  test.nop: []
broken-listen:
  test.nop:
    - listen:
      - service: nosuch
`,
  });
  const { calls, results, byId } = await run(planned, {
    'nginx-conf': { changes: true },
    'site-conf': { changes: true },
    'php-conf': { changes: true },
  });
  assert.deepEqual(calls, [
    'nginx-conf',
    'site-conf',
    'php-conf',
    'unchanged',
    'nginx',
    'php-fpm',
    'quiet-service',
    'after',
    'broken-listen',
    'nginx:mod_watch',
    'php-fpm:mod_watch',
  ]);
  const listener = results['service_|-listener_nginx_|-nginx_|-mod_watch'];
  assert.equal(listener?.__id__, 'listener_nginx');
  assert.equal(listener?.__run_num__, 9, 'after every state of the run');
  assert.equal(byId.nginx?.comment, 'in the right state', 'the state itself ran as usual, in its place');
  assert.ok(results['service_|-listener_php-fpm_|-php-fpm_|-mod_watch']);
  assert.equal(results['service_|-listener_quiet-service_|-quiet-service_|-mod_watch'], undefined);
  assert.deepEqual(results['Listen_Error_|-listen_nosuch_|-listen_service_|-Listen_Error'], {
    name: 'listen_service:nosuch',
    result: false,
    comment: 'Referenced state service: nosuch does not exist',
    changes: {},
    duration: 0,
    start_time: results['Listen_Error_|-listen_nosuch_|-listen_service_|-Listen_Error']?.start_time,
    __run_num__: 11,
    __id__: 'listen_nosuch',
    __sls__: 'main',
  });
});

test('the _any forms: require_any, watch_any, onchanges_any, onfail_any need one target; onfail_all needs all', async () => {
  const planned = await plan({
    main: `
good:
  test.nop: []
bad:
  test.nop: []
changed:
  test.nop: []
require-any:
  test.nop:
    - require_any:
      - bad
      - good
require-all:
  test.nop:
    - require:
      - bad
      - good
watch-any:
  service.running:
    - watch_any:
      - bad
      - changed
onchanges-any:
  test.nop:
    - onchanges_any:
      - good
      - changed
onchanges-none:
  test.nop:
    - onchanges_any:
      - good
onfail-any:
  test.nop:
    - onfail_any:
      - good
      - bad
onfail-all-not-met:
  test.nop:
    - onfail_all:
      - good
      - bad
onfail-all-met:
  test.nop:
    - onfail_all:
      - bad
`,
  });
  const { byId, calls } = await run(planned, { bad: { fails: true }, changed: { changes: true } });
  assert.equal(byId['require-any']?.result, true);
  assert.equal(byId['require-all']?.comment, 'One or more requisite failed: main.bad');
  assert.ok(calls.includes('watch-any:mod_watch'), 'one watched state changed: mod_watch');
  assert.equal(byId['onchanges-any']?.comment, 'in the right state');
  assert.equal(byId['onchanges-none']?.comment, 'State was not run because none of the onchanges reqs changed');
  assert.equal(byId['onfail-any']?.comment, 'in the right state');
  assert.equal(byId['onfail-all-not-met']?.comment, 'State was not run because onfail req did not change');
  assert.equal(byId['onfail-all-met']?.comment, 'in the right state');
});

test('requisites by sls, by ID, by name and by glob; failhard does not stop a test=True run', async () => {
  const planned = await plan(
    {
      main: `
include:
  - lib
app-a:
  test.nop:
    - name: application-a
    - failhard: True
use-all:
  test.nop:
    - require:
      - sls: lib
      - test: application-*
      - app-a
`,
      lib: `
lib-one:
  test.nop: []
`,
    },
    ['main'],
  );
  const { byId } = await run(planned, { 'app-a': { fails: true } }, { test: true });
  assert.equal(byId['use-all']?.comment, 'One or more requisite failed: main.app-a', 'the run went on past failhard');
  const real = await run(planned, { 'app-a': { fails: true } });
  assert.equal(real.byId['use-all'], undefined, 'failhard stopped the run');
  assert.equal(real.haltedBy, 'test_|-app-a_|-application-a_|-nop');
});

test("exclude, as Salt's: by SLS glob and by ID, after includes, from any SLS of the run or from the call", async () => {
  const files: Record<string, string> = {
    main: `
include:
  - web
  - web.debug
  - db
exclude:
  - sls: web.*
  - id: db-tuning
app:
  test.nop:
    - require:
      - db-tuning
`,
    web: `
web-server:
  test.nop: []
`,
    'web.debug': `
web-debug:
  test.nop: []
`,
    db: `
db-server:
  test.nop: []
db-tuning:
  test.nop: []
`,
  };
  const ids = (planned: PlannedChunk[]): string[] => planned.map((p) => p.chunk.id).sort();
  const planned = await plan(files);
  assert.deepEqual(ids(planned), ['app', 'db-server', 'web-server'], 'web.debug (a glob match) and db-tuning left out');
  const { byId } = await run(planned);
  assert.match(String(byId.app?.comment), /requisites were not found/, 'a requisite on an excluded ID is not found');

  // state.sls's exclude= adds to the files' own; a plain string is an SLS name.
  const high = await buildHighState(
    [{ name: 'main', env: 'base' }],
    async (name) => {
      const text = files[name];
      if (text === undefined) return undefined;
      const { value, keyLines } = parseYaml(text, `salt://${name}.sls`);
      return { name, env: 'base', file: `${name}.sls`, data: value, keyLines };
    },
    ['db', { id: 'app' }],
  );
  assert.deepEqual(high.ids.map((decl) => decl.id).sort(), ['web-server']);

  await assert.rejects(
    plan({ main: 'exclude: {sls: web}\napp:\n  test.nop: []\n' }),
    (err: unknown) => err instanceof StateCompileError && /'exclude' must be a list/.test(err.message),
  );
});
