/**
 * The simulator's records of groups and instances: built from configuration (validated as AWS
 * would validate it) and handed out only as frozen snapshots, so no caller can change them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PhoenixError } from '@phoenix/protocol';
import type { RunningInstance } from './launcher.js';
import { causeTime, groupArn, type Activity } from './messages.js';
import {
  LAUNCHING,
  TERMINATING,
  type GroupConfig,
  type GroupSnapshot,
  type GroupTag,
  type LaunchTemplateRef,
  type ScalingPolicy,
  type InstanceSnapshot,
  type LifecycleHookConfig,
  type LifecyclePlace,
  type LifecycleState,
  type LifecycleTransition,
  type WarmPoolConfig,
} from './model.js';
import { DevstackErrors } from '../errors.js';

export interface Group {
  readonly name: string;
  readonly arn: string;
  minSize: number;
  maxSize: number;
  desired: number;
  readonly createdTime: Date;
  readonly availabilityZone: string;
  readonly instanceType: string;
  readonly subnetId: string;
  topicArn: string | undefined;
  /** The notification types of PutNotificationConfiguration; all of them for a configured topic. */
  notificationTypes: readonly string[] | undefined;
  readonly hooks: Map<LifecycleTransition, LifecycleHookConfig>;
  readonly tags: Map<string, GroupTag>;
  launchConfigurationName: string | undefined;
  launchTemplate: Readonly<LaunchTemplateRef> | undefined;
  /** A forced DeleteAutoScalingGroup: the group goes once its instances have. */
  deleting: boolean;
  /** SuspendProcesses: with `Launch` or `Terminate` suspended, capacity changes wait. */
  readonly suspended: Set<string>;
  readonly policies: Map<string, ScalingPolicy>;
  vpcZoneIdentifier: readonly string[];
  readonly loadBalancerNames: Set<string>;
  warmPool: Readonly<WarmPoolConfig> | undefined;
  readonly instances: Map<string, Instance>;
  /** The last change of desired capacity, in AWS's words: the first sentence of later Causes. */
  capacityCause: string;
  reconcileQueued: boolean;
  backoff?: NodeJS.Timeout;
}

export interface Instance {
  readonly id: string;
  readonly group: Group;
  readonly seq: number;
  readonly launchTime: Date;
  readonly privateIp: string;
  state: LifecycleState;
  activity: Activity;
  action?: {
    readonly hook: LifecycleHookConfig;
    readonly token: string;
    readonly deadline: number;
    /** Where the held instance goes when the action completes. */
    readonly destination: LifecyclePlace;
    timer?: unknown;
  };
  running?: RunningInstance;
  stopped?: Promise<void>;
  /** This instance's side effects, in order: boot, messages, stop. */
  work: Promise<void>;
}

