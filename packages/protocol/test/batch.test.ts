import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchWindow,
  failureAllowance,
  formatAmount,
  isPhoenixError,
  parseBatchSize,
  parseFailureLimit,
} from '../src/index.js';

test('a batch size is a count or a share, as salt -b takes it', () => {
  assert.deepEqual(parseBatchSize('2'), { count: 2 });
  assert.deepEqual(parseBatchSize('25%'), { percent: 25 });
  assert.deepEqual(parseBatchSize(' 12.5% '), { percent: 12.5 });
  assert.equal(formatAmount(parseBatchSize('25%')), '25%');
  assert.equal(formatAmount(parseBatchSize('7')), '7');
});

test('a batch size of 0, 0%, 150%, a negative or a word is refused, saying what is allowed', () => {
  for (const bad of ['0', '0%', '150%', '100.5%', '-1', 'abc', '', '1.5', '10 %', '%']) {
    assert.throws(
      () => parseBatchSize(bad),
      (err: unknown) => isPhoenixError(err, 'PHX_BATCH_INVALID') && err.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
});

test('a failure limit may be 0 (stop at the first failure) but not above 100%', () => {
  assert.deepEqual(parseFailureLimit('0'), { count: 0 });
  assert.deepEqual(parseFailureLimit('0%'), { percent: 0 });
  assert.throws(() => parseFailureLimit('101%'), /max failures/);
  assert.throws(() => parseFailureLimit('x'), /max failures/);
});

test('the window: a share rounds down, but never below one minion nor above the total (Salt get_bnum)', () => {
  assert.equal(batchWindow({ count: 2 }, 8), 2);
  assert.equal(batchWindow({ count: 20 }, 8), 8);
  assert.equal(batchWindow({ percent: 25 }, 8), 2);
  assert.equal(batchWindow({ percent: 30 }, 8), 2);
  assert.equal(batchWindow({ percent: 10 }, 3), 1);
  assert.equal(batchWindow({ percent: 100 }, 8), 8);
});

test('the failure allowance: a share of the targets, rounded down (SSM MaxErrors)', () => {
  assert.equal(failureAllowance({ count: 1 }, 8), 1);
  assert.equal(failureAllowance({ percent: 25 }, 8), 2);
  assert.equal(failureAllowance({ percent: 10 }, 8), 0);
});
