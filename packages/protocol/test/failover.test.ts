import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failoverOrder, murmurHash3 } from '../src/failover.js';

interface Master {
  id: string;
  host: string;
}

const master = (id: string): Master => ({ id, host: `10.0.0.${id.length}` });
const idOf = (m: Master): string => m.id;
const ids = (list: readonly Master[]): string[] => list.map(idOf);
const minions = Array.from(
  { length: 10_000 },
  (_, i) => `i-${(0x0abc_0000 + i * 7919).toString(16).padStart(17, '0')}`,
);
const five = ['master-a', 'master-b', 'master-c', 'master-d', 'master-e'].map(master);

/** How many minions put each master first. */
function firstChoices(masters: readonly Master[]): Map<string, number> {
  const counts = new Map(masters.map((m) => [m.id, 0]));
  for (const minion of minions) {
    const first = failoverOrder(minion, masters, idOf)[0] as Master;
    counts.set(first.id, (counts.get(first.id) ?? 0) + 1);
  }
  return counts;
}

test('the score is MurmurHash3 x86_32 of the UTF-8 bytes: published test vectors', () => {
  assert.equal(murmurHash3('', 0), 0);
  assert.equal(murmurHash3('', 1), 0x514e28b7);
  assert.equal(murmurHash3('test', 0), 0xba6bd213);
  assert.equal(murmurHash3('hello', 0), 0x248bfa47);
  assert.equal(murmurHash3('Hello, world!', 0x9747b28c), 0x24884cba);
  assert.equal(murmurHash3('The quick brown fox jumps over the lazy dog', 0x9747b28c), 0x2fa826cd);
  assert.equal(murmurHash3('ππππππππ', 0x9747b28c), 0xd58063c1, 'non-ASCII text is hashed as UTF-8');
});

test('the order is deterministic and does not depend on the order the masters are given in', () => {
  const order = ids(failoverOrder('web-1', five, idOf));
  assert.deepEqual(ids(failoverOrder('web-1', five, idOf)), order);
  assert.deepEqual(ids(failoverOrder('web-1', [...five].reverse(), idOf)), order);
  assert.deepEqual(ids(failoverOrder('web-1', [five[2], five[0], five[4], five[1], five[3]] as Master[], idOf)), order);
  assert.deepEqual([...order].sort(), ids(five), 'every master appears exactly once');
  // Golden values: every node (minions, masters, later versions) must compute the same order.
  assert.deepEqual(order, ['master-e', 'master-c', 'master-a', 'master-d', 'master-b']);
  assert.deepEqual(ids(failoverOrder('i-0123456789abcdef0', five, idOf)), [
    'master-a',
    'master-d',
    'master-e',
    'master-b',
    'master-c',
  ]);
});

test('the input list is not changed and an empty list orders to an empty list', () => {
  const input = [...five];
  failoverOrder('web-1', input, idOf);
  assert.deepEqual(input, five);
  assert.deepEqual(failoverOrder('web-1', [], idOf), []);
  assert.deepEqual(ids(failoverOrder('web-1', [master('only')], idOf)), ['only']);
});

test('different minions get different orders', () => {
  const orders = new Set(minions.slice(0, 1_000).map((minion) => ids(failoverOrder(minion, five, idOf)).join(',')));
  // 5! = 120 possible orders; a thousand minions should see nearly all of them.
  assert.ok(orders.size > 100, `only ${orders.size} distinct orders over 1,000 minions`);
});

test('over 10,000 minions and 5 masters each master is first for about a fifth (±10%)', () => {
  for (const [id, count] of firstChoices(five)) {
    assert.ok(count >= 1_800 && count <= 2_200, `${id} is first for ${count} of 10,000 minions`);
  }
});

test('adding a sixth master moves only the minions that now put it first, about a sixth of them', () => {
  const sixth = master('master-f');
  const six = [...five, sixth];
  let moved = 0;
  for (const minion of minions) {
    const before = failoverOrder(minion, five, idOf);
    const after = failoverOrder(minion, six, idOf);
    if (after[0] !== before[0]) {
      moved++;
      assert.equal(after[0], sixth, `${minion} changed its first master to one that is not the new one`);
    }
    assert.deepEqual(
      ids(after.filter((m) => m !== sixth)),
      ids(before),
      `${minion}: the other masters keep their relative order`,
    );
  }
  const expected = minions.length / 6;
  assert.ok(Math.abs(moved - expected) <= expected * 0.1, `${moved} minions moved, expected about ${expected}`);
});

test('removing a master moves only its own minions and keeps the rest of every list in order', () => {
  const removed = five[1] as Master;
  const four = five.filter((m) => m !== removed);
  let moved = 0;
  for (const minion of minions) {
    const before = failoverOrder(minion, five, idOf);
    const after = failoverOrder(minion, four, idOf);
    if (after[0] !== before[0]) {
      moved++;
      assert.equal(before[0], removed, `${minion} moved although its first master stayed`);
    }
    assert.deepEqual(ids(after), ids(before.filter((m) => m !== removed)));
  }
  assert.equal(moved, firstChoices(five).get(removed.id));
});

test('equal ids fall back to a stable, total order', () => {
  const twins = [
    { id: 'm', host: 'a' },
    { id: 'm', host: 'b' },
  ];
  assert.deepEqual(
    failoverOrder('web-1', twins, idOf).map((m) => m.host),
    ['a', 'b'],
  );
});

test('10,000 minions × 10 masters are ordered in milliseconds', () => {
  const ten = Array.from({ length: 10 }, (_, i) => master(`master-${i}`));
  for (const minion of minions.slice(0, 500)) failoverOrder(minion, ten, idOf); // warm up the JIT
  const started = performance.now();
  for (const minion of minions) failoverOrder(minion, ten, idOf);
  const elapsed = performance.now() - started;
  // About 15 ms on a laptop; the bound leaves room for a loaded CI machine, and SHA-256 takes ~250 ms.
  assert.ok(elapsed < 200, `took ${elapsed.toFixed(1)} ms`);
});
