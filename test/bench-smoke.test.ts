import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useTempDir } from '@phoenix/devstack/testing';

const dir = useTempDir('phoenix-bench-smoke-');
const benchRun = fileURLToPath(new URL('../../bench/dist/run.js', import.meta.url));

interface Results {
  date: string;
  repeats: number;
  machine: { cores: number; memoryGiB: number; node: string };
  scenarios: Array<{
    n: number;
    fanOut: Record<'p50Ms' | 'p99Ms' | 'maxMs' | 'allReturnedMs', number>;
    baseline: { allAnsweredMs: number };
    ratio: number;
    cost: { masterRssKbPerMinion: number; masterCpuMsPerJob: number; swarmStartMs: number };
    cli: { phoenixRunMs: number; nodeMs: number; ratio: number };
  }>;
  gitfs: { masters: number; allServingMs: number };
  highstate: {
    states: number;
    wholeCommandMs: number;
    inStatesMs: number;
    outsideStatesMs: number;
    callPingMs: number;
    nodeMs: number;
  };
}

const positive = (value: number, what: string): void => {
  assert.ok(Number.isFinite(value) && value > 0, `${what} is positive and finite (got ${value})`);
};

test('the benchmark runs end to end at N=5 and writes results.json and results.md', { timeout: 90_000 }, async () => {
  const out: string[] = [];
  const child = spawn(
    process.execPath,
    [benchRun, '--n', '5', '--repeats', '1', '--highstate', '20', '--out-dir', dir()],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => out.push(chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGTERM'), 80_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, out.join(''));

  const results = JSON.parse(await readFile(join(dir(), 'results.json'), 'utf8')) as Results;
  assert.equal(results.repeats, 1);
  positive(results.machine.cores, 'cores');
  positive(results.machine.memoryGiB, 'memory');
  assert.match(results.machine.node, /^v\d+/);
  assert.ok(!Number.isNaN(Date.parse(results.date)), 'the run date is a date');
  assert.equal(results.scenarios.length, 1);
  const [scenario] = results.scenarios;
  assert.ok(scenario !== undefined);
  assert.equal(scenario.n, 5);
  for (const [key, value] of Object.entries(scenario.fanOut)) positive(value, `fan-out ${key}`);
  assert.ok(scenario.fanOut.p50Ms <= scenario.fanOut.p99Ms && scenario.fanOut.p99Ms <= scenario.fanOut.maxMs);
  positive(scenario.baseline.allAnsweredMs, 'baseline');
  positive(scenario.ratio, 'ratio');
  positive(scenario.cost.masterCpuMsPerJob, 'CPU per job');
  positive(scenario.cost.swarmStartMs, 'swarm start');
  positive(scenario.cli.phoenixRunMs, "the whole phoenix run '*' test.ping");
  positive(scenario.cli.nodeMs, 'node -e 0');
  positive(scenario.cli.ratio, 'the CLI ratio');
  // RSS per minion may be noisy at N=5 (a GC can shrink it), but it is a finite number.
  assert.ok(Number.isFinite(scenario.cost.masterRssKbPerMinion));

  assert.equal(results.highstate.states, 20, 'the no-change highstate ran its whole tree');
  for (const [key, value] of Object.entries(results.highstate)) positive(value, `highstate ${key}`);

  assert.equal(results.gitfs.masters, 3, 'the git update was timed across three masters');
  positive(results.gitfs.allServingMs, 'update to every master serving the new commit');

  const md = await readFile(join(dir(), 'results.md'), 'utf8');
  assert.match(md, /Git roots: `fileserver update` on one of 3 masters/);
  assert.match(md, /No-change highstate of a 20-state tree/);
  assert.match(md, /^# Phoenix benchmark/);
  assert.match(md, /\| 5 \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
  assert.match(md, /`phoenix run '\*' test\.ping` ms/);
});
