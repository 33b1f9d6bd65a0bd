import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPhoenixError } from '../src/errors.js';
import { isJid, JidGenerator, jidTime } from '../src/jid.js';

const at = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
const noJitter = () => new JidGenerator({ random: () => 0 });

test('a jid is the UTC time as YYYYMMDDhhmmssffffff', () => {
  assert.equal(noJitter().next(at), '20240102030405678000');
  assert.equal(noJitter().next(new Date(at)), '20240102030405678000');
  assert.equal(noJitter().next(Date.UTC(1999, 11, 31, 23, 59, 59, 999)), '19991231235959999000');
});

test('the microsecond digits start at a random point within the millisecond', () => {
  assert.equal(new JidGenerator({ random: () => 0.5 }).next(at), '20240102030405678500');
  assert.equal(new JidGenerator({ random: () => 0.9999999 }).next(at), '20240102030405678999');
  // A broken random source cannot push the jid out of its millisecond.
  assert.equal(new JidGenerator({ random: () => Number.NaN }).next(at), '20240102030405678000');
  assert.equal(new JidGenerator({ random: () => 7 }).next(at), '20240102030405678999');
  assert.equal(new JidGenerator({ random: () => -1 }).next(at), '20240102030405678000');
});

test('jids from one generator strictly increase within the same millisecond', () => {
  const generator = noJitter();
  const jids = Array.from({ length: 5 }, () => generator.next(at));
  assert.deepEqual(jids, [
    '20240102030405678000',
    '20240102030405678001',
    '20240102030405678002',
    '20240102030405678003',
    '20240102030405678004',
  ]);
});

test('more than 1000 jids in one millisecond run on into the next one, still increasing', () => {
  const generator = noJitter();
  const jids = Array.from({ length: 1001 }, () => generator.next(at));
  assert.equal(jids.at(-2), '20240102030405678999');
  assert.equal(jids.at(-1), '20240102030405679000');
  assert.equal(new Set(jids).size, 1001);
  // Later real time continues from where the generator is, not from behind it.
  assert.equal(generator.next(at + 1), '20240102030405679001');
  assert.equal(generator.next(at + 2), '20240102030405680000');
});

test('counting by one microsecond stays exact far in the future (past 2^53 epoch microseconds)', () => {
  const generator = noJitter();
  const late = Date.UTC(9000, 5, 1);
  assert.deepEqual(
    [generator.next(late), generator.next(late), generator.next(late)],
    ['90000601000000000000', '90000601000000000001', '90000601000000000002'],
  );
});

test('a clock that steps back never produces an equal or smaller jid', () => {
  const generator = new JidGenerator({ random: () => 0.5 });
  const first = generator.next(at);
  const second = generator.next(at - 60_000);
  const third = generator.next(at);
  assert.ok(first < second && second < third, `${first} ${second} ${third}`);
  assert.equal(second, '20240102030405678501');
});

test('jids sort as strings in the order they were minted, across seconds, days and years', () => {
  const generator = new JidGenerator();
  const times = [at, at + 1, at + 999, at + 1000, at + 86_400_000, Date.UTC(2025, 0, 1)];
  const jids = times.map((time) => generator.next(time));
  assert.deepEqual([...jids].sort(), jids);
});

test('generators share no state: two of them mint the same jid for the same time', () => {
  const a = noJitter();
  const b = noJitter();
  a.next(at);
  a.next(at);
  assert.equal(b.next(at), '20240102030405678000');
});

test('next() without a time uses the current time', () => {
  const before = Date.now();
  const jid = new JidGenerator().next();
  const after = Date.now();
  const minted = jidTime(jid).getTime();
  assert.ok(minted >= before && minted <= after + 1, `${minted} not in [${before}, ${after}]`);
});

test('next() refuses times it cannot write as a jid', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, new Date('nonsense'), Date.UTC(10000, 0, 1)]) {
    assert.throws(
      () => noJitter().next(bad),
      (err: unknown) => isPhoenixError(err, 'PHX_JID_INVALID'),
    );
  }
});

test('isJid accepts 20 digits that spell a real time, and nothing else', () => {
  assert.equal(isJid('20240102030405678123'), true);
  assert.equal(isJid('20240229235959999999'), true); // 2024 is a leap year
  for (const bad of [
    '2024010203040567812', // 19 digits
    '202401020304056781234', // 21 digits
    '2024010203040567812x',
    ' 20240102030405678123',
    '20241302030405678123', // month 13
    '20240002030405678123', // month 0
    '20240100030405678123', // day 0
    '20230229030405678123', // 29 February 2023
    '20240431030405678123', // 31 April
    '20240102240405678123', // hour 24
    '20240102036005678123', // minute 60
    '20240102030460678123', // second 60
    '00000102030405678123', // year 0
    '２０２４０１０２０３０４０５６７８１２３', // full-width digits
    '',
  ]) {
    assert.equal(isJid(bad), false, bad);
  }
  for (const notAString of [20240102030405678123n, 2024010203040567, null, undefined, {}, ['20240102030405678123']]) {
    assert.equal(isJid(notAString), false);
  }
});

test('jidTime gives back the time to the millisecond', () => {
  assert.equal(jidTime('20240102030405678999').toISOString(), '2024-01-02T03:04:05.678Z');
  for (const time of [at, 0, Date.UTC(2038, 0, 19, 3, 14, 8), Date.UTC(9999, 11, 31, 23, 59, 59, 999)]) {
    assert.equal(jidTime(new JidGenerator().next(time)).getTime(), time);
  }
});

test('jidTime refuses anything that is not a jid, with a typed error', () => {
  for (const bad of ['nope', '20241302030405678123', 'x'.repeat(10_000)]) {
    assert.throws(
      () => jidTime(bad),
      (err: unknown) =>
        isPhoenixError(err, 'PHX_JID_INVALID') && err.message.includes('is not a jid') && err.message.length < 200,
    );
  }
});
