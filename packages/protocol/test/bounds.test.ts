import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { encode } from '@msgpack/msgpack';
import {
  checkValue,
  decodeMinionMessage,
  encodeMessage,
  installLastResort,
  isInvariantViolation,
  openSeal,
  PhoenixError,
  scanMsgpack,
  sealMessage,
  sessionKey,
  WIRE_LIMITS,
  type DataLimits,
} from '../src/index.js';
import { ProtocolErrors } from '../src/errors.js';

const SMALL: DataLimits = { maxDepth: 3, maxKeys: 2, maxItems: 3, maxStringLength: 5, maxValues: 20 };

/** `depth` arrays nested around a nil, as raw msgpack: what no encoder here would make. */
const nested = (depth: number): Buffer => Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])]);

test('msgpack within the limits passes the scan, whatever its types', () => {
  const value = { a: [1, -1, 1.5, 2 ** 40, -(2 ** 40), true, null, 'text'], b: { c: new Uint8Array(3) } };
  assert.equal(scanMsgpack(encode(value), WIRE_LIMITS), undefined);
  assert.equal(scanMsgpack(encode([[1], []]), SMALL), undefined, 'depth 2 within 3');
  assert.equal(scanMsgpack(encode(new Date(0)), WIRE_LIMITS), undefined, 'an extension type is one value');
});

test('each limit is enforced by the scan, with its reason', () => {
  const cases: Array<[string, Uint8Array, string]> = [
    ['four levels', encode([[[[1]]]]), 'too-deep'],
    ['an empty container one level too deep', encode([[[[]]]]), 'too-deep'],
    ['three keys', encode({ a: 1, b: 2, c: 3 }), 'too-many-keys'],
    ['four items', encode([1, 2, 3, 4]), 'too-many-items'],
    ['a six-byte string', encode('sixsix'), 'string-too-long'],
    ['a long str8', encode('x'.repeat(40)), 'string-too-long'],
    [
      '21 values',
      encode([
        [1, 2, 3],
        [1, 2, 3],
        [1, 2, 3],
        [1, 2, 3],
        [1, 2, 3],
        [1, 2],
      ]),
      'too-many-items',
    ],
  ];
  for (const [what, bytes, reason] of cases) assert.equal(scanMsgpack(bytes, SMALL)?.reason, reason, what);
  const manyValues = encode([1, 2, 3].map(() => [1, 2, 3].map(() => [1, 2, 3])));
  assert.equal(scanMsgpack(manyValues, { ...SMALL, maxValues: 12 })?.reason, 'too-many-values');
});

test('200,000 nested arrays are refused by a scan that needs no stack', () => {
  const started = process.hrtime.bigint();
  assert.equal(scanMsgpack(nested(200_000), WIRE_LIMITS)?.reason, 'too-deep');
  assert.ok(process.hrtime.bigint() - started < 1_000_000_000n, 'one pass, stopped at the limit');
  assert.equal(scanMsgpack(nested(64), WIRE_LIMITS), undefined, 'exactly the limit passes');
  assert.equal(scanMsgpack(nested(65), WIRE_LIMITS)?.reason, 'too-deep');
});

test('truncated, trailing and lying encodings are malformed', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['nothing', new Uint8Array(0)],
    ['the reserved byte', Uint8Array.of(0xc1)],
    ['a truncated uint32', Uint8Array.of(0xce, 1, 2)],
    ['a string longer than the bytes', Uint8Array.of(0xa5, 0x61)],
    ['an array missing elements', Uint8Array.of(0x93, 1, 2)],
    ['bytes after the value', Uint8Array.of(0x01, 0x02)],
    ['an array16 claiming a thousand elements in one byte', Uint8Array.of(0xdc, 0x03, 0xe8, 0xc0)],
    ['a map16 claiming sixteen keys in two bytes', Uint8Array.of(0xde, 0x00, 0x10, 0xc0, 0xc0)],
  ];
  for (const [what, bytes] of cases) assert.equal(scanMsgpack(bytes, WIRE_LIMITS)?.reason, 'malformed', what);
});

