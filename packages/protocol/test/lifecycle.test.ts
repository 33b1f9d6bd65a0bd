import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLifecycleMessage } from '../src/index.js';

const hook = {
  Origin: 'EC2',
  LifecycleHookName: 'web-launching',
  Destination: 'AutoScalingGroup',
  AccountId: '123456789012',
  RequestId: '4e6156f4-a9e2-4bda-a7fd-33f2ae528958',
  LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  AutoScalingGroupName: 'web-prod-useast1',
  Service: 'AWS Auto Scaling',
  Time: '2026-11-24T20:00:00.000Z',
  EC2InstanceId: 'i-0123456789abcdef0',
  LifecycleActionToken: '71514b9d-6a40-4b26-8523-05e7eEXAMPLE',
};
const notification = {
  Progress: 50,
  AccountId: '123456789012',
  Description: 'Launching a new EC2 instance: i-0123456789abcdef0',
  Event: 'autoscaling:EC2_INSTANCE_LAUNCH',
  AutoScalingGroupName: 'web-prod-useast1',
  EC2InstanceId: 'i-0123456789abcdef0',
  StatusCode: 'InProgress',
};
const sns = (message: unknown): string =>
  JSON.stringify({
    Type: 'Notification',
    MessageId: 'x',
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:t',
    Message: JSON.stringify(message),
  });

test('lifecycle-hook messages are read raw and inside an SNS envelope', () => {
  const expected = {
    ok: true,
    event: {
      kind: 'hook',
      transition: 'launching',
      group: 'web-prod-useast1',
      instanceId: 'i-0123456789abcdef0',
      hookName: 'web-launching',
      token: '71514b9d-6a40-4b26-8523-05e7eEXAMPLE',
      time: '2026-11-24T20:00:00.000Z',
    },
  };
  assert.deepEqual(parseLifecycleMessage(JSON.stringify(hook)), expected);
  assert.deepEqual(parseLifecycleMessage(sns(hook)), expected);
  const terminating = parseLifecycleMessage(
    JSON.stringify({ ...hook, LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' }),
  );
  assert.equal(terminating.ok && terminating.event.kind === 'hook' && terminating.event.transition, 'terminating');
});

test('group notifications are read, and test notifications are recognised to be ignored', () => {
  for (const [event, kind] of [
    ['autoscaling:EC2_INSTANCE_LAUNCH', 'launched'],
    ['autoscaling:EC2_INSTANCE_TERMINATE', 'terminated'],
    ['autoscaling:EC2_INSTANCE_LAUNCH_ERROR', 'launch-error'],
  ] as const) {
    const parsed = parseLifecycleMessage(sns({ ...notification, Event: event }));
    assert.deepEqual(parsed, {
      ok: true,
      event: { kind: 'notification', event: kind, group: 'web-prod-useast1', instanceId: 'i-0123456789abcdef0' },
    });
  }
  assert.deepEqual(parseLifecycleMessage(sns({ Event: 'autoscaling:TEST_NOTIFICATION', AutoScalingGroupName: 'g' })), {
    ok: true,
    event: { kind: 'test', group: 'g' },
  });
});

test('malformed messages are refused with a reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['not json', /not JSON/],
    [JSON.stringify([1, 2]), /not an object/],
    [JSON.stringify({ hello: 'world' }), /neither/],
    [JSON.stringify({ ...hook, EC2InstanceId: undefined }), /EC2InstanceId/],
    [JSON.stringify({ ...hook, EC2InstanceId: '../../etc' }), /EC2InstanceId/],
    [JSON.stringify({ ...hook, LifecycleTransition: 'autoscaling:EC2_INSTANCE_EXPLODING' }), /LifecycleTransition/],
    [sns({ ...notification, Event: 'autoscaling:SOMETHING' }), /Event/],
    [JSON.stringify({ Type: 'Notification', Message: '{broken' }), /SNS message is not JSON/],
    ['x'.repeat(70_000), /oversized/],
    ['['.repeat(30_000) + ']'.repeat(30_000), /nested deeper than 8 levels/],
    [
      JSON.stringify({ Type: 'Notification', Message: '{"a":'.repeat(20) + '1' + '}'.repeat(20) }),
      /SNS message: nested/,
    ],
  ];
  for (const [body, reason] of cases) {
    const parsed = parseLifecycleMessage(body);
    assert.equal(parsed.ok, false, body.slice(0, 60));
    if (!parsed.ok) assert.match(parsed.reason, reason);
  }
  const deep = parseLifecycleMessage('['.repeat(30_000) + ']'.repeat(30_000));
  assert.equal(deep.ok ? undefined : deep.code, 'too-deep', 'counted by its limit');
});
