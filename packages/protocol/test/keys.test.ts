import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  generateCurveKeyPair,
  keyFingerprint,
  messageKey,
  signMessage,
  verifyMessage,
  z85Decode,
  z85Encode,
  CurveKeySchema,
} from '../src/index.js';

const curvePair = generateCurveKeyPair;

test('Z85 matches the reference vector of ZeroMQ RFC 32 and round-trips', () => {
  const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
  assert.equal(z85Encode(bytes), 'HelloWorld');
  assert.deepEqual(z85Decode('HelloWorld'), bytes);
  assert.equal(z85Decode('Hello'.repeat(1) + 'Wor'), undefined, 'a length that is no multiple of 5');
  assert.equal(z85Decode('Hello~orld'), undefined, 'a character outside the alphabet');
  assert.equal(z85Decode('#####'), undefined, 'a group above 2^32');
});

test('a minion and a master derive the same message key; another minion cannot', () => {
  const cluster = curvePair();
  const minion = curvePair();
  const intruder = curvePair();
  const onMinion = messageKey(minion.secretKey, cluster.publicKey);
  const onMaster = messageKey(cluster.secretKey, minion.publicKey);
  assert.deepEqual(onMinion, onMaster);
  assert.notDeepEqual(messageKey(intruder.secretKey, cluster.publicKey), onMaster);

  const body = Buffer.from('return of web-1');
  const mac = signMessage(onMinion, body);
  assert.equal(verifyMessage(onMaster, body, mac), true);
  assert.equal(verifyMessage(onMaster, Buffer.from('return of web-2'), mac), false, 'a changed body');
  assert.equal(
    verifyMessage(onMaster, body, signMessage(messageKey(intruder.secretKey, cluster.publicKey), body)),
    false,
  );
  assert.equal(verifyMessage(onMaster, body, mac.subarray(0, 16)), false, 'a truncated mac');
});

test('keys are validated and fingerprinted', () => {
  const { publicKey } = curvePair();
  assert.equal(CurveKeySchema.safeParse(publicKey).success, true);
  assert.equal(CurveKeySchema.safeParse('x'.repeat(39)).success, false);
  assert.equal(CurveKeySchema.safeParse('~'.repeat(40)).success, false);
  assert.match(keyFingerprint(publicKey), /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
  assert.throws(() => messageKey('short', publicKey), RangeError);
});
