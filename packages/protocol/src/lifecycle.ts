import { z } from 'zod';
import { checkValue, type BoundsReason, type DataLimits } from './bounds.js';

/**
 * Where an instance comes from and goes to in a lifecycle transition, as AWS names it: `EC2` (a new
 * instance, or terminated for good), `AutoScalingGroup` (in service) or `WarmPool` (prepared and
 * stopped, waiting to be used).
 */
export type LifecyclePlace = 'EC2' | 'AutoScalingGroup' | 'WarmPool';

/**
 * Auto-scaling lifecycle events as they arrive on the lifecycle queue, in every format AWS sends:
 * lifecycle-hook messages (sent straight to SQS, or through an SNS topic), group notifications
 * (published to SNS, so wrapped in SNS's envelope, or delivered raw), and EventBridge events of
 * source `aws.autoscaling` (an EventBridge rule whose target is the queue, or an SNS topic). Test
 * messages and Auto Scaling events about no instance's lifecycle are recognised, to be ignored.
 */
export type LifecycleEvent =
  | {
      kind: 'hook';
      transition: 'launching' | 'terminating';
      group: string;
      instanceId: string;
      hookName: string;
      token: string;
      origin?: LifecyclePlace;
      destination?: LifecyclePlace;
      time?: string;
    }
  | {
      kind: 'notification';
      event: 'launched' | 'terminated' | 'launch-error' | 'terminate-error';
      group: string;
      instanceId: string;
      origin?: LifecyclePlace;
      destination?: LifecyclePlace;
      time?: string;
    }
  | { kind: 'test'; group?: string }
  /** An Auto Scaling event about something else (an instance refresh, say): nothing to do. */
  | { kind: 'other'; what: string; group?: string };

export type LifecycleParse =
  { ok: true; event: LifecycleEvent } | { ok: false; reason: string; code: BoundsReason | 'oversized' | 'invalid' };

const InstanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, 'an EC2 instance id');
const GroupName = z.string().min(1).max(255);
const Place = z.enum(['EC2', 'AutoScalingGroup', 'WarmPool']);

const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';

const HookMessage = z.object({
  LifecycleTransition: z.enum([LAUNCHING, TERMINATING]),
  LifecycleActionToken: z.string().min(1).max(255),
  LifecycleHookName: z.string().min(1).max(255),
  AutoScalingGroupName: GroupName,
  EC2InstanceId: InstanceId,
  Origin: Place.optional(),
  Destination: Place.optional(),
  Time: z.string().optional(),
});

const NOTIFICATION_EVENTS = {
  'autoscaling:EC2_INSTANCE_LAUNCH': 'launched',
  'autoscaling:EC2_INSTANCE_TERMINATE': 'terminated',
  'autoscaling:EC2_INSTANCE_LAUNCH_ERROR': 'launch-error',
  'autoscaling:EC2_INSTANCE_TERMINATE_ERROR': 'terminate-error',
} as const;

const Notification = z.object({
  Event: z.enum(Object.keys(NOTIFICATION_EVENTS) as [keyof typeof NOTIFICATION_EVENTS]),
  AutoScalingGroupName: GroupName,
  EC2InstanceId: InstanceId,
  Origin: Place.optional(),
  Destination: Place.optional(),
  Time: z.string().optional(),
});

/** EventBridge's envelope: the event's own fields are in `detail`. */
const EventBridgeEvent = z.object({
  'detail-type': z.string().min(1).max(256),
  source: z.string().min(1).max(256),
  time: z.string().optional(),
  detail: z.record(z.string(), z.unknown()),
});

/** EventBridge's names for the lifecycle actions (hooks) and for the group notifications. */
const EVENTBRIDGE_HOOKS = {
  'EC2 Instance-launch Lifecycle Action': LAUNCHING,
  'EC2 Instance-terminate Lifecycle Action': TERMINATING,
} as const;
const EVENTBRIDGE_NOTIFICATIONS = {
  'EC2 Instance Launch Successful': 'launched',
  'EC2 Instance Launch Unsuccessful': 'launch-error',
  'EC2 Instance Terminate Successful': 'terminated',
  'EC2 Instance Terminate Unsuccessful': 'terminate-error',
} as const;
const EventBridgeNotification = Notification.omit({ Event: true, Time: true });

const SnsEnvelope = z.object({ Type: z.literal('Notification'), Message: z.string(), TopicArn: z.string().optional() });

/** Bodies above this are not lifecycle messages (AWS's are well under 2 KiB). */
const MAX_BODY = 64 * 1024;

/** AWS's lifecycle messages are flat maps inside at most an SNS envelope: anything deeper is not one. */
export const LIFECYCLE_LIMITS: DataLimits = Object.freeze({
  maxDepth: 8,
  maxKeys: 256,
  maxItems: 256,
  maxStringLength: MAX_BODY,
  maxValues: 4_096,
});

export function parseLifecycleMessage(body: string): LifecycleParse {
  if (body.length > MAX_BODY)
    return { ok: false, code: 'oversized', reason: `oversized body (${body.length} characters)` };
  const outer = json(body);
  if (outer === undefined) return invalid('not JSON');
  const outerViolation = checkValue(outer, LIFECYCLE_LIMITS);
  if (outerViolation !== undefined) return { ok: false, code: outerViolation.reason, reason: outerViolation.message };
  const envelope = SnsEnvelope.safeParse(outer);
  if (envelope.success) {
    const inner = json(envelope.data.Message);
    if (inner === undefined) return invalid('the SNS message is not JSON');
    const innerViolation = checkValue(inner, LIFECYCLE_LIMITS);
    if (innerViolation !== undefined)
      return { ok: false, code: innerViolation.reason, reason: `the SNS message: ${innerViolation.message}` };
    return parseInner(inner);
  }
  return parseInner(outer);
}