test('the wire decoder refuses over-limit bodies with a code, before decoding them', () => {
  const head = encodeMessage({ v: 1, t: 'heartbeat', id: 'web-1', at: 1 });
  // at: 1 is the last byte: replace it with a deep array
  const body = Buffer.concat([head.subarray(0, head.length - 1), nested(200_000)]);
  const decoded = decodeMinionMessage(body);
  assert.equal(decoded.ok, false);
  if (!decoded.ok) {
    assert.equal(decoded.code, 'too-deep');
    assert.match(decoded.reason, /nested deeper than 64 levels/);
  }
  const garbage = decodeMinionMessage(Uint8Array.of(0xc1));
  assert.equal(garbage.ok ? undefined : garbage.code, 'not-msgpack');
});

test('the encoder refuses to make what the other side would refuse for its depth', () => {
  let ret: unknown = null;
  for (let i = 0; i < 62; i++) ret = [ret];
  const fits = {
    v: 1,
    t: 'return',
    id: 'a',
    jid: '20261124213022123456',
    fun: 'f',
    success: true,
    retcode: 0,
    ret,
    startedAt: 0,
    finishedAt: 0,
  } as const;
  assert.equal(scanMsgpack(encodeMessage(fits), WIRE_LIMITS), undefined);
  assert.throws(() => encodeMessage({ ...fits, ret: [[ret]] }));
});

test('values in memory are checked iteratively, a cycle included', () => {
  assert.equal(checkValue({ a: [1, 'abc'], b: null }, SMALL), undefined);
  assert.equal(checkValue([[[[1]]]], SMALL)?.reason, 'too-deep');
  assert.equal(checkValue({ a: 1, b: 2, c: 3 }, SMALL)?.reason, 'too-many-keys');
  assert.equal(checkValue({ toolong: 1 }, SMALL)?.reason, 'string-too-long', 'keys are strings too');
  assert.equal(checkValue('sixsix', SMALL)?.reason, 'string-too-long');
  let deep: unknown = 0;
  for (let i = 0; i < 500_000; i++) deep = [deep];
  assert.equal(checkValue(deep, WIRE_LIMITS)?.reason, 'too-deep');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.equal(checkValue(cycle, { ...WIRE_LIMITS, maxDepth: 1_000_000 })?.reason, 'too-many-values');
  assert.equal(checkValue(new Date(), SMALL), undefined, 'only arrays and plain objects are containers');
});

test('a seal verifies only with its session key, its body and its number', () => {
  const minionKey = Buffer.alloc(32, 7);
  const a = sessionKey(minionKey, Buffer.alloc(16, 1));
  const b = sessionKey(minionKey, Buffer.alloc(16, 2));
  const body = encode({ t: 'hello' });
  const seal = sealMessage(a, 2 ** 40 + 3, body);
  assert.equal(openSeal(a, body, seal), 2 ** 40 + 3);
  assert.equal(openSeal(b, body, seal), undefined, 'another connection: another nonce, another key');
  assert.equal(openSeal(a, encode({ t: 'hellO' }), seal), undefined, 'another body');
  const renumbered = Buffer.from(seal);
  renumbered[7] = (renumbered[7] as number) ^ 1;
  assert.equal(openSeal(a, body, renumbered), undefined, 'the number is sealed too');
  assert.equal(openSeal(a, body, seal.subarray(0, 39)), undefined, 'a short seal');
});

test('the last-resort handler logs what escaped and stops only for a violated invariant', () => {
  assert.equal(isInvariantViolation(new PhoenixError(ProtocolErrors.PHX_INVARIANT, 'x')), true);
  assert.equal(isInvariantViolation(Object.assign(new Error('x'), { code: 'ERR_ASSERTION' })), true);
  assert.equal(isInvariantViolation(new RangeError('Maximum call stack size exceeded')), false);
  assert.equal(isInvariantViolation(undefined), false);
  const emitter = new EventEmitter();
  const target = emitter as unknown as NodeJS.Process;
  const logged: string[] = [];
  const exits: number[] = [];
  const remove = installLastResort(
    target,
    {
      error: (_f, message) => logged.push(`error: ${message}`),
      fatal: (_f, message) => logged.push(`fatal: ${message}`),
    },
    (code) => exits.push(code),
  );
  emitter.emit('uncaughtException', new RangeError('stack'), 'uncaughtException');
  emitter.emit('unhandledRejection', new Error('lost'));
  assert.deepEqual(exits, [], 'contained');
  emitter.emit('uncaughtException', new PhoenixError(ProtocolErrors.PHX_INVARIANT, 'broken'), 'uncaughtException');
  assert.deepEqual(exits, [70]);
  assert.equal(logged.length, 3);
  remove();
  assert.equal(emitter.listenerCount('uncaughtException'), 0);
});
