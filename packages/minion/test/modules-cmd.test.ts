import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobOutcome } from '../src/executor/index.js';
import { createTestExecutor, waitFor } from '../src/executor/testing.js';
import type { TestExecutor } from '../src/executor/testing.js';
import { runCommand } from '../src/modules/index.js';

let env: TestExecutor;
before(async () => {
  env = await createTestExecutor();
});
after(() => env.close());

/** Every test that waits on a job or a process is bounded, even if a kill were to fail. */
const bounded = { timeout: 20_000 };

let sequence = 0;
const run = (
  fun: string,
  args: unknown[] = [],
  kwargs: Record<string, unknown> = {},
  timeoutMs?: number,
): Promise<JobOutcome> =>
  env.executor.run({
    jid: String(20240202000000000000n + BigInt(++sequence)),
    fun,
    args,
    kwargs,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });

test(
  'cmd.run really runs sh and returns stdout with stderr merged, trailing whitespace stripped',
  bounded,
  async () => {
    const outcome = await run('cmd.run', ['echo out; echo err >&2; printf "\\n\\n"']);
    assert.equal(outcome.success, true);
    assert.equal(outcome.retcode, 0);
    assert.equal(outcome.ret, 'out\nerr');
    const interleaved = await run('cmd.run', ['for i in 1 2 3; do echo o$i; echo e$i >&2; done']);
    assert.equal(interleaved.ret, 'o1\ne1\no2\ne2\no3\ne3', 'merged at the descriptor, so the order is kept');
    assert.equal((await run('cmd.run', ['echo $0'])).ret, '/bin/sh', 'runs through /bin/sh by default');
    assert.equal((await run('cmd.run', ['printf "a  "'], { rstrip: false })).ret, 'a  ');
  },
);

test(
  'cmd.run: a non-zero exit code fails the job with that retcode and still returns the output',
  bounded,
  async () => {
    const outcome = await run('cmd.run', ['echo partial; exit 7']);
    assert.deepEqual([outcome.success, outcome.retcode, outcome.ret], [false, 7, 'partial']);
    const ignored = await run('cmd.run', ['exit 7'], { ignore_retcode: true });
    assert.deepEqual([ignored.success, ignored.retcode], [true, 0]);
    const killed = await run('cmd.run', ['kill -9 $$']);
    assert.equal(killed.retcode, 128 + 9, 'a shell killed by a signal reports 128 + N, as a shell would');
  },
);

test('cmd.retcode returns the exit code, which is also the job retcode', bounded, async () => {
  const zero = await run('cmd.retcode', ['true']);
  assert.deepEqual([zero.success, zero.retcode, zero.ret], [true, 0, 0]);
  const three = await run('cmd.retcode', ['exit 3']);
  assert.deepEqual([three.success, three.retcode, three.ret], [false, 3, 3]);
});

test('cmd.run_all returns stdout, stderr, retcode and pid separately', bounded, async () => {
  const outcome = await run('cmd.run_all', ['echo out; echo err >&2; echo $$; exit 2']);
  assert.equal(outcome.success, false);
  assert.equal(outcome.retcode, 2);
  const ret = outcome.ret as { pid: number; retcode: number; stdout: string; stderr: string };
  assert.equal(ret.retcode, 2);
  assert.equal(ret.stderr, 'err');
  assert.equal(ret.stdout, `out\n${ret.pid}`, 'pid is the shell that ran the command');
  assert.deepEqual(Object.keys(ret).sort(), ['pid', 'retcode', 'stderr', 'stdout']);
});

test('cwd, env and stdin reach the command', bounded, async () => {
  const dir = join(env.cacheDir, 'work dir');
  await mkdir(dir);
  assert.equal((await run('cmd.run', ['pwd'], { cwd: dir })).ret, await realpath(dir));
  const withEnv = await run('cmd.run', ['echo "$GREETING $COUNT $FLAG [$EMPTY]" ; echo ${PATH:+path-kept}'], {
    env: { GREETING: 'hello world', COUNT: 3, FLAG: true, EMPTY: null },
  });
  assert.equal(withEnv.ret, 'hello world 3 true []\npath-kept');
  assert.equal((await run('cmd.run', ['tr a-z A-Z'], { stdin: 'shout\n' })).ret, 'SHOUT');
  assert.equal((await run('cmd.run', ['cat; echo end'])).ret, 'end', 'without stdin the command reads end-of-file');
  assert.equal(
    (await run('cmd.run', ['true'], { stdin: 'x'.repeat(1_000_000) })).success,
    true,
    'unread stdin is no error',
  );
});

test('cmd.run: a relative or missing cwd and a missing shell are clear failures', bounded, async () => {
  assert.deepEqual(pick(await run('cmd.run', ['pwd'], { cwd: 'relative' })), {
    success: false,
    retcode: 1,
    ret: "ERROR: Specified cwd 'relative' either not absolute or does not exist",
  });
  assert.equal((await run('cmd.run', ['pwd'], { cwd: join(env.cacheDir, 'missing') })).success, false);
  assert.deepEqual(pick(await run('cmd.run', ['true'], { shell: '/no/such/shell' })), {
    success: false,
    retcode: 1,
    ret: 'ERROR: The shell /no/such/shell is not available',
  });
  assert.equal((await run('cmd.run', ['echo $0'], { shell: '/bin/bash' })).ret, '/bin/bash');
});

