/**
 * The messages AWS Auto Scaling sends, in its exact JSON shapes and key order: the lifecycle-hook
 * message (sent straight to the SQS notification target) and the group notification (published
 * to SNS, so it reaches the queue inside SNS's envelope). Pure: everything comes in as arguments.
 */
import { LAUNCHING, type LifecycleHookConfig } from './model.js';

export type GroupEvent =
  'autoscaling:EC2_INSTANCE_LAUNCH' | 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR' | 'autoscaling:EC2_INSTANCE_TERMINATE';

/** A scaling activity: one launch or one termination of one instance. */
export interface Activity {
  readonly activityId: string;
  readonly groupName: string;
  readonly instanceId: string;
  readonly description: string;
  readonly cause: string;
  readonly startTime: Date;
}

export interface HookMessageInput {
  accountId: string;
  groupName: string;
  hook: LifecycleHookConfig;
  instanceId: string;
  token: string;
  /** The activity's id: AWS uses it as the hook message's RequestId. */
  requestId: string;
  time: Date;
}

export function lifecycleHookMessage(input: HookMessageInput): string {
  const launching = input.hook.transition === LAUNCHING;
  return JSON.stringify({
    Origin: launching ? 'EC2' : 'AutoScalingGroup',
    LifecycleHookName: input.hook.name,
    Destination: launching ? 'AutoScalingGroup' : 'EC2',
    AccountId: input.accountId,
    RequestId: input.requestId,
    LifecycleTransition: input.hook.transition,
    AutoScalingGroupName: input.groupName,
    Service: 'AWS Auto Scaling',
    Time: input.time.toISOString(),
    EC2InstanceId: input.instanceId,
    LifecycleActionToken: input.token,
    ...(input.hook.notificationMetadata === undefined ? {} : { NotificationMetadata: input.hook.notificationMetadata }),
  });
}

export interface NotificationInput {
  event: GroupEvent;
  accountId: string;
  groupArn: string;
  activity: Activity;
  availabilityZone: string;
  subnetId: string;
  time: Date;
  /** Why a launch failed; empty otherwise. */
  statusMessage?: string;
}

const SUBJECTS: Record<GroupEvent, string> = {
  'autoscaling:EC2_INSTANCE_LAUNCH': 'launch',
  'autoscaling:EC2_INSTANCE_LAUNCH_ERROR': 'failed launch',
  'autoscaling:EC2_INSTANCE_TERMINATE': 'termination',
};

export function groupNotification(input: NotificationInput): { subject: string; message: string } {
  const { activity } = input;
  const failed = input.event === 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR';
  const statusMessage = input.statusMessage ?? '';
  const message = JSON.stringify({
    Progress: failed ? 100 : 50,
    AccountId: input.accountId,
    Description: failed ? `${activity.description}.  Status Reason: ${statusMessage}` : activity.description,
    RequestId: activity.activityId,
    EndTime: input.time.toISOString(),
    AutoScalingGroupARN: input.groupArn,
    ActivityId: activity.activityId,
    StartTime: activity.startTime.toISOString(),
    Service: 'AWS Auto Scaling',
    Time: input.time.toISOString(),
    EC2InstanceId: activity.instanceId,
    StatusCode: failed ? 'Failed' : 'InProgress',
    StatusMessage: statusMessage,
    Details: { 'Subnet ID': input.subnetId, 'Availability Zone': input.availabilityZone },
    AutoScalingGroupName: activity.groupName,
    Cause: activity.cause,
    Event: input.event,
  });
  return { subject: `Auto Scaling: ${SUBJECTS[input.event]} for group "${activity.groupName}"`, message };
}

/** AWS writes the times inside a Cause to the second. */
export function causeTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export function groupArn(region: string, accountId: string, groupId: string, name: string): string {
  return `arn:aws:autoscaling:${region}:${accountId}:autoScalingGroup:${groupId}:autoScalingGroupName/${name}`;
}
