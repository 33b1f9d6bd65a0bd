import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWindow } from '../src/runs/batch-window.js';

test('at most `size` run at once; a place frees as a minion finishes', () => {
  const window = new BatchWindow({ size: 2, waitMs: 0, allowance: undefined });
  assert.equal(window.free(0), 2);
  window.started(2);
  assert.equal(window.free(0), 0);
  window.finished(true, 10);
  assert.equal(window.free(10), 1);
  window.started(1);
  assert.equal(window.free(10), 0);
});

test("--batch-wait: a finished minion's place is held for the wait, then freed", () => {
  const window = new BatchWindow({ size: 1, waitMs: 5_000, allowance: undefined });
  window.started(1);
  window.finished(true, 1_000);
  assert.equal(window.free(1_000), 0);
  assert.equal(window.nextFreeAt(1_000), 6_000);
  assert.equal(window.free(5_999), 0);
  assert.equal(window.free(6_000), 1);
  assert.equal(window.nextFreeAt(6_000), undefined);
});

test('more failures than the allowance stop the rollout: nothing new starts, the running finish', () => {
  const window = new BatchWindow({ size: 3, waitMs: 0, allowance: 1 });
  window.started(3);
  window.finished(false, 1);
  assert.equal(window.stopped, false);
  assert.equal(window.free(1), 1);
  window.finished(false, 2);
  assert.equal(window.stopped, true);
  assert.equal(window.free(2), 0);
  assert.equal(window.running, 1);
  assert.equal(window.failures, 2);
});

test('a window rebuilt from what the table holds carries on (a master taking a rollout over)', () => {
  const window = new BatchWindow(
    { size: 2, waitMs: 1_000, allowance: 0 },
    { running: 1, failures: 0, heldUntil: [500, 2_000] },
  );
  assert.equal(window.free(600), 0);
  assert.equal(window.free(2_000), 1);
  window.finished(false, 2_100);
  assert.equal(window.stopped, true);
});
