import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { pino } from 'pino';
import { isPhoenixError, verifyIdentityDocument } from '@phoenix/protocol';
import {
  AutoScalingSimulator,
  IdentitySigner,
  type InstanceLauncher,
  type LaunchRequest,
} from '../src/autoscaling/index.js';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

let signer: IdentitySigner;
let otherSigner: IdentitySigner;
before(async () => {
  [signer, otherSigner] = await Promise.all([IdentitySigner.generate(), IdentitySigner.generate()]);
});

/** Launches nothing; keeps what each instance would have been given. */
function recordingLauncher(): InstanceLauncher & { requests: LaunchRequest[] } {
  const requests: LaunchRequest[] = [];
  return { requests, launch: async (request) => (requests.push(request), { stop: async () => undefined }) };
}

test('every instance is launched with an identity document for itself, signed by the devstack certificate', async (t) => {
  const launcher = recordingLauncher();
  // No hooks and no topics: the state machine runs without SQS, SNS or HTTP.
  const simulator = new AutoScalingSimulator({
    groups: [{ name: 'demo-web-test', minSize: 0, maxSize: 5, desiredCapacity: 2 }],
    sqs: new SQSClient({ region: REGION }),
    lifecycleQueueUrl: 'http://127.0.0.1:1/000000000000/unused',
    sns: new SNSClient({ region: REGION }),
    accountId: ACCOUNT,
    region: REGION,
    launcher,
    signer,
    logger: pino({ level: 'silent' }),
  });
  t.after(() => simulator.stop());
  simulator.start();
  const snapshot = await simulator.waitFor(
    (s) => s.groups[0]?.instances.filter((i) => i.lifecycleState === 'InService').length === 2,
  );

  const instances = snapshot.groups[0]?.instances ?? [];
  assert.deepEqual(
    launcher.requests.map((r) => r.instanceId),
    instances.map((i) => i.instanceId),
  );
  for (const [index, request] of launcher.requests.entries()) {
    const document = verifyIdentityDocument(request.identity, signer.certificatePem, {
      instanceId: request.instanceId,
      accountId: ACCOUNT,
      region: REGION,
    });
    assert.equal(document.privateIp, instances[index]?.privateIp);
    assert.equal(document.availabilityZone, `${REGION}a`);
    assert.equal(document.version, '2017-09-30');
    assert.match(document.imageId, /^ami-[0-9a-f]{17}$/);
  }

  const [first, second] = launcher.requests;
  assert.ok(first !== undefined && second !== undefined);
  const tampered = {
    ...first.identity,
    document: first.identity.document.replace(first.instanceId, second.instanceId),
  };
  assert.throws(
    () => verifyIdentityDocument(tampered, signer.certificatePem, { instanceId: second.instanceId }),
    (err: unknown) => isPhoenixError(err, 'PHX_IDENTITY_BAD_SIGNATURE'),
  );
  assert.throws(
    () => verifyIdentityDocument(first.identity, signer.certificatePem, { instanceId: second.instanceId }),
    (err: unknown) => isPhoenixError(err, 'PHX_IDENTITY_MISMATCH'),
  );
  assert.throws(
    () => verifyIdentityDocument(first.identity, otherSigner.certificatePem, { instanceId: first.instanceId }),
    (err: unknown) => isPhoenixError(err, 'PHX_IDENTITY_BAD_SIGNATURE'),
  );
});
