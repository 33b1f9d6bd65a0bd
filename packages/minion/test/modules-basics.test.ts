import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { JobOutcome } from '../src/executor/index.js';
import { createTestExecutor, waitFor } from '../src/executor/testing.js';
import type { TestExecutor } from '../src/executor/testing.js';
import {
  ModuleRegistry,
  builtinModules,
  createModuleRegistry,
  defineFunction,
  globMatcher,
} from '../src/modules/index.js';

let env: TestExecutor;
before(async () => {
  env = await createTestExecutor({ version: '1.2.3' });
});
after(() => env.close());

/** Every test that waits on a job or a process is bounded, even if a kill were to fail. */
const bounded = { timeout: 20_000 };

let sequence = 0;
const nextJid = (): string => String(20240303000000000000n + BigInt(++sequence));
const run = (fun: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<JobOutcome> =>
  env.executor.run({ jid: nextJid(), fun, args, kwargs });

test('test.ping, test.echo and test.version', bounded, async () => {
  assert.equal((await run('test.ping')).ret, true);
  assert.equal((await run('test.echo', ['hello world'])).ret, 'hello world');
  assert.equal((await run('test.echo', [], { text: 'by name' })).ret, 'by name');
  assert.equal((await run('test.version')).ret, '1.2.3');
});

test('test.sleep waits its length and returns true; kill_job stops it early', bounded, async () => {
  const started = performance.now();
  const short = await run('test.sleep', [0.05]);
  assert.equal(short.ret, true);
  assert.ok(performance.now() - started >= 45);

  const jid = nextJid();
  const long = env.executor.run({ jid, fun: 'test.sleep', args: [30], kwargs: {} });
  await waitFor(() => env.executor.isRunning(jid), 'the sleep to be running');
  const killStarted = performance.now();
  assert.equal((await run('saltutil.kill_job', [jid])).ret, true);
  assert.equal((await long).success, false);
  assert.ok(performance.now() - killStarted < 1_000);
  assert.match(String((await run('test.sleep', ['ten'])).ret), /argument 'length'/);
  assert.match(String((await run('test.sleep', [-1])).ret), /argument 'length'/);
});

test(
  'saltutil.running lists other running jobs with their arguments, and is_running matches a glob',
  bounded,
  async () => {
    const jid = nextJid();
    const sleeping = env.executor.run({ jid, fun: 'test.sleep', args: [], kwargs: { length: 30 } });
    await waitFor(() => env.executor.isRunning(jid), 'the sleep to be running');
    const running = (await run('saltutil.running')).ret as Array<Record<string, unknown>>;
    assert.equal(running.length, 1, 'the saltutil.running job does not list itself');
    assert.deepEqual(
      { ...running[0], startedAt: 0 },
      {
        jid,
        fun: 'test.sleep',
        args: [],
        kwargs: { length: 30 },
        startedAt: 0,
        pid: null,
      },
    );
    assert.equal(((await run('saltutil.is_running', ['test.sl*'])).ret as unknown[]).length, 1);
    assert.equal(((await run('saltutil.is_running', ['test.sleep'])).ret as unknown[]).length, 1);
    assert.deepEqual((await run('saltutil.is_running', ['cmd.*'])).ret, []);
    assert.deepEqual((await run('saltutil.is_running', ['saltutil.*'])).ret, [], 'nor does is_running');
    env.executor.kill(jid);
    await sleeping;
    assert.deepEqual((await run('saltutil.running')).ret, []);
  },
);

test('saltutil.kill_job of a jid that is not running is a clear failure', bounded, async () => {
  const outcome = await run('saltutil.kill_job', ['20990101000000000000']);
  assert.deepEqual([outcome.success, outcome.retcode], [false, 1]);
  assert.equal(
    outcome.ret,
    'ERROR: no job with jid 20990101000000000000 is running on this minion (see saltutil.running)',
  );
});

test('sys.list_modules and sys.list_functions, with module names and globs as in Salt', bounded, async () => {
  assert.deepEqual((await run('sys.list_modules')).ret, ['cmd', 'event', 'grains', 'saltutil', 'sys', 'test']);
  assert.deepEqual((await run('sys.list_modules', ['s*'])).ret, ['saltutil', 'sys']);
  const all = (await run('sys.list_functions')).ret as string[];
  assert.ok(all.includes('test.ping') && all.includes('cmd.run_all') && all.includes('grains.setval'));
  assert.deepEqual(all, [...all].sort());
  assert.deepEqual((await run('sys.list_functions', ['test'])).ret, [
    'test.arg',
    'test.echo',
    'test.false',
    'test.ping',
    'test.sleep',
    'test.true',
    'test.version',
  ]);
  assert.deepEqual((await run('sys.list_functions', ['cmd.run*'])).ret, [
    'cmd.run',
    'cmd.run_all',
    'cmd.run_stderr',
    'cmd.run_stdout',
  ]);
  assert.deepEqual((await run('sys.list_functions', ['cmd.run'])).ret, ['cmd.run']);
  assert.deepEqual((await run('sys.list_functions', ['s'])).ret, [], "'s' is a module name, not a prefix");
  assert.deepEqual((await run('sys.list_functions', ['t?st.[ep]*'])).ret, ['test.echo', 'test.ping']);
  assert.deepEqual((await run('test.arg', [1, 'two'], { three: 3 })).ret, { args: [1, 'two'], kwargs: { three: 3 } });
});

test('sys.doc returns the documentation of a function, a module or everything', bounded, async () => {
  const one = (await run('sys.doc', ['test.ping'])).ret as Record<string, string>;
  assert.deepEqual(Object.keys(one), ['test.ping']);
  assert.match(one['test.ping'] ?? '', /CLI Example: phoenix run '\*' test.ping/);
  const cmd = (await run('sys.doc', ['cmd'])).ret as Record<string, string>;
  assert.deepEqual(Object.keys(cmd), [
    'cmd.retcode',
    'cmd.run',
    'cmd.run_all',
    'cmd.run_stderr',
    'cmd.run_stdout',
    'cmd.shell',
  ]);
  const everything = (await run('sys.doc')).ret as Record<string, string>;
  assert.deepEqual(Object.keys(everything), (await run('sys.list_functions')).ret);
  assert.ok(Object.values(everything).every((doc) => doc.length > 0));
  assert.deepEqual((await run('sys.doc', ['nope'])).ret, {});
});

test('the registry is immutable: with() makes a new one, and duplicate modules are refused', () => {
  const base = createModuleRegistry();
  const extended = base.with({
    name: 'extra',
    functions: { hello: defineFunction({ doc: 'hi', schema: z.strictObject({}), run: () => 'hi' }) },
  });
  assert.equal(base.get('extra.hello'), undefined);
  assert.ok(extended.get('extra.hello'));
  assert.deepEqual(extended.get('test.echo')?.params, ['text']);
  assert.deepEqual(base.get('cmd.run')?.params.slice(0, 3), ['cmd', 'cwd', 'stdin']);
  assert.throws(() => new ModuleRegistry([...builtinModules, ...builtinModules]), {
    code: 'PHX_EXEC_DUPLICATE_MODULE',
  });
  assert.ok(Object.isFrozen(builtinModules));
});

test('globMatcher follows fnmatch', () => {
  const cases: Array<[string, string, boolean]> = [
    ['test.*', 'test.ping', true],
    ['test.*', 'tests.ping', false],
    ['*.run', 'cmd.run', true],
    ['cmd.run', 'cmd.run_all', false],
    ['cmd.run?all', 'cmd.run_all', true],
    ['[ct]*.run', 'cmd.run', true],
    ['[!c]*.run', 'cmd.run', false],
    ['a[b', 'a[b', true],
    ['a.b', 'axb', false],
    ['(x|y)', '(x|y)', true],
  ];
  for (const [pattern, name, expected] of cases)
    assert.equal(globMatcher(pattern)(name), expected, `${pattern} ~ ${name}`);
});
