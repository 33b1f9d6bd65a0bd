import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeenJobs } from '../src/connection/seen-jobs.js';

test('a jid is new once; the newest go first; the count and the age are bounded', () => {
  let now = 0;
  const seen = new SeenJobs({ max: 3, keepMs: 1_000, now: () => now });
  assert.equal(seen.add('j1'), true);
  assert.equal(seen.add('j1'), false, 'a job sent again is not new');
  seen.add('j2');
  seen.add('j3');
  assert.deepEqual(seen.newest(2), ['j3', 'j2']);
  seen.add('j4');
  assert.equal(seen.has('j1'), false, 'the oldest went beyond the bound');
  assert.equal(seen.size, 3);
  now = 1_000;
  assert.deepEqual(seen.newest(10), [], 'forgotten once older than any job may be sent again');
});