export function buildGroup(config: GroupConfig, options: { region: string; accountId: string }, now: Date): Group {
  const { name, minSize, maxSize, desiredCapacity } = config;
  if (typeof name !== 'string' || name.length === 0) throw configError(String(name), 'needs a name');
  if (![minSize, maxSize, desiredCapacity].every((n) => Number.isInteger(n) && n >= 0)) {
    throw configError(name, 'needs whole, non-negative minSize, maxSize and desiredCapacity');
  }
  if (!(minSize <= desiredCapacity && desiredCapacity <= maxSize)) {
    throw configError(
      name,
      `needs minSize <= desiredCapacity <= maxSize (got ${minSize}, ${desiredCapacity}, ${maxSize})`,
    );
  }
  const hooks = new Map<LifecycleTransition, LifecycleHookConfig>();
  for (const hook of config.hooks ?? []) {
    if (hook.transition !== LAUNCHING && hook.transition !== TERMINATING) {
      throw configError(name, `hook "${hook.name}" has an unknown transition "${String(hook.transition)}"`);
    }
    if (hooks.has(hook.transition)) throw configError(name, `has more than one ${hook.transition} hook`);
    if (!(hook.heartbeatTimeoutSeconds > 0 && Number.isFinite(hook.heartbeatTimeoutSeconds))) {
      throw configError(name, `hook "${hook.name}" needs a positive heartbeatTimeoutSeconds`);
    }
    if (hook.defaultResult !== 'CONTINUE' && hook.defaultResult !== 'ABANDON') {
      throw configError(name, `hook "${hook.name}" needs defaultResult CONTINUE or ABANDON`);
    }
    hooks.set(hook.transition, Object.freeze({ ...hook }));
  }
  const warmPool = config.warmPool;
  if (warmPool !== undefined) {
    if (!(Number.isInteger(warmPool.minSize) && warmPool.minSize >= 0)) {
      throw configError(name, 'needs a whole, non-negative warm pool minSize');
    }
    if (warmPool.poolState !== undefined && warmPool.poolState !== 'Stopped' && warmPool.poolState !== 'Running') {
      throw configError(name, 'needs warm pool poolState Stopped or Running');
    }
  }
  return {
    name,
    arn: groupArn(options.region, options.accountId, randomUUID(), name),
    minSize,
    maxSize,
    desired: desiredCapacity,
    createdTime: now,
    availabilityZone: config.availabilityZone ?? `${options.region}a`,
    instanceType: config.instanceType ?? 't3.micro',
    subnetId: config.vpcZoneIdentifier?.[0] ?? `subnet-${hex(17)}`,
    topicArn: config.topicArn,
    notificationTypes: undefined,
    hooks,
    tags: new Map((config.tags ?? []).map((tag) => [tag.key, Object.freeze({ ...tag })])),
    launchConfigurationName: config.launchConfigurationName,
    launchTemplate: config.launchTemplate === undefined ? undefined : Object.freeze({ ...config.launchTemplate }),
    deleting: false,
    suspended: new Set(),
    policies: new Map(),
    vpcZoneIdentifier: Object.freeze([...(config.vpcZoneIdentifier ?? [])]),
    loadBalancerNames: new Set(config.loadBalancerNames ?? []),
    warmPool: warmPool === undefined ? undefined : Object.freeze({ ...warmPool }),
    instances: new Map(),
    capacityCause: `At ${causeTime(now)} a user request created an AutoScalingGroup changing the desired capacity from 0 to ${desiredCapacity}.`,
    reconcileQueued: false,
  };
}

export function snapshotGroup(group: Group): GroupSnapshot {
  return Object.freeze({
    name: group.name,
    arn: group.arn,
    minSize: group.minSize,
    maxSize: group.maxSize,
    desiredCapacity: group.desired,
    createdTime: group.createdTime.toISOString(),
    availabilityZone: group.availabilityZone,
    instanceType: group.instanceType,
    hooks: Object.freeze([...group.hooks.values()]),
    ...(group.warmPool === undefined ? {} : { warmPool: group.warmPool }),
    tags: Object.freeze([...group.tags.values()].sort((a, b) => a.key.localeCompare(b.key))),
    ...(group.launchConfigurationName === undefined ? {} : { launchConfigurationName: group.launchConfigurationName }),
    ...(group.launchTemplate === undefined ? {} : { launchTemplate: group.launchTemplate }),
    ...(group.topicArn === undefined
      ? {}
      : {
          notification: Object.freeze({
            topicArn: group.topicArn,
            types: Object.freeze([...(group.notificationTypes ?? [])]),
          }),
        }),
    ...(group.deleting ? { status: 'Delete in progress' } : {}),
    suspendedProcesses: Object.freeze([...group.suspended].sort()),
    scalingPolicies: Object.freeze([...group.policies.values()]),
    vpcZoneIdentifier: group.vpcZoneIdentifier,
    loadBalancerNames: Object.freeze([...group.loadBalancerNames]),
    instances: Object.freeze([...group.instances.values()].map(snapshotInstance)),
  });
}

export function snapshotInstance(instance: Instance): InstanceSnapshot {
  const pid = instance.state.endsWith('Terminated') ? undefined : instance.running?.pid;
  return Object.freeze({
    instanceId: instance.id,
    groupName: instance.group.name,
    lifecycleState: instance.state,
    availabilityZone: instance.group.availabilityZone,
    instanceType: instance.group.instanceType,
    privateIp: instance.privateIp,
    launchTime: instance.launchTime.toISOString(),
    ...(pid === undefined ? {} : { pid }),
  });
}

export function hex(length: number): string {
  return randomBytes(Math.ceil(length / 2))
    .toString('hex')
    .slice(0, length);
}

export function configError(group: string, problem: string): PhoenixError {
  return new PhoenixError(DevstackErrors.PHX_DEVSTACK_ASG_CONFIG_INVALID, `auto-scaling group "${group}" ${problem}`, {
    details: { group },
  });
}
