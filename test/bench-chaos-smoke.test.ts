import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useTempDir } from '@phoenix/devstack/testing';

const dir = useTempDir('phoenix-bench-chaos-');
const benchRun = fileURLToPath(new URL('../../bench/dist/run.js', import.meta.url));

interface Chaos {
  n: number;
  faults: Array<{
    fault: string;
    victim: string;
    victimHeld: number;
    recoveryMs: number | null;
    eachAnsweredMs: number | null;
  }>;
  failback: { ms: number | null; onPreferred: number; of: number; boundMs: number };
  ledger: Record<'jobs' | 'expected' | 'lostJobs' | 'lostReturns' | 'duplicatedJobs' | 'unread', number>;
  duplicatedReturns: number;
}

const count = (value: number, what: string): void => {
  assert.ok(Number.isInteger(value) && value >= 0, `${what} is a count (got ${value})`);
};

// The scenario measures whatever the cluster does: the test checks that it runs through every fault
// and reports each figure, not what the figures are (speed and loss are the benchmark's to show).
test(
  'the chaos scenario runs every fault at N=5 and reports recovery, failback and the ledger',
  { timeout: 290_000 },
  async () => {
    const out: string[] = [];
    const child = spawn(
      process.execPath,
      [benchRun, '--n', '', '--highstate', '0', '--chaos', '5', '--chaos-rounds', '1', '--out-dir', dir()],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => out.push(chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 280_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, out.join(''));

    const { chaos } = JSON.parse(await readFile(join(dir(), 'results.json'), 'utf8')) as { chaos: Chaos };
    assert.equal(chaos.n, 5);
    assert.deepEqual(
      chaos.faults.map((f) => f.fault),
      ['kill -9', 'SIGSTOP', 'restart storm, round 1'],
    );
    for (const fault of chaos.faults) {
      assert.match(fault.victim, /^chaos-master-\d+$/);
      count(fault.victimHeld, `${fault.fault}: minions held`);
      assert.ok(fault.recoveryMs === null || fault.recoveryMs > 0, `${fault.fault}: a recovery time or none`);
      // Each minion answered some probe no later than the first probe all of them answered.
      if (fault.recoveryMs !== null)
        assert.ok(
          fault.eachAnsweredMs !== null && fault.eachAnsweredMs > 0 && fault.eachAnsweredMs <= fault.recoveryMs,
          `${fault.fault}: each answered after ${fault.eachAnsweredMs} ms, all in one job after ${fault.recoveryMs} ms`,
        );
    }
    assert.equal(chaos.failback.of, 5);
    count(chaos.failback.onPreferred, 'minions back on their first choice');
    assert.equal(chaos.ledger.jobs, 3, 'one ledger job per fault');
    assert.equal(chaos.ledger.expected, 15, 'each addressed to every minion');
    for (const key of ['lostJobs', 'lostReturns', 'duplicatedJobs', 'unread'] as const) count(chaos.ledger[key], key);
    assert.ok(chaos.ledger.lostJobs + chaos.ledger.lostReturns + chaos.ledger.unread <= chaos.ledger.expected);
    count(chaos.duplicatedReturns, 'duplicated returns');
    const md = await readFile(join(dir(), 'results.md'), 'utf8');
    assert.match(md, /\| kill -9 \| chaos-master-\d+ \| \d+ \| (\d+ ms|not within the bound) \|/);
    assert.match(md, /lost jobs \d+, lost returns \d+, duplicated jobs \d+/);
  },
);
