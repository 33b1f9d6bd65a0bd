import { z } from 'zod';
import { checkValue, type BoundsReason, type DataLimits } from './bounds.js';

/**
 * Auto-scaling lifecycle events as they arrive on the lifecycle queue, in AWS's own formats:
 * lifecycle-hook messages (sent straight to SQS), and group notifications (published to SNS, so
 * wrapped in SNS's envelope). Both may also arrive the other way round (a hook whose target is
 * an SNS topic; a notification delivered raw), and both kinds of test message are ignored.
 */
export type LifecycleEvent =
  | {
      kind: 'hook';
      transition: 'launching' | 'terminating';
      group: string;
      instanceId: string;
      hookName: string;
      token: string;
      time?: string;
    }
  | {
      kind: 'notification';
      event: 'launched' | 'terminated' | 'launch-error' | 'terminate-error';
      group: string;
      instanceId: string;
      time?: string;
    }
  | { kind: 'test'; group?: string };

export type LifecycleParse =
  { ok: true; event: LifecycleEvent } | { ok: false; reason: string; code: BoundsReason | 'oversized' | 'invalid' };

const InstanceId = z.string().regex(/^i-[0-9a-f]{8,17}$/, 'an EC2 instance id');
const GroupName = z.string().min(1).max(255);

const HookMessage = z.object({
  LifecycleTransition: z.enum(['autoscaling:EC2_INSTANCE_LAUNCHING', 'autoscaling:EC2_INSTANCE_TERMINATING']),
  LifecycleActionToken: z.string().min(1).max(255),
  LifecycleHookName: z.string().min(1).max(255),
  AutoScalingGroupName: GroupName,
  EC2InstanceId: InstanceId,
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
  Time: z.string().optional(),
});

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
  if (outer === undefined) return { ok: false, code: 'invalid', reason: 'not JSON' };
  const outerViolation = checkValue(outer, LIFECYCLE_LIMITS);
  if (outerViolation !== undefined) return { ok: false, code: outerViolation.reason, reason: outerViolation.message };
  const envelope = SnsEnvelope.safeParse(outer);
  if (envelope.success) {
    const inner = json(envelope.data.Message);
    if (inner === undefined) return { ok: false, code: 'invalid', reason: 'the SNS message is not JSON' };
    const innerViolation = checkValue(inner, LIFECYCLE_LIMITS);
    if (innerViolation !== undefined)
      return { ok: false, code: innerViolation.reason, reason: `the SNS message: ${innerViolation.message}` };
    return parseInner(inner);
  }
  return parseInner(outer);
}

function parseInner(value: unknown): LifecycleParse {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, code: 'invalid', reason: 'not an object' };
  const record = value as Record<string, unknown>;
  if (record.Event === 'autoscaling:TEST_NOTIFICATION') {
    return {
      ok: true,
      event: {
        kind: 'test',
        ...(typeof record.AutoScalingGroupName === 'string' ? { group: record.AutoScalingGroupName } : {}),
      },
    };
  }
  if ('LifecycleTransition' in record) {
    const hook = HookMessage.safeParse(record);
    if (!hook.success) return { ok: false, code: 'invalid', reason: `lifecycle-hook message: ${issue(hook.error)}` };
    const { data } = hook;
    return {
      ok: true,
      event: {
        kind: 'hook',
        transition: data.LifecycleTransition === 'autoscaling:EC2_INSTANCE_LAUNCHING' ? 'launching' : 'terminating',
        group: data.AutoScalingGroupName,
        instanceId: data.EC2InstanceId,
        hookName: data.LifecycleHookName,
        token: data.LifecycleActionToken,
        ...(data.Time === undefined ? {} : { time: data.Time }),
      },
    };
  }
  if ('Event' in record) {
    const notification = Notification.safeParse(record);
    if (!notification.success)
      return { ok: false, code: 'invalid', reason: `group notification: ${issue(notification.error)}` };
    const { data } = notification;
    return {
      ok: true,
      event: {
        kind: 'notification',
        event: NOTIFICATION_EVENTS[data.Event],
        group: data.AutoScalingGroupName,
        instanceId: data.EC2InstanceId,
        ...(data.Time === undefined ? {} : { time: data.Time }),
      },
    };
  }
  return { ok: false, code: 'invalid', reason: 'neither a lifecycle-hook message nor a group notification' };
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
