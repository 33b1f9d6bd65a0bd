import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ExecutionError } from '../src/executor/index.js';
import type { Job, JobOutcome } from '../src/executor/index.js';
import { createTestExecutor, waitFor } from '../src/executor/testing.js';
import type { TestExecutor } from '../src/executor/testing.js';
import { createModuleRegistry, defineFunction } from '../src/modules/index.js';
import type { ExecutionModule } from '../src/modules/index.js';

/** Functions that misbehave on purpose. */
const boomModule: ExecutionModule = {
  name: 'boom',
  functions: {
    throws: defineFunction({
      doc: 'throws',
      schema: z.strictObject({}),
      run: () => Promise.reject(new TypeError('kaboom')),
    }),
    throws_sync: defineFunction({
      doc: 'throws before any await',
      schema: z.strictObject({}),
      run: () => {
        throw new RangeError('synchronous kaboom');
      },
    }),
    throws_string: defineFunction({
      doc: 'throws a non-Error',
      schema: z.strictObject({}),
      run: () => Promise.reject('just a string'),
    }),
    fails_cleanly: defineFunction({
      doc: 'an ExecutionError',
      schema: z.strictObject({}),
      run: () => {
        throw new ExecutionError('the disk is full; free some space');
      },
    }),
    result_false: defineFunction({
      doc: 'Salt state-style failure',
      schema: z.strictObject({}),
      run: () => ({ result: false }),
    }),
    retcode: defineFunction({
      doc: 'sets a retcode',
      schema: z.strictObject({ code: z.int() }),
      run: ({ code }, ctx) => {
        ctx.setRetcode(code);
        return 'done';
      },
    }),
    nothing: defineFunction({ doc: 'returns undefined', schema: z.strictObject({}), run: () => undefined }),
    deaf: defineFunction({
      doc: 'never settles and never watches its signal',
      schema: z.strictObject({}),
      run: () => new Promise<never>(() => undefined),
    }),
  },
};

let env: TestExecutor;
before(async () => {
  env = await createTestExecutor({ modules: createModuleRegistry([boomModule]) });
});
after(() => env.close());

/** Every test that waits on a job or a process is bounded, even if a kill were to fail. */
const bounded = { timeout: 20_000 };