test('cmd.run validates its arguments and names the bad one', bounded, async () => {
  const cases: Array<[unknown[], Record<string, unknown>, RegExp]> = [
    [[], {}, /missing required argument 'cmd'/],
    [[''], {}, /argument 'cmd'/],
    [['true'], { timeout: -1 }, /argument 'timeout'/],
    [['true'], { env: { 'A=B': 'x' } }, /argument 'env:A=B'/],
    [['true'], { env: ['A=B'] }, /argument 'env'/],
    [
      ['true'],
      { python_shell: false },
      /python_shell=False is not supported: Phoenix runs every command through the shell/,
    ],
    [['true'], { shel: 'bash' }, /unexpected keyword argument 'shel'/],
    [['true\0false'], {}, /argument 'cmd': must not contain NUL bytes/],
  ];
  for (const [args, kwargs, expected] of cases) {
    const outcome = await run('cmd.run', args, kwargs);
    assert.equal(outcome.success, false, JSON.stringify(kwargs));
    assert.match(String(outcome.ret), /^Passed invalid arguments to cmd\.run: /);
    assert.match(String(outcome.ret), expected);
  }
});

test('cmd.run timeout stops the command and its children and fails the job', bounded, async () => {
  const started = performance.now();
  const outcome = await run('cmd.run', ['echo before; sleep 30'], { timeout: 0.2 });
  assert.ok(performance.now() - started < 5_000);
  assert.deepEqual(pick(outcome), {
    success: false,
    retcode: 1,
    ret: "before\nCommand 'echo before; sleep 30' timed out after 0.2 seconds and was stopped",
  });
  const all = (await run('cmd.run_all', ['sleep 30'], { timeout: 0.1 })).ret as { retcode: number; stderr: string };
  assert.equal(all.retcode, 1);
  assert.match(all.stderr, /timed out after 0.1 seconds/);
});

test('a command that leaves a background process holding its output still returns', bounded, async () => {
  const started = performance.now();
  const outcome = await run('cmd.run', ['sleep 30 & echo $!']);
  const background = Number(outcome.ret);
  try {
    assert.ok(background > 0);
    assert.ok(performance.now() - started < 5_000, 'did not wait for the background process');
  } finally {
    process.kill(background, 'SIGKILL');
  }
});

test('output beyond the cap is dropped and said to be', bounded, async () => {
  const controller = new AbortController();
  const result = await runCommand({
    command: 'head -c 5000 /dev/zero | tr "\\0" a; echo; echo tail >&2',
    shell: '/bin/sh',
    cwd: env.cacheDir,
    env: {},
    signal: controller.signal,
    maxOutputBytes: 1000,
  });
  assert.equal(result.retcode, 0);
  assert.match(result.stdout, /^a{1000}\n\[output truncated: 4001 more bytes were dropped\]$/);
  assert.equal(result.stderr, 'tail\n');
});

test('runCommand rejects with the abort reason and the process group is gone', bounded, async () => {
  const controller = new AbortController();
  let pid = 0;
  const pending = runCommand({
    command: 'sleep 30',
    shell: '/bin/sh',
    cwd: env.cacheDir,
    env: {},
    signal: controller.signal,
    killGraceMs: 100,
    onSpawn: (p) => {
      pid = p;
      controller.abort(new Error('stop'));
    },
  });
  await assert.rejects(pending, /stop/);
  assert.ok(pid > 0);
  await waitFor(() => {
    try {
      process.kill(-pid, 0);
      return false;
    } catch {
      return true;
    }
  }, 'the process group to be gone');
});

function pick(outcome: JobOutcome): Pick<JobOutcome, 'success' | 'retcode' | 'ret'> {
  return { success: outcome.success, retcode: outcome.retcode, ret: outcome.ret };
}

test(
  "Salt's keywords that only tune Salt's own logging or shell choice are accepted; cmd.shell, cmd.run_stdout and cmd.run_stderr",
  bounded,
  async () => {
    const piped = await run('cmd.run', ['echo a b | wc -w'], {
      python_shell: true,
      output_loglevel: 'quiet',
      hide_output: false,
      reset_system_locale: true,
      saltenv: 'base',
    });
    assert.deepEqual([piped.success, piped.ret], [true, '2']);
    assert.equal((await run('cmd.shell', ['echo $0'])).ret, '/bin/sh');
    assert.equal((await run('cmd.run_stdout', ['echo out; echo err >&2'])).ret, 'out');
    assert.equal((await run('cmd.run_stderr', ['echo out; echo err >&2'])).ret, 'err');
    const unknown = await run('cmd.run', ['true'], { runas_typo: 'x' });
    assert.match(String(unknown.ret), /unexpected keyword argument 'runas_typo'/);
  },
);