function invalid(reason: string): LifecycleParse {
  return { ok: false, code: 'invalid', reason };
}

function parseInner(value: unknown): LifecycleParse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalid('not an object');
  const record = value as Record<string, unknown>;
  if ('detail-type' in record) return parseEventBridge(record);
  if (record.Event === 'autoscaling:TEST_NOTIFICATION') {
    return {
      ok: true,
      event: {
        kind: 'test',
        ...(typeof record.AutoScalingGroupName === 'string' ? { group: record.AutoScalingGroupName } : {}),
      },
    };
  }
  if ('LifecycleTransition' in record) return parseHook(record, 'lifecycle-hook message');
  if ('Event' in record) {
    const notification = Notification.safeParse(record);
    if (!notification.success) return invalid(`group notification: ${issue(notification.error)}`);
    const { Event, Time } = notification.data;
    return notificationEvent(NOTIFICATION_EVENTS[Event], notification.data, Time);
  }
  return invalid('neither a lifecycle-hook message, a group notification nor an EventBridge event');
}

function parseHook(record: unknown, what: string, time?: string): LifecycleParse {
  const hook = HookMessage.safeParse(record);
  if (!hook.success) return invalid(`${what}: ${issue(hook.error)}`);
  const { data } = hook;
  const at = data.Time ?? time;
  return {
    ok: true,
    event: {
      kind: 'hook',
      transition: data.LifecycleTransition === LAUNCHING ? 'launching' : 'terminating',
      group: data.AutoScalingGroupName,
      instanceId: data.EC2InstanceId,
      hookName: data.LifecycleHookName,
      token: data.LifecycleActionToken,
      ...places(data),
      ...(at === undefined ? {} : { time: at }),
    },
  };
}

function parseEventBridge(record: Record<string, unknown>): LifecycleParse {
  const parsed = EventBridgeEvent.safeParse(record);
  if (!parsed.success) return invalid(`EventBridge event: ${issue(parsed.error)}`);
  const { source, time, detail } = parsed.data;
  const type = parsed.data['detail-type'];
  if (source !== 'aws.autoscaling') return invalid(`an EventBridge event from ${source}, not Auto Scaling`);
  if (Object.hasOwn(EVENTBRIDGE_HOOKS, type)) {
    const transition = EVENTBRIDGE_HOOKS[type as keyof typeof EVENTBRIDGE_HOOKS];
    if (detail.LifecycleTransition !== transition)
      return invalid(`EventBridge "${type}": its detail's LifecycleTransition is not ${transition}`);
    return parseHook(detail, `EventBridge "${type}"`, time);
  }
  if (Object.hasOwn(EVENTBRIDGE_NOTIFICATIONS, type)) {
    const notification = EventBridgeNotification.safeParse(detail);
    if (!notification.success) return invalid(`EventBridge "${type}": ${issue(notification.error)}`);
    const event = EVENTBRIDGE_NOTIFICATIONS[type as keyof typeof EVENTBRIDGE_NOTIFICATIONS];
    return notificationEvent(event, notification.data, time);
  }
  // Instance refreshes and the like: real Auto Scaling events, about no instance's lifecycle.
  if (type.startsWith('EC2 Auto Scaling ')) {
    const group = detail.AutoScalingGroupName;
    return { ok: true, event: { kind: 'other', what: type, ...(typeof group === 'string' ? { group } : {}) } };
  }
  return invalid(`an Auto Scaling EventBridge event of an unknown type "${type.slice(0, 100)}"`);
}

function notificationEvent(
  event: Extract<LifecycleEvent, { kind: 'notification' }>['event'],
  data: z.output<typeof EventBridgeNotification>,
  time: string | undefined,
): LifecycleParse {
  return {
    ok: true,
    event: {
      kind: 'notification',
      event,
      group: data.AutoScalingGroupName,
      instanceId: data.EC2InstanceId,
      ...places(data),
      ...(time === undefined ? {} : { time }),
    },
  };
}

function places(data: { Origin?: LifecyclePlace | undefined; Destination?: LifecyclePlace | undefined }): {
  origin?: LifecyclePlace;
  destination?: LifecyclePlace;
} {
  return {
    ...(data.Origin === undefined ? {} : { origin: data.Origin }),
    ...(data.Destination === undefined ? {} : { destination: data.Destination }),
  };
}

function issue(error: z.ZodError): string {
  const first = error.issues[0];
  return first === undefined ? 'invalid' : `${first.path.map(String).join('.') || 'value'}: ${first.message}`;
}

function json(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** What an instance's lifecycle event means for the cluster, whatever format it came in. */
export type LifecycleStep =
  /** Into service: a new instance, or one leaving the warm pool. */
  | 'launch'
  /** Into the warm pool: prepared there, then stopped until it is needed. */
  | 'warm'
  /** Out of service and back into the warm pool: the instance, and so its key, stays. */
  | 'return-to-pool'
  /** Gone for good: terminated, or its launch failed. */
  | 'terminate';

export function lifecycleStep(event: Extract<LifecycleEvent, { kind: 'hook' | 'notification' }>): LifecycleStep {
  const toPool = event.destination === 'WarmPool';
  if (event.kind === 'hook') {
    if (event.transition === 'launching') return toPool ? 'warm' : 'launch';
    return toPool ? 'return-to-pool' : 'terminate';
  }
  if (event.event === 'launched') return toPool ? 'warm' : 'launch';
  if (event.event === 'terminated' && toPool) return 'return-to-pool';
  return 'terminate';
}
