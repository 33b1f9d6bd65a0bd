import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ManualClock } from '@phoenix/protocol';
import type { JobSummary } from '@phoenix/store';
import { JobSummaries, returnFailed } from '../src/job-summaries.js';

// What a job listing shows of a job's returns, kept by the master it was submitted on: on a manual
// clock, with the jobs table's write as a function (the write itself is tested in packages/store).

function summaries() {
  const clock = new ManualClock();
  const writes: Array<[string, JobSummary]> = [];
  const s = new JobSummaries({
    write: (jid, summary) => {
      writes.push([jid, summary]);
      return Promise.resolve();
    },
    everyMs: 1_000,
    clock,
    log: pino({ level: 'silent' }),
  });
  return { s, clock, writes };
}
const settle = () => new Promise((resolve) => setImmediate(resolve));
const ret = (minionId: string, receivedAt: number, success = true, value: unknown = true) => ({
  jid: 'j1',
  minionId,
  success,
  ret: value,
  receivedAt,
});

test('returns are counted once per minion, written at most once a second, and final when all returned', async () => {
  const { s, clock, writes } = summaries();
  s.follow('j1', ['a', 'b', 'c'], 60_000);
  s.heard(ret('a', 10));
  s.heard(ret('a', 11)); // a copy re-sent after a failover
  s.heard(ret('nobody', 12)); // not a minion of the job
  clock.advance(500);
  s.heard(ret('b', 20, false));
  await settle();
  assert.deepEqual(writes, [], 'nothing written within the second');
  clock.advance(500);
  await settle();
  assert.deepEqual(writes, [['j1', { returned: 2, failed: 1, lastReturnAt: 20 }]]);
  s.heard(ret('c', 30));
  await settle();
  assert.deepEqual(writes.at(-1), ['j1', { returned: 3, failed: 1, lastReturnAt: 30, final: true }]);
  clock.advance(120_000);
  s.heard(ret('c', 40));
  await settle();
  assert.equal(writes.length, 2, 'a finished job is followed no more: no timer left');
  assert.deepEqual(clock.pending(), []);
});

test("a job whose minions do not all return is final at its time; a stopping master's are written not final", async () => {
  const { s, clock, writes } = summaries();
  s.follow('j1', ['a', 'b'], 5_000);
  s.heard(ret('a', 10));
  clock.advance(5_000);
  await settle();
  assert.deepEqual(writes.at(-1), ['j1', { returned: 1, failed: 0, lastReturnAt: 10, final: true }]);
  s.follow('j2', ['a'], 5_000);
  await s.stop();
  assert.deepEqual(writes.at(-1), ['j2', { returned: 0, failed: 0 }]);
  assert.deepEqual(clock.pending(), []);
});

test('a state run with a failed state is a failed return, as the highstate outputter counts it', () => {
  const state = (result: boolean | null) => ({ 'file_|-motd_|-/etc/motd_|-managed': { result, comment: '' } });
  assert.equal(returnFailed(true, state(true)), false);
  assert.equal(returnFailed(true, state(null)), false, 'test=True predicts: not a failure');
  assert.equal(returnFailed(true, { ...state(true), 'cmd_|-x_|-exit 3_|-run': { result: false } }), true);
  assert.equal(returnFailed(false, 'anything'), true);
  assert.equal(returnFailed(true, { result: false }), false, 'not a state run: the minion said success');
});