let sequence = 0;
/** Jids unique within this file, shaped like real ones. */
const nextJid = (): string => String(20240101000000000000n + BigInt(++sequence));
const job = (
  fun: string,
  args: unknown[] = [],
  kwargs: Record<string, unknown> = {},
  extra: Partial<Job> = {},
): Job => ({
  jid: nextJid(),
  fun,
  args,
  kwargs,
  ...extra,
});
const run = (fun: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<JobOutcome> =>
  env.executor.run(job(fun, args, kwargs));

/** Alive and not a zombie (an orphan waits for init to reap it, which a container's init may never do). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

test('test.ping succeeds with retcode 0 and timestamps from the clock', bounded, async () => {
  const before = Date.now();
  const outcome = await run('test.ping');
  assert.deepEqual(
    { ...outcome, startedAt: 0, finishedAt: 0 },
    {
      success: true,
      retcode: 0,
      ret: true,
      startedAt: 0,
      finishedAt: 0,
    },
  );
  assert.ok(outcome.startedAt >= before && outcome.finishedAt >= outcome.startedAt && outcome.finishedAt <= Date.now());
});

test('an unknown function is a failed outcome worded like Salt', bounded, async () => {
  assert.deepEqual(pick(await run('foo.bar')), { success: false, retcode: 1, ret: "'foo.bar' is not available." });
  assert.deepEqual(pick(await run('testping')), { success: false, retcode: 1, ret: "'testping' is not available." });
});

test('bad arguments are failed outcomes that name the argument', bounded, async () => {
  const cases: Array<[unknown[], Record<string, unknown>, string]> = [
    [[], {}, "missing required argument 'text'"],
    [[42], {}, "argument 'text': Invalid input: expected string, received number"],
    [['a', 'b'], {}, 'takes at most 1 positional argument (text) but 2 were given'],
    [['a'], { text: 'b' }, "got multiple values for argument 'text'"],
    [[], { text: 'a', colour: 'red' }, "unexpected keyword argument 'colour'"],
  ];
  for (const [args, kwargs, message] of cases) {
    const outcome = await run('test.echo', args, kwargs);
    assert.deepEqual(pick(outcome), {
      success: false,
      retcode: 1,
      ret: `Passed invalid arguments to test.echo: ${message}`,
    });
  }
  const proto = await run(
    'test.echo',
    [],
    JSON.parse('{"__proto__": {"polluted": true}, "text": "a"}') as Record<string, unknown>,
  );
  assert.equal(proto.ret, "Passed invalid arguments to test.echo: unexpected keyword argument '__proto__'");
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const ping = await run('test.ping', ['extra']);
  assert.equal(ping.ret, 'Passed invalid arguments to test.ping: takes no positional arguments but 1 was given');
});

test('a function that throws gives a failed outcome with its message, never an exception', bounded, async () => {
  assert.deepEqual(pick(await run('boom.throws')), {
    success: false,
    retcode: 1,
    ret: 'The minion function caused an exception: TypeError: kaboom',
  });
  assert.equal(
    (await run('boom.throws_sync')).ret,
    'The minion function caused an exception: RangeError: synchronous kaboom',
  );
  assert.equal((await run('boom.throws_string')).ret, 'The minion function caused an exception: just a string');
  assert.deepEqual(pick(await run('boom.fails_cleanly')), {
    success: false,
    retcode: 1,
    ret: 'ERROR: the disk is full; free some space',
  });
  assert.equal(env.executor.running().length, 0, 'failed jobs leave the running table');
});

test('the retcode comes from setRetcode, or from a result/success false mapping as in Salt', bounded, async () => {
  assert.deepEqual(pick(await run('boom.retcode', [3])), { success: false, retcode: 3, ret: 'done' });
  assert.deepEqual(pick(await run('boom.retcode', [0])), { success: true, retcode: 0, ret: 'done' });
  assert.deepEqual(pick(await run('boom.result_false')), { success: false, retcode: 1, ret: { result: false } });
  assert.deepEqual(pick(await run('boom.nothing')), { success: true, retcode: 0, ret: null });
});

test('two jobs run concurrently: one only finishes because the other ran meanwhile', bounded, async () => {
  const marker = join(env.cacheDir, 'second-started');
  // The first job waits (bounded by its own timeout) for a file that only the second job creates.
  const first = run('cmd.run', [`while [ ! -f '${marker}' ]; do sleep 0.01; done; echo first`], { timeout: 10 });
  const second = run('cmd.run', [`touch '${marker}'; echo second`]);
  const [a, b] = await Promise.all([first, second]);
  assert.deepEqual(pick(a), { success: true, retcode: 0, ret: 'first' });
  assert.deepEqual(pick(b), { success: true, retcode: 0, ret: 'second' });
  assert.ok(a.startedAt <= b.finishedAt && b.startedAt <= a.finishedAt, 'the two runs overlap in time');
});

test('two sleeps run side by side: together they take less than one after the other', bounded, async () => {
  const seconds = 0.3;
  const started = performance.now();
  const outcomes = await Promise.all([run('test.sleep', [seconds]), run('test.sleep', [seconds])]);
  const elapsed = performance.now() - started;
  assert.ok(outcomes.every((o) => o.success));
  assert.ok(elapsed >= seconds * 1000 - 5, `took ${elapsed} ms`);
  assert.ok(elapsed < 2 * seconds * 1000, `took ${elapsed} ms, as long as running them in turn`);
});

test(
  'saltutil.kill_job stops a running `sleep 30` and its whole process group; the job returns failed quickly',
  bounded,
  async () => {
    const pidFile = join(env.cacheDir, 'background.pid');
    const target = job('cmd.run', [`sleep 30 & echo $! > '${pidFile}'; sleep 30`]);
    const started = performance.now();
    const outcome = env.executor.run(target);

    const running = await waitFor(
      () => env.executor.running().find((j) => j.jid === target.jid && j.pid !== null),
      'the job to show its child in saltutil.running',
    );
    assert.deepEqual(running.args, target.args);
    const background = Number(await waitFor(() => readFile(pidFile, 'utf8').catch(() => undefined), 'the pid file'));
    const listed = await run('saltutil.running');
    assert.deepEqual(
      (listed.ret as Array<{ jid: string }>).map((j) => j.jid),
      [target.jid],
    );
    assert.equal(((await run('saltutil.is_running', ['cmd.*'])).ret as unknown[]).length, 1);
    assert.deepEqual((await run('saltutil.is_running', ['test.*'])).ret, []);

    const kill = await run('saltutil.kill_job', [target.jid]);
    assert.deepEqual(pick(kill), { success: true, retcode: 0, ret: true });
    const killed = await outcome;
    const elapsed = performance.now() - started;
    assert.deepEqual(pick(killed), { success: false, retcode: 1, ret: `Job ${target.jid} was killed` });
    assert.ok(elapsed < 5_000, `the killed job took ${elapsed} ms to return`);
    assert.equal(env.executor.isRunning(target.jid), false);

    const pid = running.pid as number;
    await waitFor(() => !isAlive(pid) && !isAlive(background), 'the shell and its background sleep to be gone');
    const again = await run('saltutil.kill_job', [target.jid]);
    assert.equal(again.success, false);
    assert.match(String(again.ret), /no job with jid \d+ is running/);
  },
);

test('a job timeout stops the job and its child; the outcome says it timed out', bounded, async () => {
  const timed = job('cmd.run', ['sleep 30'], {}, { timeoutMs: 200 });
  const started = performance.now();
  const pending = env.executor.run(timed);
  const pid = (await waitFor(
    () => env.executor.running().find((j) => j.jid === timed.jid)?.pid,
    'the child',
  )) as number;
  const outcome = await pending;
  assert.deepEqual(pick(outcome), {
    success: false,
    retcode: 1,
    ret: `Job ${timed.jid} timed out after 200 ms and was stopped`,
  });
  assert.ok(performance.now() - started < 5_000);
  await waitFor(() => !isAlive(pid), 'the timed-out child to be gone');
});

test('a function that ignores its signal is still returned as killed at once', bounded, async () => {
  const stuck = job('boom.deaf');
  const pending = env.executor.run(stuck);
  await waitFor(() => env.executor.isRunning(stuck.jid), 'the job to be running');
  assert.equal(env.executor.kill(stuck.jid), true);
  assert.equal((await pending).success, false);
  assert.equal(env.executor.kill(stuck.jid), false, 'it is no longer running');
  const timed = await env.executor.run(job('boom.deaf', [], {}, { timeoutMs: 50 }));
  assert.match(String(timed.ret), /timed out after 50 ms/);
});

test('a job re-sent while it runs joins the run instead of starting a second one', bounded, async () => {
  const sleeper = job('test.sleep', [30]);
  const first = env.executor.run(sleeper);
  const second = env.executor.run({ ...sleeper });
  assert.equal(first, second);
  assert.equal(env.executor.running().filter((j) => j.jid === sleeper.jid).length, 1);
  env.executor.kill(sleeper.jid);
  assert.equal((await first).success, false);
});

test('the running table is a frozen copy', bounded, async () => {
  const sleeper = job('test.sleep', [30]);
  const pending = env.executor.run(sleeper);
  const table = env.executor.running();
  assert.ok(Object.isFrozen(table) && Object.isFrozen(table[0]) && Object.isFrozen(table[0]?.args));
  assert.throws(() => (table as unknown as unknown[]).push('x'));
  env.executor.kill(sleeper.jid);
  await pending;
});

test('two executors in one process share no state', bounded, async () => {
  const other = await createTestExecutor({ minionId: 'other-minion', version: '9.9.9' });
  try {
    const shared = nextJid();
    const pending = env.executor.run({ jid: shared, fun: 'test.sleep', args: [30], kwargs: {} });
    assert.deepEqual(other.executor.running(), []);
    assert.equal(other.executor.kill(shared), false, 'one minion cannot kill another minion’s job');
    const same = await other.executor.run({ jid: shared, fun: 'test.echo', args: ['independent'], kwargs: {} });
    assert.equal(same.ret, 'independent', 'the same jid runs on its own in the other executor');
    assert.equal(env.executor.isRunning(shared), true);

    await env.executor.run(job('grains.setval', ['only_here', 1]));
    assert.equal(env.grains.items().only_here, 1);
    assert.equal(other.grains.items().only_here, undefined);
    assert.equal((await other.executor.run(job('test.version'))).ret, '9.9.9');
    assert.equal((await env.executor.run(job('test.version'))).ret, '0.0.0-test');
    assert.equal((await other.executor.run(job('boom.throws'))).ret, "'boom.throws' is not available.");

    env.executor.kill(shared);
    await pending;
  } finally {
    await other.close();
  }
});

function pick(outcome: JobOutcome): Pick<JobOutcome, 'success' | 'retcode' | 'ret'> {
  return { success: outcome.success, retcode: outcome.retcode, ret: outcome.ret };
}
