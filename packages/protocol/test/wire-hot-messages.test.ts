import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import { decodeMasterMessage, decodeMinionMessage, MasterMessageSchema, MinionMessageSchema } from '../src/index.js';

// Returns, heartbeats and acks are checked by hand before the general schema: every body here
// must be decided exactly as the schema decides it, and a refused one still says why.
const ret = {
  v: 1,
  t: 'return',
  id: 'web-1',
  jid: '20261124213022123456',
  fun: 'test.ping',
  success: true,
  retcode: 0,
  ret: true,
  startedAt: 1,
  finishedAt: 2,
};
const minionCases: Array<[string, Record<string, unknown>]> = [
  ['a return', ret],
  ['a return with a nested ret', { ...ret, ret: { a: [1, { b: 'c' }] } }],
  ['a return with ret null', { ...ret, ret: null }],
  ['a return without ret', Object.fromEntries(Object.entries(ret).filter(([key]) => key !== 'ret'))],
  ['a return with an extra key', { ...ret, extra: 1 }],
  ['a return with a short jid', { ...ret, jid: '2026' }],
  ['a return with a jid of letters', { ...ret, jid: 'abcdefghijabcdefghij' }],
  ['a return from a bad id', { ...ret, id: '-web' }],
  ['a return from an empty id', { ...ret, id: '' }],
  ['a return from a long id', { ...ret, id: 'a'.repeat(256) }],
  ['a return with a long fun', { ...ret, fun: 'f'.repeat(256) }],
  ['a return with a fractional retcode', { ...ret, retcode: 0.5 }],
  ['a return with an unsafe retcode', { ...ret, retcode: 2 ** 60 }],
  ['a return with success as a number', { ...ret, success: 1 }],
  ['a return with an infinite start', { ...ret, startedAt: Infinity }],
  ['a return with a NaN finish', { ...ret, finishedAt: NaN }],
  ['a return of another wire version', { ...ret, v: 2 }],
  ['a heartbeat', { v: 1, t: 'heartbeat', id: 'web-1', at: 5 }],
  ['a heartbeat with an extra key', { v: 1, t: 'heartbeat', id: 'web-1', at: 5, x: 1 }],
  ['a heartbeat with a string time', { v: 1, t: 'heartbeat', id: 'web-1', at: '5' }],
  ['a heartbeat without an id', { v: 1, t: 'heartbeat', at: 5 }],
];
const masterCases: Array<[string, Record<string, unknown>]> = [
  ['an ack', { v: 1, t: 'ack', jid: '20261124213022123456' }],
  ['an ack with an extra key', { v: 1, t: 'ack', jid: '20261124213022123456', x: 1 }],
  ['an ack with a bad jid', { v: 1, t: 'ack', jid: '2026112421302212345x' }],
  ['an ack without a jid', { v: 1, t: 'ack' }],
  ['a heartbeat', { v: 1, t: 'heartbeat', at: 5 }],
  ['a heartbeat with an extra key', { v: 1, t: 'heartbeat', at: 5, id: 'x' }],
  ['a heartbeat with an infinite time', { v: 1, t: 'heartbeat', at: -Infinity }],
];

for (const [name, raw] of minionCases) {
  test(`minion message, ${name}: decided as the schema decides`, () => {
    const decoded = decodeMinionMessage(encode(raw));
    const schema = MinionMessageSchema.safeParse(raw);
    assert.equal(decoded.ok, schema.success);
    if (decoded.ok && schema.success) assert.deepEqual(decoded.message, schema.data);
    if (!decoded.ok) assert.match(decoded.reason, /./);
  });
}

for (const [name, raw] of masterCases) {
  test(`master message, ${name}: decided as the schema decides`, () => {
    const decoded = decodeMasterMessage(encode(raw));
    const schema = MasterMessageSchema.safeParse(raw);
    assert.equal(decoded.ok, schema.success);
    if (decoded.ok && schema.success) assert.deepEqual(decoded.message, schema.data);
  });
}

test('a map key __proto__ is never taken as a hot message', () => {
  const body = encode(JSON.parse('{"v":1,"t":"heartbeat","id":"web-1","__proto__":{"at":5}}'));
  const decoded = decodeMinionMessage(body);
  assert.equal(decoded.ok, false);
});
