import { afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { JidGenerator } from '@phoenix/protocol';
import type { JobRecord } from '@phoenix/store';
import { RecentJobs, TABLE_READ_LAG_MS, type DispatchedJob } from '../src/recent-jobs.js';

// What a master owes a minion that connects: on a fake clock, with the jobs table as a function
// (the table's own query is tested against DynamoDB in packages/store).

const START = Date.parse('2030-06-01T12:00:00Z');
beforeEach(() => mock.timers.enable({ apis: ['Date'], now: START }));
afterEach(() => mock.timers.reset());

const jids = new JidGenerator({ random: () => 0 });
const job = (expected: string[], extra: Partial<DispatchedJob> = {}): DispatchedJob => ({
  jid: jids.next(Date.now()),
  fun: 'test.ping',
  args: [],
  kwargs: {},
  expected,
  ...extra,
});
const record = (j: DispatchedJob): JobRecord => ({
  ...j,
  target: '*',
  targetType: 'glob',
  submitter: 'alice',
  originMaster: 'm-frozen',
  createdAt: Date.now(),
  day: '2030-06-01',
  expiresAt: 0,
});

function recent(table: DispatchedJob[] = [], calls: number[] = []): RecentJobs {
  return new RecentJobs({
    windowMs: 600_000,
    defaultTimeoutMs: 30_000,
    listSince: async (fromMs) => {
      calls.push(fromMs);
      return table.map(record);
    },
  });
}

test('a connecting minion is owed the jobs that targeted it, within their time, that it has not seen', async () => {
  const jobs = recent();
  const ping = job(['web-1', 'web-2']);
  const other = job(['db-1']);
  const seenOne = job(['web-1']);
  const offline = job(['web-1'], { notConnected: ['web-1'] });
  for (const j of [ping, other, seenOne, offline]) jobs.note(j);
  const owed = await jobs.owedTo('web-1', new Set([seenOne.jid]));
  assert.deepEqual(
    owed.map((j) => j.jid),
    [ping.jid],
    'not another minion’s, not one it has seen, not one sent while it was connected nowhere',
  );
  mock.timers.tick(30_000);
  assert.deepEqual(await jobs.owedTo('web-2', new Set()), [], 'past the default timeout');
});

test('a job’s own timeout counts, up to the window', async () => {
  const jobs = recent();
  const long = job(['web-1'], { timeoutMs: 3_600_000 });
  jobs.note(long);
  mock.timers.tick(599_999);
  assert.equal((await jobs.owedTo('web-1', new Set())).length, 1);
  mock.timers.tick(1);
  assert.equal((await jobs.owedTo('web-1', new Set())).length, 0, 'never older than the window');
});

test('jobs only the table knows (stored by a master that froze) are owed too; minions connecting together share one read', async () => {
  const lost = job(['web-1', 'web-2']);
  const calls: number[] = [];
  const jobs = recent([lost], calls);
  const [a, b] = await Promise.all([jobs.owedTo('web-1', new Set()), jobs.owedTo('web-2', new Set())]);
  assert.deepEqual([a.map((j) => j.jid), b.map((j) => j.jid)], [[lost.jid], [lost.jid]]);
  assert.deepEqual(calls, [START - 600_000], 'one read, of the window');
  mock.timers.tick(1_000);
  await jobs.owedTo('web-1', new Set());
  assert.equal(calls.length, 2, 'read again a second later');
});

test('the table’s copy says who was not connected, where a peer’s forward did not', async () => {
  const forwarded = job(['web-1']);
  const jobs = recent([{ ...forwarded, notConnected: ['web-1'] }]);
  jobs.note(forwarded);
  assert.deepEqual(await jobs.owedTo('web-1', new Set()), []);
});

test('after its first read, the table is asked only for jobs created since the last read (less a lag for slow stores), not the whole window', async () => {
  // Seen in a chaos run: every read took the whole window's jobs (hundreds, each naming 1,000
  // minions), once a second on a master taking a herd, and a minion that connected waited 4.8 s
  // for a job it had missed.
  const calls: number[] = [];
  const jobs = recent([], calls);
  await jobs.owedTo('web-1', new Set());
  mock.timers.tick(5_000);
  await jobs.owedTo('web-1', new Set());
  assert.deepEqual(calls, [START - 600_000, START - TABLE_READ_LAG_MS]);
  mock.timers.tick(60_000);
  await jobs.owedTo('web-1', new Set());
  assert.equal(calls[2], START + 5_000 - TABLE_READ_LAG_MS);
});

test('what a master holds in memory is owed at once, without waiting for the table', async () => {
  let release: () => void = () => undefined;
  const jobs = new RecentJobs({
    windowMs: 600_000,
    defaultTimeoutMs: 30_000,
    listSince: () => new Promise((resolve) => (release = () => resolve([]))),
  });
  const ping = job(['web-1']);
  jobs.note(ping);
  assert.deepEqual(
    jobs.owedNow('web-1', new Set()).map((j) => j.jid),
    [ping.jid],
  );
  const fromTable = jobs.owedTo('web-1', new Set([ping.jid]));
  release();
  assert.deepEqual(await fromTable, []);
});
