// Runs every compiled test file with Node's own test runner, three at a time: the longest first, then
// the unit tests of each package (fast, no sockets), then the end-to-end tests in test/ that start
// real processes.
// Usage: node scripts/run-tests.js [--lint] [substring ...]  — only files whose path contains a
// substring; --lint also runs `npm run lint` alongside (its output shown at the end), and fails the
// run when it fails: the linters use the cores while the tests wait on their processes.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const withLint = process.argv.includes('--lint');
const filters = process.argv.slice(2).filter((arg) => arg !== '--lint');
/** Files that take a minute or more on two cores, longest first (measured with the whole suite). */
const LONGEST_FIRST = ['fresh-clone', 'dashboard-jobs', 'bench-chaos-smoke', 'salt-tree', 'failover', 'aws-states'];
// Three files at a time: most of a file's time is spent waiting on the processes it started (on two
// cores, two at a time kept the machine less than half busy). PHOENIX_TEST_CONCURRENCY overrides it.
const CONCURRENCY = Number(process.env.PHOENIX_TEST_CONCURRENCY ?? 3);
// A file's bound: the fresh clone's install and build take minutes when they share the cores.
const FILE_TIMEOUT_MS = 600_000;
const dirs = [...readdirSync('packages').map((p) => join('packages', p, 'dist', 'test')), join('test', 'dist')];
const files = dirs
  .filter((d) => existsSync(d))
  .flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.test.js'))
      .map((f) => join(d, f)),
  )
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  // The longest files start first, so the lanes end together instead of one waiting on the last.
  .sort((a, b) => rank(a) - rank(b));

function rank(file) {
  const at = LONGEST_FIRST.findIndex((name) => file.endsWith(`/${name}.test.js`));
  return at < 0 ? LONGEST_FIRST.length : at;
}

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Every process the tests start inherits this mark, even one that detaches into its own session
// (a detached `phoenix up` in a fresh clone). A test file the runner kills at its timeout runs no
// `after` hook, so what it started would outlive the suite: the mark finds it afterwards.
const RUN_MARK = `PHOENIX_TEST_RUN=${randomUUID()}`;
const lint = withLint ? run('npm', ['run', '-s', 'lint'], { stdio: ['ignore', 'pipe', 'pipe'] }) : undefined;
const tests = run(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${CONCURRENCY}`,
    `--test-timeout=${FILE_TIMEOUT_MS}`,
    '--test-reporter=spec',
    ...files,
  ],
  // The AWS SDK's notice that its 2027 releases need Node.js 22 is off in the tests too, as the
  // programs' launchers turn it off (packages/*/bin): the test processes build SDK clients themselves.
  {
    stdio: 'inherit',
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...process.env,
      PHOENIX_TEST_RUN: RUN_MARK.split('=')[1],
    },
  },
);
const [tested, linted] = await Promise.all([tests, lint]);
await stopLeftovers();
if (linted !== undefined) {
  process.stdout.write(
    `\n== npm run lint (alongside the tests): ${linted.code === 0 ? 'clean' : 'FAILED'}\n${linted.output}`,
  );
}
process.exit(tested.code !== 0 ? tested.code : (linted?.code ?? 0));

/** Runs a command to its end: its exit code (1 for a signal) and, when piped, what it printed. */
function run(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, options);
    const output = [];
    child.stdout?.on('data', (chunk) => output.push(chunk));
    child.stderr?.on('data', (chunk) => output.push(chunk));
    child.once('error', (err) => resolve({ code: 1, output: String(err) }));
    child.once('close', (code) => resolve({ code: code ?? 1, output: Buffer.concat(output).toString() }));
  });
}

/** The processes of this run still alive: given a few seconds to end, then named and killed. */
async function stopLeftovers() {
  const marked = () =>
    readdirSync('/proc')
      .filter((pid) => /^\d+$/.test(pid) && Number(pid) !== process.pid)
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(RUN_MARK);
        } catch {
          return false; // gone, or not ours to read
        }
      });
  if (!existsSync('/proc')) return;
  for (let i = 0; i < 50 && marked().length > 0; i++) await sleep(100);
  const left = marked();
  if (left.length === 0) return;
  for (const pid of left) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replaceAll('\0', ' ').trim();
    } catch {
      // it ended meanwhile
    }
    console.error(`run-tests: a test left process ${pid} running (${cmd.slice(0, 160)}): killed`);
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // it ended meanwhile
    }
  }
}
