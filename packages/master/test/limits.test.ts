import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { FairQueue, FairQueueFullError } from '../src/limits/fair-queue.js';
import { PoisonWatch } from '../src/limits/poison-watch.js';
import { Refusals } from '../src/limits/refusals.js';
import { TokenBuckets } from '../src/limits/token-buckets.js';

/** A task that finishes when the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

test('a fair queue serves a key with one request before a key with hundreds is served again', async () => {
  const queue = new FairQueue({ concurrency: 1, perKeyRunning: 1, perKeyWaiting: 1_000 });
  const order: string[] = [];
  const gates: Array<() => void> = [];
  const task = (name: string) => (): Promise<void> => {
    order.push(name);
    const g = gate();
    gates.push(g.open);
    return g.promise;
  };
  const flood = Array.from({ length: 500 }, (_, i) => queue.run('noisy', task(`noisy-${i}`)));
  const victim = queue.run('quiet', task('quiet'));
  assert.deepEqual(order, ['noisy-0'], 'one at a time');
  gates.shift()?.();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['noisy-0', 'quiet'], 'the quiet key goes next, not after the other 499');
  gates.shift()?.();
  await victim;
  for (let i = 0; i < 499; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gates.shift()?.();
  }
  await Promise.all(flood);
  assert.equal(order.length, 501);
});

test('a fair queue bounds what one key may have running and waiting, and refuses more at once', async () => {
  const queue = new FairQueue({ concurrency: 4, perKeyRunning: 1, perKeyWaiting: 2 });
  const g = gate();
  let running = 0;
  let most = 0;
  const task = async (): Promise<void> => {
    running++;
    most = Math.max(most, running);
    await g.promise;
    running--;
  };
  const accepted = [queue.run('a', task), queue.run('a', task), queue.run('a', task)];
  await assert.rejects(queue.run('a', task), FairQueueFullError);
  assert.equal(queue.waiting, 2);
  const other = queue.run('b', task);
  g.open();
  await Promise.all([...accepted, other]);
  assert.equal(most, 2, 'one of a and one of b at once, never two of a');
});

test('a task that throws at once rejects its caller and frees its slot', async () => {
  const queue = new FairQueue({ concurrency: 1, perKeyRunning: 1, perKeyWaiting: 5 });
  await assert.rejects(
    queue.run('a', () => {
      throw new RangeError('boom');
    }),
    RangeError,
  );
  assert.equal(await queue.run('a', () => Promise.resolve(7)), 7);
});

test('token buckets allow a burst, then a rate, per key, in bounded memory', () => {
  let now = 0;
  const buckets = new TokenBuckets<string>({ burst: 3, perSecond: 2, maxKeys: 100, now: () => now });
  assert.deepEqual(
    [1, 2, 3, 4].map(() => buckets.take('a')),
    [true, true, true, false],
  );
  assert.equal(buckets.take('b'), true, 'another key has its own');
  now += 500;
  assert.deepEqual([buckets.take('a'), buckets.take('a')], [true, false], 'one token back in half a second');
  for (let i = 0; i < 1_000; i++) buckets.take(`flood-${i}`);
  assert.equal(buckets.size, 100);
});

test('strikes accumulate while a write is in flight and quarantine once, at the threshold', async () => {
  const writes: number[] = [];
  let total = 0;
  let release = (): void => undefined;
  const quarantined: string[] = [];
  const watch = new PoisonWatch({
    after: 5,
    windowMs: 60_000,
    addStrikes: async (_id, count) => {
      writes.push(count);
      await new Promise<void>((resolve) => (release = resolve));
      total += count;
      return total;
    },
    quarantine: async (id, reason) => {
      quarantined.push(`${id}: ${reason}`);
      return true;
    },
    log: pino({ level: 'silent' }),
  });
  watch.strike('rogue', 'too-deep');
  for (let i = 0; i < 99; i++) watch.strike('rogue', 'too-deep');
  assert.deepEqual(writes, [1], 'one write in flight');
  release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(writes, [1, 99], 'the rest in one more write');
  release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(quarantined.length, 1);
  assert.match(quarantined[0] ?? '', /rogue: 100 refused messages within 60 s \(last: too-deep\)/);
});

test('refusals are counted by input and reason', () => {
  const refusals = new Refusals();
  refusals.count('wire', 'too-deep');
  refusals.count('wire', 'too-deep');
  refusals.count('enrol', 'rate');
  assert.deepEqual(refusals.entries(), [
    { input: 'wire', reason: 'too-deep', count: 2 },
    { input: 'enrol', reason: 'rate', count: 1 },
  ]);
});
