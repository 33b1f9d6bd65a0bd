import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '@msgpack/msgpack';
import {
  decodeMasterMessage,
  decodeMinionMessage,
  encodeMessage,
  MAX_MESSAGE_BYTES,
  type MasterMessage,
} from '../src/index.js';

test('messages round-trip through the codec', () => {
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
  } as const;
  assert.deepEqual(decodeMinionMessage(encodeMessage(ret)), { ok: true, message: ret });
  const job: MasterMessage = {
    v: 1,
    t: 'job',
    jid: '20261124213022123456',
    fun: 'cmd.run',
    args: ['ls'],
    kwargs: { cwd: '/' },
  };
  assert.deepEqual(decodeMasterMessage(encodeMessage(job)), { ok: true, message: job });
});

test('garbage, wrong shapes, unknown types, other versions and oversized bodies are refused with a reason', () => {
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['garbage bytes', Buffer.from([0xc1, 0xff, 0x00, 0x13]), /not msgpack/],
    ['a bare string', encode('hello'), /invalid message/],
    ['an unknown type', encode({ v: 1, t: 'shutdown', id: 'web-1' }), /invalid message/],
    ['a newer version', encode({ v: 2, t: 'heartbeat', id: 'web-1', at: 1 }), /unsupported wire version 2/],
    ['an unknown field', encode({ v: 1, t: 'heartbeat', id: 'web-1', at: 1, extra: true }), /invalid message/],
    ['a forged jid', encode({ v: 1, t: 'grains', id: '../etc', grains: {} }), /invalid message: id/],
    ['an oversized body', new Uint8Array(MAX_MESSAGE_BYTES + 1), /oversized/],
  ];
  for (const [what, body, reason] of cases) {
    const result = decodeMinionMessage(body);
    assert.equal(result.ok, false, what);
    if (!result.ok) assert.match(result.reason, reason, what);
  }
});

test("the master's heartbeat is decoded without the general schema, and refused exactly where the schema would be", () => {
  assert.deepEqual(decodeMasterMessage(encode({ v: 1, t: 'heartbeat', at: 5 })), {
    ok: true,
    message: { v: 1, t: 'heartbeat', at: 5 },
  });
  const refused: Array<[string, Record<string, unknown>]> = [
    ['an extra field', { v: 1, t: 'heartbeat', at: 5, extra: true }],
    ['another version', { v: 2, t: 'heartbeat', at: 5 }],
    ['no time', { v: 1, t: 'heartbeat' }],
    ['a time that is not a number', { v: 1, t: 'heartbeat', at: '5' }],
  ];
  for (const [what, body] of refused) assert.equal(decodeMasterMessage(encode(body)).ok, false, what);
});
