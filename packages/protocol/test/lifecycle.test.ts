import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lifecycleStep, parseLifecycleMessage, type LifecycleEvent } from '../src/index.js';

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
      origin: 'EC2',
      destination: 'AutoScalingGroup',
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
  // AWS's test message of a new hook or notification target, delivered raw to the queue.
  assert.deepEqual(parseLifecycleMessage(JSON.stringify(testNotification)), {
    ok: true,
    event: { kind: 'test', group: 'my-asg' },
  });
});

// ---- EventBridge: AWS's example events (Auto Scaling User Guide, "Amazon EC2 Auto Scaling event reference"
// and "Warm pool example events and patterns"), as an EventBridge rule delivers them to SQS.

const testNotification = {
  AccountId: '123456789012',
  RequestId: '0e4d2d4f-6c7e-4ab5-9b85-3f36d4a7c1b2',
  AutoScalingGroupARN:
    'arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:042cba90-ad2f-431c-9b4d-6d9055bcc9fb:autoScalingGroupName/my-asg',
  AutoScalingGroupName: 'my-asg',
  Service: 'AWS Auto Scaling',
  Event: 'autoscaling:TEST_NOTIFICATION',
  Time: '2021-01-13T00:12:37.214Z',
};

const bus = (detailType: string, detail: Record<string, unknown>, time = '2021-01-13T00:12:37.214Z') => ({
  version: '0',
  id: '12345678-1234-1234-1234-123456789012',
  'detail-type': detailType,
  source: 'aws.autoscaling',
  account: '123456789012',
  time,
  region: 'us-west-2',
  resources: ['auto-scaling-group-arn'],
  detail,
});
const launchAction = (origin: string, destination: string) =>
  bus('EC2 Instance-launch Lifecycle Action', {
    LifecycleActionToken: '71514b9d-6a40-4b26-8523-05e7eEXAMPLE',
    AutoScalingGroupName: 'my-asg',
    LifecycleHookName: 'my-launch-lifecycle-hook',
    EC2InstanceId: 'i-1234567890abcdef0',
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    NotificationMetadata: 'additional-info',
    Origin: origin,
    Destination: destination,
  });
const terminateAction = (origin?: string, destination?: string) =>
  bus('EC2 Instance-terminate Lifecycle Action', {
    LifecycleActionToken: '87654321-4321-4321-4321-210987654321',
    AutoScalingGroupName: 'my-asg',
    LifecycleHookName: 'my-lifecycle-hook',
    EC2InstanceId: 'i-1234567890abcdef0',
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    NotificationMetadata: 'additional-info',
    ...(origin === undefined ? {} : { Origin: origin }),
    ...(destination === undefined ? {} : { Destination: destination }),
  });
const scalingEvent = (detailType: string, statusCode: string) =>
  bus(detailType, {
    StatusCode: statusCode,
    Description: 'Launching a new EC2 instance: i-12345678',
    AutoScalingGroupName: 'my-auto-scaling-group',
    ActivityId: '87654321-4321-4321-4321-210987654321',
    Details: { 'Availability Zone': 'us-west-2b', 'Subnet ID': 'subnet-12345678' },
    RequestId: '12345678-1234-1234-1234-123456789012',
    StatusMessage: '',
    EndTime: '2021-01-13T00:12:40Z',
    EC2InstanceId: 'i-1234567890abcdef0',
    StartTime: '2021-01-13T00:12:37Z',
    Cause: 'description-text',
  });

const parsed = (message: unknown): LifecycleEvent => {
  const result = parseLifecycleMessage(typeof message === 'string' ? message : JSON.stringify(message));
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result.event;
};

