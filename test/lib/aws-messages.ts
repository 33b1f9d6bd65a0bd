import { randomUUID } from 'node:crypto';

/**
 * Lifecycle messages in the shapes AWS sends them (Auto Scaling User Guide: "Amazon SNS and Amazon
 * SQS notification message examples", "Amazon EC2 Auto Scaling event reference"), for tests that
 * play someone who can write to the lifecycle queue.
 */

const ACCOUNT = '000000000000';

export interface InstanceMessage {
  group: string;
  instanceId: string;
  transition: 'launching' | 'terminating';
}

const TRANSITIONS = {
  launching: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  terminating: 'autoscaling:EC2_INSTANCE_TERMINATING',
} as const;

/** A lifecycle-hook message, as a hook sends it to its SQS target. */
export function hookMessage({ group, instanceId, transition }: InstanceMessage): string {
  const launching = transition === 'launching';
  return JSON.stringify({
    Origin: launching ? 'EC2' : 'AutoScalingGroup',
    LifecycleHookName: `${group}-${transition}`,
    Destination: launching ? 'AutoScalingGroup' : 'EC2',
    AccountId: ACCOUNT,
    RequestId: randomUUID(),
    LifecycleTransition: TRANSITIONS[transition],
    AutoScalingGroupName: group,
    Service: 'AWS Auto Scaling',
    Time: new Date().toISOString(),
    EC2InstanceId: instanceId,
    LifecycleActionToken: randomUUID(),
  });
}

/** A lifecycle action as an EventBridge rule delivers it. */
export function eventBridgeAction({ group, instanceId, transition }: InstanceMessage): string {
  return JSON.stringify({
    version: '0',
    id: randomUUID(),
    'detail-type': `EC2 Instance-${transition === 'launching' ? 'launch' : 'terminate'} Lifecycle Action`,
    source: 'aws.autoscaling',
    account: ACCOUNT,
    time: `${new Date().toISOString().slice(0, 19)}Z`,
    region: 'us-east-1',
    resources: [
      `arn:aws:autoscaling:us-east-1:${ACCOUNT}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${group}`,
    ],
    detail: {
      LifecycleActionToken: randomUUID(),
      AutoScalingGroupName: group,
      LifecycleHookName: `${group}-${transition}`,
      EC2InstanceId: instanceId,
      LifecycleTransition: TRANSITIONS[transition],
    },
  });
}

/** A group notification (EC2_INSTANCE_TERMINATE, …) inside SNS's envelope. */
export function snsNotification(
  event: 'autoscaling:EC2_INSTANCE_LAUNCH' | 'autoscaling:EC2_INSTANCE_TERMINATE' | 'autoscaling:TEST_NOTIFICATION',
  group: string,
  instanceId?: string,
): string {
  const now = new Date().toISOString();
  const message =
    event === 'autoscaling:TEST_NOTIFICATION'
      ? {
          AccountId: ACCOUNT,
          RequestId: randomUUID(),
          AutoScalingGroupARN: `arn:aws:autoscaling:us-east-1:${ACCOUNT}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${group}`,
          AutoScalingGroupName: group,
          Service: 'AWS Auto Scaling',
          Event: event,
          Time: now,
        }
      : {
          Progress: 50,
          AccountId: ACCOUNT,
          Description: `Terminating EC2 instance: ${instanceId}`,
          RequestId: randomUUID(),
          EndTime: now,
          AutoScalingGroupARN: `arn:aws:autoscaling:us-east-1:${ACCOUNT}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${group}`,
          ActivityId: randomUUID(),
          StartTime: now,
          Service: 'AWS Auto Scaling',
          Time: now,
          EC2InstanceId: instanceId,
          StatusCode: 'InProgress',
          StatusMessage: '',
          Details: { 'Subnet ID': 'subnet-0123456789abcdef0', 'Availability Zone': 'us-east-1a' },
          AutoScalingGroupName: group,
          Cause: 'At 2026-01-01T00:00:00Z a user request explicitly set group desired capacity.',
          Event: event,
        };
  return JSON.stringify({
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:${group}-notifications`,
    Subject: `Auto Scaling: notification for group "${group}"`,
    Message: JSON.stringify(message),
    Timestamp: now,
    SignatureVersion: '1',
  });
}

/** An instance id no group ever launched. */
export function strangerId(): string {
  return `i-0${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}
