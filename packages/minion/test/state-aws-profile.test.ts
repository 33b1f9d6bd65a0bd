import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConnection } from '../src/state/functions/aws-profile.js';

/* Salt's profile resolution for the boto_* states, as a pure function: no SDK, no socket. */

const settings = {
  region: 'eu-west-1',
  endpoints: { sqs: 'http://127.0.0.1:4001' },
  credentials: { accessKeyId: 'MINIONKEY', secretAccessKey: 'minion-secret' },
};

test('a named profile comes from the minion config first, then pillar; its keys win over the arguments', () => {
  const env = { settings, profiles: { prod: { region: 'us-west-2', keyid: 'CFG', key: 'cfg-secret' } } };
  const pillar = {
    prod: { region: 'ap-south-1' },
    other: { keyid: 'PIL', key: 'pil-secret', endpoint: 'http://127.0.0.1:4002' },
  };
  assert.deepEqual(resolveConnection('sqs', { profile: 'prod', region: 'sa-east-1' }, pillar, env), {
    ok: true,
    connection: {
      region: 'us-west-2',
      endpoint: 'http://127.0.0.1:4001',
      credentials: { accessKeyId: 'CFG', secretAccessKey: 'cfg-secret' },
      secrets: ['cfg-secret'],
    },
  });
  assert.deepEqual(resolveConnection('sns', { profile: 'other' }, pillar, env), {
    ok: true,
    connection: {
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4002',
      credentials: { accessKeyId: 'PIL', secretAccessKey: 'pil-secret' },
      secrets: ['pil-secret'],
    },
  });
});

test("pillar's <service>.region/keyid/key fill what the state leaves out; without keys a profile uses the SDK's chain", () => {
  const pillar = { 'asg.region': 'ca-central-1', 'asg.keyid': 'ASGKEY', 'asg.key': 'asg-secret' };
  const asg = resolveConnection('autoscaling', {}, pillar, { settings });
  assert.equal(asg.ok && asg.connection.region, 'ca-central-1');
  assert.equal(asg.ok && asg.connection.credentials?.accessKeyId, 'ASGKEY');
  const role = resolveConnection('sqs', { profile: { region: 'us-east-2' } }, {}, { settings });
  assert.ok(role.ok);
  assert.equal(
    role.connection.credentials,
    undefined,
    "a profile without keys: the instance's role, not the minion's keys",
  );
  const plain = resolveConnection('dynamodb', {}, {}, {});
  assert.deepEqual(plain, { ok: true, connection: { region: 'us-east-1', secrets: [] } });
});

test('a missing or malformed profile, or half a key pair, is a clear failure that shows no secret', () => {
  const missing = resolveConnection('sqs', { profile: 'nope' }, {}, {});
  assert.deepEqual(missing, {
    ok: false,
    comment: "AWS profile 'nope' is neither in the minion config's awsProfiles nor in pillar",
  });
  const bad = resolveConnection('sqs', { profile: 'bad' }, { bad: { keyid: 'K', key: 'top-secret', secret: 'x' } }, {});
  assert.equal(bad.ok, false);
  assert.ok(
    !bad.ok && !bad.comment.includes('top-secret') && bad.comment.includes('secret'),
    !bad.ok ? bad.comment : '',
  );
  const half = resolveConnection('sqs', { key: 'lonely-secret' }, {}, {});
  assert.deepEqual(half, { ok: false, comment: 'AWS credentials need both keyid and key (only key is given)' });
});
