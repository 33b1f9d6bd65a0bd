/**
 * The messages AWS Auto Scaling sends, in its exact JSON shapes and key order: the lifecycle-hook
 * message (sent straight to the SQS notification target), the group notification (published to
 * SNS, so it reaches the queue inside SNS's envelope) and the EventBridge events of both (source
 * `aws.autoscaling`, as a rule delivers them). Pure: everything comes in as arguments.
 */
import { LAUNCHING, type LifecycleHookConfig, type LifecyclePlace } from './model.js';

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
  /** Where the instance comes from and goes to in this activity. */
  readonly origin: LifecyclePlace;
  readonly destination: LifecyclePlace;
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
  origin: LifecyclePlace;
  destination: LifecyclePlace;
}

export function lifecycleHookMessage(input: HookMessageInput): string {
  return JSON.stringify({
    Origin: input.origin,
    LifecycleHookName: input.hook.name,
    Destination: input.destination,
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

/** EventBridge's envelope of an Auto Scaling event (source `aws.autoscaling`). */
interface BusInput {
  /** The event's own id (a UUID). */
  eventId: string;
  accountId: string;
  region: string;
  groupArn: string;
  time: Date;
}

function busEvent(input: BusInput, detailType: string, resources: string[], detail: Record<string, unknown>): string {
  return JSON.stringify({
    version: '0',
    id: input.eventId,
    'detail-type': detailType,
    source: 'aws.autoscaling',
    account: input.accountId,
    time: causeTime(input.time),
    region: input.region,
    resources,
    detail,
  });
}

/** The EventBridge event of a lifecycle action (`EC2 Instance-launch Lifecycle Action`, …). */
export function lifecycleActionEvent(input: HookMessageInput & BusInput): string {
  const launching = input.hook.transition === LAUNCHING;
  return busEvent(input, `EC2 Instance-${launching ? 'launch' : 'terminate'} Lifecycle Action`, [input.groupArn], {
    LifecycleActionToken: input.token,
    AutoScalingGroupName: input.groupName,
    LifecycleHookName: input.hook.name,
    EC2InstanceId: input.instanceId,
    LifecycleTransition: input.hook.transition,
    ...(input.hook.notificationMetadata === undefined ? {} : { NotificationMetadata: input.hook.notificationMetadata }),
    Origin: input.origin,
    Destination: input.destination,
  });
}

const SCALING_EVENTS: Record<GroupEvent, string> = {
  'autoscaling:EC2_INSTANCE_LAUNCH': 'EC2 Instance Launch Successful',
  'autoscaling:EC2_INSTANCE_LAUNCH_ERROR': 'EC2 Instance Launch Unsuccessful',
  'autoscaling:EC2_INSTANCE_TERMINATE': 'EC2 Instance Terminate Successful',
};

/** The EventBridge event that mirrors a group notification (`EC2 Instance Launch Successful`, …). */
export function scalingEvent(input: Omit<NotificationInput, 'groupArn'> & BusInput): string {
  const { activity } = input;
  const failed = input.event === 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR';
  const instanceArn = `arn:aws:ec2:${input.region}:${input.accountId}:instance/${activity.instanceId}`;
  return busEvent(input, SCALING_EVENTS[input.event], [input.groupArn, instanceArn], {
    StatusCode: failed ? 'Failed' : 'InProgress',
    Description: activity.description,
    AutoScalingGroupName: activity.groupName,
    ActivityId: activity.activityId,
    Details: { 'Availability Zone': input.availabilityZone, 'Subnet ID': input.subnetId },
    RequestId: activity.activityId,
    StatusMessage: input.statusMessage ?? '',
    EndTime: input.time.toISOString(),
    EC2InstanceId: activity.instanceId,
    StartTime: activity.startTime.toISOString(),
    Cause: activity.cause,
    Origin: activity.origin,
    Destination: activity.destination,
  });
}

/** AWS writes the times inside a Cause to the second. */
export function causeTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

export function groupArn(region: string, accountId: string, groupId: string, name: string): string {
  return `arn:aws:autoscaling:${region}:${accountId}:autoScalingGroup:${groupId}:autoScalingGroupName/${name}`;
}