test('EventBridge lifecycle actions, launch and terminate, are read from their detail', () => {
  assert.deepEqual(parsed(launchAction('EC2', 'AutoScalingGroup')), {
    kind: 'hook',
    transition: 'launching',
    group: 'my-asg',
    instanceId: 'i-1234567890abcdef0',
    hookName: 'my-launch-lifecycle-hook',
    token: '71514b9d-6a40-4b26-8523-05e7eEXAMPLE',
    origin: 'EC2',
    destination: 'AutoScalingGroup',
    time: '2021-01-13T00:12:37.214Z',
  });
  assert.deepEqual(parsed(terminateAction()), {
    kind: 'hook',
    transition: 'terminating',
    group: 'my-asg',
    instanceId: 'i-1234567890abcdef0',
    hookName: 'my-lifecycle-hook',
    token: '87654321-4321-4321-4321-210987654321',
    time: '2021-01-13T00:12:37.214Z',
  });
  // An EventBridge rule whose target is an SNS topic: the same event inside SNS's envelope.
  assert.deepEqual(parseLifecycleMessage(sns(terminateAction())), { ok: true, event: parsed(terminateAction()) });
});

test('EventBridge scaling events are read as the group notifications they mirror', () => {
  for (const [type, status, event] of [
    ['EC2 Instance Launch Successful', 'InProgress', 'launched'],
    ['EC2 Instance Launch Unsuccessful', 'Failed', 'launch-error'],
    ['EC2 Instance Terminate Successful', 'InProgress', 'terminated'],
    ['EC2 Instance Terminate Unsuccessful', 'Failed', 'terminate-error'],
  ] as const) {
    assert.deepEqual(parsed(scalingEvent(type, status)), {
      kind: 'notification',
      event,
      group: 'my-auto-scaling-group',
      instanceId: 'i-1234567890abcdef0',
      time: '2021-01-13T00:12:37.214Z',
    });
  }
  const refresh = bus('EC2 Auto Scaling Instance Refresh Started', {
    InstanceRefreshId: 'c613620e-07e2-4ed2-a9e2-ef8258911ade',
    AutoScalingGroupName: 'my-auto-scaling-group',
  });
  assert.deepEqual(parsed(refresh), {
    kind: 'other',
    what: 'EC2 Auto Scaling Instance Refresh Started',
    group: 'my-auto-scaling-group',
  });
});

test('warm pools: where the instance comes from and goes to decides what the event means', () => {
  const step = (message: unknown): string => {
    const event = parsed(message);
    assert.ok(event.kind === 'hook' || event.kind === 'notification');
    return lifecycleStep(event);
  };
  assert.equal(step(launchAction('EC2', 'WarmPool')), 'warm');
  assert.equal(step(launchAction('WarmPool', 'AutoScalingGroup')), 'launch');
  assert.equal(step(launchAction('EC2', 'AutoScalingGroup')), 'launch');
  assert.equal(step(terminateAction('AutoScalingGroup', 'WarmPool')), 'return-to-pool');
  assert.equal(step(terminateAction('WarmPool', 'EC2')), 'terminate');
  assert.equal(step(terminateAction()), 'terminate');
  // The same in the lifecycle-hook message a hook sends to its queue.
  assert.equal(step({ ...hook, Origin: 'EC2', Destination: 'WarmPool' }), 'warm');
  assert.equal(
    step({
      ...hook,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      Origin: 'AutoScalingGroup',
      Destination: 'WarmPool',
    }),
    'return-to-pool',
  );
  assert.equal(step(sns({ ...notification, Event: 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR' })), 'terminate');
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
    [JSON.stringify({ ...hook, Destination: 'Moon' }), /Destination/],
    [JSON.stringify({ ...launchAction('EC2', 'WarmPool'), source: 'aws.ec2' }), /aws\.ec2, not Auto Scaling/],
    [JSON.stringify({ ...launchAction('EC2', 'WarmPool'), detail: 'nope' }), /EventBridge event: detail/],
    [
      JSON.stringify(bus('EC2 Instance-launch Lifecycle Action', terminateAction().detail)),
      /LifecycleTransition is not autoscaling:EC2_INSTANCE_LAUNCHING/,
    ],
    [JSON.stringify(bus('EC2 Instance Launch Successful', { AutoScalingGroupName: 'g' })), /EC2InstanceId/],
    [JSON.stringify(bus('EC2 Spot Instance Interruption Warning', {})), /unknown type/],
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
