import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Logger } from 'pino';
import { PhoenixError, systemClock, type Clock } from '@phoenix/protocol';
import { AwsRequestError } from '../aws-request-error.js';
import { validationError } from './errors.js';
import type { IdentityDocumentSigner } from './identity-signer.js';
import type { InstanceLauncher } from './launcher.js';
import { buildGroup, configError, hex, snapshotGroup, snapshotInstance, type Group, type Instance } from './groups.js';
import {
  causeTime,
  groupNotification,
  lifecycleActionEvent,
  lifecycleHookMessage,
  scalingEvent,
  type Activity,
  type GroupEvent,
} from './messages.js';
import {
  LAUNCHING,
  TERMINATING,
  type AutoScalingSnapshot,
  type GroupConfig,
  type GroupTag,
  type LaunchConfigurationSnapshot,
  type LaunchTemplateRef,
  type LifecycleTransition,
  type ScalingPolicy,
  type InstanceSnapshot,
  type LifecycleActionResult,
  type LifecycleHookConfig,
  type LifecycleState,
} from './model.js';
import { DevstackErrors } from '../errors.js';

export interface AutoScalingSimulatorOptions {
  groups: readonly GroupConfig[];
  /** Lifecycle-hook messages go straight to this queue, as with AWS's SQS notification target. */
  sqs: SQSClient;
  lifecycleQueueUrl: string;
  /** Group notifications go to each group's `topicArn` through this client. */
  sns: SNSClient;
  accountId: string;
  region: string;
  launcher: InstanceLauncher;
  signer: IdentityDocumentSigner;
  logger: Logger;
  /** After the launcher fails, launches in that group wait this long (AWS backs off too). Default 10 s. */
  launchRetryDelayMs?: number;
  /**
   * An EventBridge rule for source `aws.autoscaling` whose target is this queue: every lifecycle
   * action and scaling event is delivered there as EventBridge would. None when absent.
   */
  eventBridgeQueueUrl?: string;
  /** Time for lifecycle actions' heartbeat and global timeouts; the system clock by default. */
  clock?: Clock;
}

export interface LifecycleActionTarget {
  groupName: string;
  hookName: string;
  token?: string;
  instanceId?: string;
}

/** AWS's scaling processes, the names SuspendProcesses takes. */
const SCALING_PROCESSES: readonly string[] = [
  'Launch',
  'Terminate',
  'AddToLoadBalancer',
  'AlarmNotification',
  'AZRebalance',
  'HealthCheck',
  'InstanceRefresh',
  'ReplaceUnhealthy',
  'ScheduledActions',
];

/** AWS's subnet ids: `subnet-` and 8 or 17 hex digits. */
const SUBNET_ID = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

function checkSubnets(subnets: readonly string[]): void {
  const bad = subnets.find((subnet) => !SUBNET_ID.test(subnet));
  if (bad !== undefined) throw validationError(`The subnet ID '${bad}' does not exist`);
  if (new Set(subnets).size !== subnets.length) throw validationError('The VPCZoneIdentifier names a subnet twice');
}

/** AWS takes at most 10 classic load balancers in one call. */
function checkLoadBalancerCount(names: readonly string[]): void {
  if (names.length > 10)
    throw validationError(
      `1 validation error detected: Value at 'loadBalancerNames' failed to satisfy constraint: Member must have length less than or equal to 10`,
    );
}

/** Instances that count towards desired capacity: all but those leaving. */
const COUNTED: ReadonlySet<LifecycleState> = new Set(['Pending', 'Pending:Wait', 'Pending:Proceed', 'InService']);
const GONE: ReadonlySet<LifecycleState> = new Set([
  'Terminating',
  'Terminating:Wait',
  'Terminating:Proceed',
  'Terminated',
  'Warmed:Terminating',
  'Warmed:Terminating:Wait',
  'Warmed:Terminating:Proceed',
  'Warmed:Terminated',
]);
/** Warm instances ready to be put into service. */
const WARM_READY: ReadonlySet<LifecycleState> = new Set(['Warmed:Stopped', 'Warmed:Running']);
/** Instances that count towards the warm pool's size: being prepared, or ready. */
const IN_POOL: ReadonlySet<LifecycleState> = new Set([
  'Warmed:Pending',
  'Warmed:Pending:Wait',
  'Warmed:Pending:Proceed',
  'Warmed:Stopped',
  'Warmed:Running',
]);
/** AWS's cap on how long one lifecycle action can be kept open by heartbeats: 100 × the timeout, at most 48 h. */
const GLOBAL_TIMEOUT_FACTOR = 100;
const MAX_GLOBAL_TIMEOUT_SECONDS = 172_800;

/**
 * AWS Auto Scaling, in memory: groups keep their desired capacity, instances go through the
 * lifecycle states, lifecycle hooks hold them in Pending:Wait / Terminating:Wait until completed
 * or timed out, and the same messages as on AWS go to SQS and SNS. Every state change happens
 * synchronously inside a call (so a refused request changes nothing); the side effects of each
 * instance (boot, messages, stop) run in order on that instance's own promise chain.
 *
 * Events: `change` (snapshot) after every change of state or capacity.
 */
export class AutoScalingSimulator extends EventEmitter<{ change: [AutoScalingSnapshot] }> {
  private readonly groups = new Map<string, Group>();
  private readonly launchConfigurations = new Map<string, LaunchConfigurationSnapshot>();
  private readonly log: Logger;
  private readonly imageId = `ami-${hex(17)}`;
  private readonly launchRetryDelayMs: number;
  private readonly clock: Clock;
  private launched = 0;
  private started = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: AutoScalingSimulatorOptions) {
    super();
    this.log = options.logger.child({ component: 'autoscaling' });
    this.launchRetryDelayMs = options.launchRetryDelayMs ?? 10_000;
    this.clock = options.clock ?? systemClock;
    const now = new Date();
    for (const config of options.groups) {
      const group = buildGroup(config, options, now);
      if (this.groups.has(group.name)) throw configError(group.name, 'is configured twice');
      this.groups.set(group.name, group);
    }
  }

  /** Launches every group's desired capacity. */
  start(): void {
    this.started = true;
    for (const group of this.groups.values()) this.scheduleReconcile(group);
  }

  describe(): AutoScalingSnapshot {
    return Object.freeze({
      groups: Object.freeze([...this.groups.values()].map(snapshotGroup)),
      launchConfigurations: Object.freeze([...this.launchConfigurations.values()]),
    });
  }

  instance(instanceId: string): InstanceSnapshot | undefined {
    for (const group of this.groups.values()) {
      const instance = group.instances.get(instanceId);
      if (instance !== undefined) return snapshotInstance(instance);
    }
    return undefined;
  }

  /** Resolves with the first snapshot that satisfies `predicate`; rejects after `timeoutMs`. */
  waitFor(
    predicate: (snapshot: AutoScalingSnapshot) => boolean,
    { timeoutMs = 10_000, what = 'the awaited condition' }: { timeoutMs?: number; what?: string } = {},
  ): Promise<AutoScalingSnapshot> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off('change', check);
      };
      const check = (snapshot: AutoScalingSnapshot): void => {
        try {
          if (!predicate(snapshot)) return;
          done();
          resolve(snapshot);
        } catch (err) {
          done();
          reject(err);
        }
      };
      const timer = setTimeout(() => {
        done();
        const message = `auto-scaling simulator: ${what} did not happen within ${timeoutMs} ms`;
        reject(
          new PhoenixError(DevstackErrors.PHX_DEVSTACK_ASG_WAIT_TIMEOUT, message, {
            details: { snapshot: this.describe() },
          }),
        );
      }, timeoutMs);
      this.on('change', check);
      check(this.describe());
    });
  }

  setDesiredCapacity(groupName: string, desired: number): void {
    const group = this.group(groupName);
    if (!Number.isInteger(desired)) throw validationError(`DesiredCapacity must be an integer, not ${desired}.`);
    if (desired > group.maxSize) {
      throw validationError(
        `New SetDesiredCapacity value ${desired} is above max value ${group.maxSize} for the AutoScalingGroup.`,
      );
    }
    if (desired < group.minSize) {
      throw validationError(
        `New SetDesiredCapacity value ${desired} is below min value ${group.minSize} for the AutoScalingGroup.`,
      );
    }
    const at = causeTime(new Date());
    group.capacityCause = `At ${at} a user request explicitly set group desired capacity changing the desired capacity from ${group.desired} to ${desired}.`;
    this.log.info({ group: group.name, from: group.desired, to: desired }, 'desired capacity set');
    group.desired = desired;
    this.changed(group);
  }

  /** CreateLaunchConfiguration: what the simulator's instances would launch from (it launches its own processes). */
  createLaunchConfiguration(config: Omit<LaunchConfigurationSnapshot, 'arn' | 'createdTime'>): void {
    if (this.launchConfigurations.has(config.name))
      throw new AwsRequestError(
        'AlreadyExists',
        `Launch Configuration by this name already exists - A launch configuration already exists with the name ${config.name}`,
      );
    const arn = `arn:aws:autoscaling:${this.options.region}:${this.options.accountId}:launchConfiguration:${randomUUID()}:launchConfigurationName/${config.name}`;
    this.launchConfigurations.set(
      config.name,
      Object.freeze({
        ...config,
        arn,
        createdTime: new Date().toISOString(),
        securityGroups: Object.freeze([...config.securityGroups]),
      }),
    );
    this.emitChange();
  }

  deleteLaunchConfiguration(name: string): void {
    if (!this.launchConfigurations.has(name))
      throw validationError(`Launch configuration name not found - Launch configuration ${name} not found`);
    const user = [...this.groups.values()].find((group) => group.launchConfigurationName === name);
    if (user !== undefined)
      throw new AwsRequestError(
        'ResourceInUse',
        `Cannot delete launch configuration ${name} because it is attached to AutoScalingGroup ${user.name}`,
      );
    this.launchConfigurations.delete(name);
    this.emitChange();
  }

  /** CreateAutoScalingGroup: refused before anything changes when the name is taken or the sizes or launch source are wrong. */
  createGroup(config: GroupConfig): void {
    if (this.groups.has(config.name))
      throw new AwsRequestError(
        'AlreadyExists',
        `AutoScalingGroup by this name already exists - A group with the name ${config.name} already exists`,
      );
    this.checkLaunchSource(config.launchConfigurationName, config.launchTemplate);
    checkSubnets(config.vpcZoneIdentifier ?? []);
    checkLoadBalancerCount(config.loadBalancerNames ?? []);
    if (!(config.minSize <= config.desiredCapacity && config.desiredCapacity <= config.maxSize))
      throw validationError(
        `Desired capacity:${config.desiredCapacity} must be between the specified min size:${config.minSize} and max size:${config.maxSize}`,
      );
    let group: Group;
    try {
      group = buildGroup(config, this.options, new Date());
    } catch (err) {
      throw validationError(err instanceof Error ? err.message : String(err));
    }
    this.groups.set(group.name, group);
    this.log.info({ group: group.name, desired: group.desired }, 'group created');
    this.changed(group);
  }

  /** UpdateAutoScalingGroup: sizes and launch source; a new desired capacity launches or terminates. */
  updateGroup(
    name: string,
    update: {
      minSize?: number;
      maxSize?: number;
      desiredCapacity?: number;
      launchConfigurationName?: string;
      launchTemplate?: LaunchTemplateRef;
      vpcZoneIdentifier?: readonly string[];
    },
  ): void {
    const group = this.group(name);
    if (update.launchConfigurationName !== undefined || update.launchTemplate !== undefined)
      this.checkLaunchSource(update.launchConfigurationName, update.launchTemplate);
    if (update.vpcZoneIdentifier !== undefined) checkSubnets(update.vpcZoneIdentifier);
    const minSize = update.minSize ?? group.minSize;
    const maxSize = update.maxSize ?? group.maxSize;
    // AWS moves desired capacity into the new bounds when it is not given.
    const desired = update.desiredCapacity ?? Math.min(Math.max(group.desired, minSize), maxSize);
    if (!(minSize <= desired && desired <= maxSize))
      throw validationError(
        `Desired capacity:${desired} must be between the specified min size:${minSize} and max size:${maxSize}`,
      );
    if (desired !== group.desired) {
      group.capacityCause = `At ${causeTime(new Date())} a user request update of AutoScalingGroup constraints to min: ${minSize}, max: ${maxSize}, desired: ${desired} changing the desired capacity from ${group.desired} to ${desired}.`;
    }
    group.minSize = minSize;
    group.maxSize = maxSize;
    group.desired = desired;
    if (update.launchConfigurationName !== undefined) {
      group.launchConfigurationName = update.launchConfigurationName;
      group.launchTemplate = undefined;
    }
    if (update.launchTemplate !== undefined) {
      group.launchTemplate = Object.freeze({ ...update.launchTemplate });
      group.launchConfigurationName = undefined;
    }
    // Instances already running stay in their subnets, as on AWS; new ones launch in the new ones.
    if (update.vpcZoneIdentifier !== undefined) group.vpcZoneIdentifier = Object.freeze([...update.vpcZoneIdentifier]);
    this.log.info({ group: name, minSize, maxSize, desired }, 'group updated');
    this.changed(group);
  }

  /** DeleteAutoScalingGroup: with instances only when forced; then the group goes once they are terminated. */
  deleteGroup(name: string, forceDelete: boolean): void {
    const group = this.group(name);
    const live = [...group.instances.values()].filter((instance) => !instance.state.endsWith('Terminated'));
    if (live.length > 0 && !forceDelete)
      throw new AwsRequestError(
        'ResourceInUse',
        'You cannot delete an AutoScalingGroup while there are instances or pending Spot instance request(s) still in the group.',
      );
    group.deleting = true;
    group.minSize = 0;
    group.desired = 0;
    group.warmPool = undefined;
    this.log.info({ group: name, instances: live.length }, 'group deletion started');
    this.changed(group);
  }

  /** PutLifecycleHook: adds or replaces a hook by name. The simulator holds one hook per transition. */
  putLifecycleHook(groupName: string, hook: LifecycleHookConfig): void {
    const group = this.group(groupName);
    const same = [...group.hooks.entries()].find(([, existing]) => existing.name === hook.name);
    const other = group.hooks.get(hook.transition);
    if (other !== undefined && other.name !== hook.name)
      throw new AwsRequestError(
        'LimitExceeded',
        `The simulator holds one lifecycle hook per transition: ${groupName} already has ${other.name} for ${hook.transition}`,
      );
    if (same !== undefined) group.hooks.delete(same[0]);
    group.hooks.set(hook.transition, Object.freeze({ ...hook }));
    this.changed(group);
  }

  deleteLifecycleHook(groupName: string, hookName: string): void {
    const group = this.group(groupName);
    const found = [...group.hooks.entries()].find(([, hook]) => hook.name === hookName);
    if (found === undefined)
      throw validationError(`No Lifecycle Hook found with name ${hookName} for group ${groupName}`);
    group.hooks.delete(found[0] as LifecycleTransition);
    this.changed(group);
  }

  /** CreateOrUpdateTags: every tag's group must exist, or nothing changes. */
  setTags(tags: readonly (GroupTag & { groupName: string })[]): void {
    const groups = tags.map((tag) => this.group(tag.groupName));
    tags.forEach((tag, i) => {
      const { groupName: _group, ...rest } = tag;
      groups[i]?.tags.set(tag.key, Object.freeze(rest));
    });
    for (const group of new Set(groups)) this.changed(group);
  }

  deleteTags(tags: readonly { groupName: string; key: string }[]): void {
    const groups = tags.map((tag) => this.group(tag.groupName));
    tags.forEach((tag, i) => groups[i]?.tags.delete(tag.key));
    for (const group of new Set(groups)) this.changed(group);
  }

  /** AttachLoadBalancers: the group's instances would be registered with them (no instance is, here). */
  attachLoadBalancers(groupName: string, names: readonly string[]): void {
    const group = this.group(groupName);
    checkLoadBalancerCount(names);
    for (const name of names) group.loadBalancerNames.add(name);
    this.changed(group);
  }

  /** DetachLoadBalancers: a name the group does not have is no error, as on AWS. */
  detachLoadBalancers(groupName: string, names: readonly string[]): void {
    const group = this.group(groupName);
    checkLoadBalancerCount(names);
    for (const name of names) group.loadBalancerNames.delete(name);
    this.changed(group);
  }

  /** PutScalingPolicy (any kind): recorded and described; nothing here raises alarms to run it. */
  putScalingPolicy(groupName: string, policy: Omit<ScalingPolicy, 'arn'>): string {
    const group = this.group(groupName);
    const arn =
      group.policies.get(policy.name)?.arn ??
      `arn:aws:autoscaling:${this.options.region}:${this.options.accountId}:scalingPolicy:${randomUUID()}:autoScalingGroupName/${groupName}:policyName/${policy.name}`;
    group.policies.set(policy.name, Object.freeze({ ...policy, arn }));
    this.changed(group);
    return arn;
  }

  deletePolicy(groupName: string, policyName: string): void {
    const group = this.group(groupName);
    if (!group.policies.delete(policyName))
      throw validationError(`The scaling policy ${policyName} does not exist for group ${groupName}`);
    this.changed(group);
  }

  /** SuspendProcesses / ResumeProcesses: no names means every process, as on AWS. */
  suspendProcesses(groupName: string, processes: readonly string[], suspend: boolean): void {
    const group = this.group(groupName);
    const names = processes.length === 0 ? SCALING_PROCESSES : processes;
    const unknown = names.find((name) => !SCALING_PROCESSES.includes(name));
    if (unknown !== undefined) throw validationError(`Invalid scaling process name: ${unknown}`);
    for (const name of names) {
      if (suspend) group.suspended.add(name);
      else group.suspended.delete(name);
    }
    this.changed(group);
  }

  /** PutNotificationConfiguration: group notifications go to this topic (the simulator keeps one topic a group). */
  putNotificationConfiguration(groupName: string, topicArn: string, types: readonly string[]): void {
    const group = this.group(groupName);
    group.topicArn = topicArn;
    group.notificationTypes = Object.freeze([...types]);
    this.changed(group);
  }

  deleteNotificationConfiguration(groupName: string, topicArn: string): void {
    const group = this.group(groupName);
    if (group.topicArn !== topicArn) throw validationError(`No notification configuration found for topic ${topicArn}`);
    group.topicArn = undefined;
    group.notificationTypes = undefined;
    this.changed(group);
  }

  private checkLaunchSource(
    launchConfigurationName: string | undefined,
    launchTemplate: LaunchTemplateRef | undefined,
  ): void {
    if ((launchConfigurationName === undefined) === (launchTemplate === undefined))
      throw validationError(
        'Valid requests must contain either LaunchTemplate, LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.',
      );
    if (launchConfigurationName !== undefined && !this.launchConfigurations.has(launchConfigurationName))
      throw validationError(
        `Launch configuration name not found - Launch configuration ${launchConfigurationName} not found`,
      );
  }

  private emitChange(): void {
    if (this.listenerCount('change') > 0) this.emit('change', this.describe());
  }

  /** TerminateInstanceInAutoScalingGroup. Returns the termination activity. */
  terminateInstance(instanceId: string, shouldDecrementDesiredCapacity: boolean): Activity {
    const instance = this.findInstance(instanceId);
    if (instance === undefined || instance.state.endsWith('Terminated')) {
      throw validationError(`Instance Id not found - No managed instance found for instance ID: ${instanceId}`);
    }
    // Asking twice is answered with the termination already under way, and changes nothing.
    if (GONE.has(instance.state)) return instance.activity;
    const { group } = instance;
    if (shouldDecrementDesiredCapacity && group.desired <= group.minSize) {
      throw validationError(
        `Currently, desiredSize equals minSize (${group.minSize}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
      );
    }
    const shrink = shouldDecrementDesiredCapacity
      ? `, shrinking the capacity from ${group.desired} to ${group.desired - 1}`
      : '';
    if (shouldDecrementDesiredCapacity) group.desired -= 1;
    const cause = `At ${causeTime(new Date())} instance ${instanceId} was taken out of service in response to a user request${shrink}.`;
    this.beginTermination(instance, cause);
    return instance.activity;
  }

  completeLifecycleAction(target: LifecycleActionTarget & { result: string }): void {
    if (target.result !== 'CONTINUE' && target.result !== 'ABANDON') {
      throw validationError(
        `1 validation error detected: Value '${target.result}' at 'lifecycleActionResult' failed to satisfy constraint: Member must satisfy enum value set: [CONTINUE, ABANDON]`,
      );
    }
    const instance = this.openAction(target);
    this.log.info(
      { instanceId: instance.id, hook: target.hookName, result: target.result },
      'lifecycle action completed',
    );
    this.resolveAction(instance, target.result);
  }

  recordLifecycleActionHeartbeat(target: LifecycleActionTarget): void {
    const instance = this.openAction(target);
    this.log.debug({ instanceId: instance.id, hook: target.hookName }, 'lifecycle action heartbeat');
    this.armHeartbeat(instance);
  }

  /** Ends every instance process and timer. The simulator does nothing more afterwards. */
  stop(): Promise<void> {
    this.stopped = true;
    return (this.stopping ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    const instances = [...this.groups.values()].flatMap((group) => {
      clearTimeout(group.backoff);
      return [...group.instances.values()];
    });
    for (const instance of instances) this.clock.clearTimeout(instance.action?.timer);
    // Steps already running finish (a boot under way yields a process to stop); queued ones are skipped.
    let pending: Promise<void>[];
    do {
      pending = instances.map((instance) => instance.work);
      await Promise.all(pending);
    } while (instances.some((instance, i) => instance.work !== pending[i]));
    await Promise.all(instances.map((instance) => this.stopProcess(instance)));
    this.log.info('auto-scaling simulator stopped');
  }

  private group(name: string): Group {
    const group = this.groups.get(name);
    if (group === undefined)
      throw validationError(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
    return group;
  }

  private findInstance(instanceId: string): Instance | undefined {
    for (const group of this.groups.values()) {
      const instance = group.instances.get(instanceId);
      if (instance !== undefined) return instance;
    }
    return undefined;
  }

  /** The instance whose open lifecycle action the target names, with AWS's answers when none is. */
  private openAction(target: LifecycleActionTarget): Instance {
    const group = this.group(target.groupName);
    const open = (instance: Instance | undefined): instance is Instance =>
      instance?.action !== undefined && instance.action.hook.name === target.hookName;
    if (target.token !== undefined) {
      const instance = [...group.instances.values()].find(
        (candidate) =>
          open(candidate) &&
          candidate.action?.token === target.token &&
          (target.instanceId === undefined || candidate.id === target.instanceId),
      );
      if (instance === undefined) throw validationError(`No active Lifecycle Action found with token ${target.token}`);
      return instance;
    }
    if (target.instanceId === undefined) {
      throw validationError('Either LifecycleActionToken or InstanceId must be specified.');
    }
    const instance = group.instances.get(target.instanceId);
    if (!open(instance))
      throw validationError(`No active Lifecycle Action found with instance ID ${target.instanceId}`);
    return instance;
  }

  /** Brings a group to its desired capacity, once per turn of the event loop however many changes asked. */
  private scheduleReconcile(group: Group): void {
    if (group.reconcileQueued || !this.started || this.stopped) return;
    group.reconcileQueued = true;
    queueMicrotask(() => {
      group.reconcileQueued = false;
      if (!this.stopped) this.reconcile(group);
    });
  }

  private reconcile(group: Group): void {
    if (group.deleting && [...group.instances.values()].every((instance) => instance.state.endsWith('Terminated'))) {
      if (this.groups.get(group.name) === group) {
        this.groups.delete(group.name);
        this.log.info({ group: group.name }, 'group deleted');
        this.emitChange();
      }
      return;
    }
    const live = [...group.instances.values()].filter((instance) => COUNTED.has(instance.state));
    if (live.length < group.desired && group.backoff === undefined && !group.suspended.has('Launch')) {
      // The warm pool first, oldest instance first, as AWS does; then new instances.
      const ready = [...group.instances.values()]
        .filter((instance) => WARM_READY.has(instance.state))
        .sort((a, b) => a.seq - b.seq);
      for (let count = live.length; count < group.desired; count++) {
        const warm = ready.shift();
        if (warm === undefined) this.launch(group, count, 'AutoScalingGroup');
        else this.leavePool(warm, count);
      }
    } else if (live.length > group.desired && !group.suspended.has('Terminate')) {
      // Newest first (AWS's default policy weighs zones and launch templates, which the devstack
      // has not): the instance least settled goes, and the long-lived masters stay. Instances in a
      // passing state (Pending, Pending:Proceed) are left alone; their next change reconciles again.
      const victims = live
        .filter((instance) => instance.state === 'InService' || instance.state === 'Pending:Wait')
        .sort((a, b) => b.seq - a.seq)
        .slice(0, live.length - group.desired);
      let count = live.length;
      for (const victim of victims) {
        const at = causeTime(new Date());
        const cause = `${group.capacityCause}  At ${at} an instance was taken out of service in response to a difference between desired and actual capacity, shrinking the capacity from ${count} to ${count - 1}.  At ${at} instance ${victim.id} was selected for termination.`;
        if (group.warmPool?.reuseOnScaleIn === true) this.returnToPool(victim, cause);
        else this.beginTermination(victim, cause);
        count -= 1;
      }
    }
    // The pool is kept at its minimum size (MaxGroupPreparedCapacity is not simulated).
    if (group.warmPool !== undefined && group.backoff === undefined) {
      const pooled = [...group.instances.values()].filter((instance) => IN_POOL.has(instance.state)).length;
      for (let count = pooled; count < group.warmPool.minSize; count++) this.launch(group, count, 'WarmPool');
    }
  }

  private launch(group: Group, count: number, destination: 'AutoScalingGroup' | 'WarmPool'): void {
    const id = `i-${hex(17)}`;
    const now = new Date();
    const seq = this.launched++;
    const intoPool = destination === 'WarmPool';
    const instance: Instance = {
      id,
      group,
      seq,
      launchTime: now,
      privateIp: `10.0.${Math.floor(seq / 250) % 256}.${(seq % 250) + 4}`,
      state: intoPool ? 'Warmed:Pending' : 'Pending',
      activity: {
        activityId: randomUUID(),
        groupName: group.name,
        instanceId: id,
        description: intoPool
          ? `Launching a new EC2 instance into warm pool: ${id}`
          : `Launching a new EC2 instance: ${id}`,
        cause: intoPool
          ? `At ${causeTime(now)} an instance was launched to maintain the warm pool size of ${group.warmPool?.minSize ?? 0}, increasing it from ${count} to ${count + 1}.`
          : `${group.capacityCause}  At ${causeTime(now)} an instance was started in response to a difference between desired and actual capacity, increasing the capacity from ${count} to ${count + 1}.`,
        startTime: now,
        origin: 'EC2',
        destination,
      },
      work: Promise.resolve(),
    };
    group.instances.set(id, instance);
    this.setState(instance, instance.state);
    this.enqueue(instance, () => this.boot(instance));
  }

  /** Starts the instance's process: on AWS an instance boots while its launch hook holds it. */
  private async startProcess(instance: Instance): Promise<void> {
    const { group } = instance;
    const identity = this.options.signer.sign({
      accountId: this.options.accountId,
      region: this.options.region,
      availabilityZone: group.availabilityZone,
      imageId: this.imageId,
      instanceId: instance.id,
      instanceType: group.instanceType,
      privateIp: instance.privateIp,
      pendingTime: instance.launchTime,
    });
    instance.stopped = undefined;
    instance.running = await this.options.launcher.launch({
      instanceId: instance.id,
      groupName: group.name,
      identity,
      privateIp: instance.privateIp,
      availabilityZone: group.availabilityZone,
    });
  }

  private async boot(instance: Instance): Promise<void> {
    const { group } = instance;
    const intoPool = instance.state === 'Warmed:Pending';
    try {
      await this.startProcess(instance);
    } catch (err) {
      this.log.error({ err, instanceId: instance.id, group: group.name }, 'instance launch failed');
      if (instance.state !== 'Pending' && instance.state !== 'Warmed:Pending') return; // a termination is queued behind this step
      this.backOff(group);
      this.setState(instance, intoPool ? 'Warmed:Terminated' : 'Terminated');
      await this.notify(instance, 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR', `Launching instance failed: ${String(err)}`);
      return;
    }
    if (this.stopped || (instance.state !== 'Pending' && instance.state !== 'Warmed:Pending')) return;
    const hook = group.hooks.get(LAUNCHING);
    if (intoPool) {
      if (hook === undefined) this.settleInPool(instance);
      else this.hold(instance, hook, 'Warmed:Pending:Wait');
    } else if (hook === undefined) this.enterService(instance);
    else this.hold(instance, hook, 'Pending:Wait');
  }

  /** A warm instance is put into service: started again if it was stopped, then held by the launch hook. */
  private leavePool(instance: Instance, count: number): void {
    const now = new Date();
    instance.activity = {
      activityId: randomUUID(),
      groupName: instance.group.name,
      instanceId: instance.id,
      description: `Launching EC2 instance from warm pool: ${instance.id}`,
      cause: `${instance.group.capacityCause}  At ${causeTime(now)} an instance was moved from the warm pool in response to a difference between desired and actual capacity, increasing the capacity from ${count} to ${count + 1}.`,
      startTime: now,
      origin: 'WarmPool',
      destination: 'AutoScalingGroup',
    };
    this.setState(instance, 'Pending');
    this.enqueue(instance, async () => {
      if (instance.running === undefined) {
        try {
          await this.startProcess(instance);
        } catch (err) {
          this.log.error({ err, instanceId: instance.id }, 'warm instance could not be started');
          if (instance.state === 'Pending') this.end(instance, 'Terminating', 'autoscaling:EC2_INSTANCE_LAUNCH_ERROR');
          return;
        }
      }
      if (this.stopped || instance.state !== 'Pending') return;
      const hook = instance.group.hooks.get(LAUNCHING);
      if (hook === undefined) this.enterService(instance);
      else this.hold(instance, hook, 'Pending:Wait');
    });
  }

  /** Scale-in with instance reuse: the instance goes back to the pool (held by the terminate hook on the way). */
  private returnToPool(instance: Instance, cause: string): void {
    this.clock.clearTimeout(instance.action?.timer);
    instance.action = undefined;
    instance.activity = {
      activityId: randomUUID(),
      groupName: instance.group.name,
      instanceId: instance.id,
      description: `Moving EC2 instance to warm pool: ${instance.id}`,
      cause,
      startTime: new Date(),
      origin: 'AutoScalingGroup',
      destination: 'WarmPool',
    };
    const hook = instance.group.hooks.get(TERMINATING);
    if (hook === undefined) this.settleInPool(instance);
    else this.hold(instance, hook, 'Warmed:Pending:Wait');
  }

  /** The instance is prepared: it waits in the pool, stopped (its process ended) or running. */
  private settleInPool(instance: Instance): void {
    if (instance.group.warmPool?.poolState === 'Running') {
      this.setState(instance, 'Warmed:Running');
      return;
    }
    this.setState(instance, 'Warmed:Pending:Proceed');
    this.enqueue(instance, async () => {
      await this.stopProcess(instance);
      instance.running = undefined;
      if (instance.state === 'Warmed:Pending:Proceed') this.setState(instance, 'Warmed:Stopped');
    });
  }

  private enterService(instance: Instance): void {
    this.setState(instance, 'InService');
    this.enqueue(instance, () => this.notify(instance, 'autoscaling:EC2_INSTANCE_LAUNCH'));
  }

  private beginTermination(instance: Instance, cause: string): void {
    // A launch still held is given up: its token stops working, as on AWS.
    this.clock.clearTimeout(instance.action?.timer);
    instance.action = undefined;
    const pooled = instance.state.startsWith('Warmed:');
    instance.activity = {
      activityId: randomUUID(),
      groupName: instance.group.name,
      instanceId: instance.id,
      description: `Terminating EC2 instance: ${instance.id}`,
      cause,
      startTime: new Date(),
      origin: pooled ? 'WarmPool' : 'AutoScalingGroup',
      destination: 'EC2',
    };
    const hook = instance.group.hooks.get(TERMINATING);
    if (hook === undefined)
      this.end(instance, pooled ? 'Warmed:Terminating' : 'Terminating', 'autoscaling:EC2_INSTANCE_TERMINATE');
    else this.hold(instance, hook, pooled ? 'Warmed:Terminating:Wait' : 'Terminating:Wait');
  }

  /**
   * Opens a lifecycle action: the instance waits in `state`, the hook message goes to the lifecycle
   * queue (when the hook has it as its target) and the lifecycle-action event to EventBridge.
   */
  private hold(
    instance: Instance,
    hook: LifecycleHookConfig,
    state: 'Pending:Wait' | 'Terminating:Wait' | 'Warmed:Pending:Wait' | 'Warmed:Terminating:Wait',
  ): void {
    const token = randomUUID();
    const globalSeconds = Math.min(hook.heartbeatTimeoutSeconds * GLOBAL_TIMEOUT_FACTOR, MAX_GLOBAL_TIMEOUT_SECONDS);
    const { origin, destination } = instance.activity;
    instance.action = { hook, token, deadline: this.clock.now() + globalSeconds * 1000, destination };
    this.armHeartbeat(instance);
    this.setState(instance, state);
    const message = {
      accountId: this.options.accountId,
      groupName: instance.group.name,
      hook,
      instanceId: instance.id,
      token,
      requestId: instance.activity.activityId,
      time: new Date(),
      origin,
      destination,
    };
    const body = lifecycleHookMessage(message);
    const event = lifecycleActionEvent({
      ...message,
      eventId: randomUUID(),
      region: this.options.region,
      groupArn: instance.group.arn,
    });
    this.enqueue(instance, async () => {
      if (hook.notifyQueue !== false) {
        try {
          await this.options.sqs.send(
            new SendMessageCommand({ QueueUrl: this.options.lifecycleQueueUrl, MessageBody: body }),
          );
          this.log.info(
            { instanceId: instance.id, hook: hook.name, transition: hook.transition, origin, destination },
            'lifecycle hook message sent',
          );
        } catch (err) {
          // As on AWS, an undelivered hook message leaves the instance to its heartbeat timeout.
          this.log.error({ err, instanceId: instance.id, hook: hook.name }, 'lifecycle hook message could not be sent');
        }
      }
      await this.toEventBridge(event, instance.id);
    });
  }

  /** (Re)starts the heartbeat timeout, never beyond the action's global timeout. */
  private armHeartbeat(instance: Instance): void {
    const action = instance.action;
    if (action === undefined || this.stopped) return;
    this.clock.clearTimeout(action.timer);
    const ms = Math.min(action.hook.heartbeatTimeoutSeconds * 1000, action.deadline - this.clock.now());
    action.timer = this.clock.setTimeout(
      () => {
        this.log.info(
          { instanceId: instance.id, hook: action.hook.name, result: action.hook.defaultResult },
          'lifecycle action timed out; the default result applies',
        );
        this.resolveAction(instance, action.hook.defaultResult);
      },
      Math.max(0, ms),
    );
  }

  private resolveAction(instance: Instance, result: LifecycleActionResult): void {
    const action = instance.action;
    if (action === undefined) return;
    this.clock.clearTimeout(action.timer);
    instance.action = undefined;
    const pooled = instance.state.startsWith('Warmed:');
    if (action.hook.transition === TERMINATING) {
      // Either result lets a terminating instance go: out of the group, or back to the pool.
      if (action.destination === 'WarmPool') this.settleInPool(instance);
      else
        this.end(
          instance,
          pooled ? 'Warmed:Terminating:Proceed' : 'Terminating:Proceed',
          'autoscaling:EC2_INSTANCE_TERMINATE',
        );
    } else if (result === 'CONTINUE') {
      if (action.destination === 'WarmPool') {
        this.settleInPool(instance);
        return;
      }
      this.setState(instance, 'Pending:Proceed');
      this.enqueue(instance, async () => {
        if (instance.state === 'Pending:Proceed') this.enterService(instance);
      });
    } else {
      this.end(
        instance,
        pooled ? 'Warmed:Terminating' : 'Terminating',
        'autoscaling:EC2_INSTANCE_LAUNCH_ERROR',
        `Instance failed to complete user's Lifecycle Action: Lifecycle Action with token ${action.token} was abandoned: Lifecycle Action Completed with ABANDON Result`,
      );
    }
  }

  /** Stops the instance's process, then it is Terminated and the group's notification goes out. */
  private end(instance: Instance, state: LifecycleState, event: GroupEvent, statusMessage?: string): void {
    this.setState(instance, state);
    this.enqueue(instance, async () => {
      await this.stopProcess(instance);
      this.setState(instance, state.startsWith('Warmed:') ? 'Warmed:Terminated' : 'Terminated');
      await this.notify(instance, event, statusMessage);
    });
  }

  private stopProcess(instance: Instance): Promise<void> {
    const running = instance.running;
    if (running === undefined) return Promise.resolve();
    return (instance.stopped ??= running.stop().catch((err: unknown) => {
      this.log.error({ err, instanceId: instance.id }, 'instance process did not stop cleanly');
    }));
  }

  /** The group notification to its topic, and its EventBridge event. */
  private async notify(instance: Instance, event: GroupEvent, statusMessage?: string): Promise<void> {
    const { group } = instance;
    const time = new Date();
    const facts = {
      event,
      accountId: this.options.accountId,
      activity: instance.activity,
      availabilityZone: group.availabilityZone,
      subnetId: group.subnetId,
      time,
      ...(statusMessage === undefined ? {} : { statusMessage }),
    };
    await this.toEventBridge(
      scalingEvent({ ...facts, eventId: randomUUID(), region: this.options.region, groupArn: group.arn }),
      instance.id,
    );
    if (group.topicArn === undefined) return;
    const { subject, message } = groupNotification({ ...facts, groupArn: group.arn });
    try {
      await this.options.sns.send(new PublishCommand({ TopicArn: group.topicArn, Subject: subject, Message: message }));
      this.log.info({ instanceId: instance.id, group: group.name, event }, 'group notification published');
    } catch (err) {
      this.log.error({ err, instanceId: instance.id, event }, 'group notification could not be published');
    }
  }

  /** What an EventBridge rule for source aws.autoscaling, with the queue as its target, delivers. */
  private async toEventBridge(body: string, instanceId: string): Promise<void> {
    const queueUrl = this.options.eventBridgeQueueUrl;
    if (queueUrl === undefined) return;
    try {
      await this.options.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
      this.log.info({ instanceId }, 'EventBridge event delivered');
    } catch (err) {
      this.log.error({ err, instanceId }, 'EventBridge event could not be delivered');
    }
  }

  /** Pauses launches in a group after a launcher failure, so a broken launcher does not spin. */
  private backOff(group: Group): void {
    if (group.backoff !== undefined || this.stopped) return;
    group.backoff = setTimeout(() => {
      group.backoff = undefined;
      this.scheduleReconcile(group);
    }, this.launchRetryDelayMs);
  }

  private enqueue(instance: Instance, step: () => Promise<void>): void {
    instance.work = instance.work
      .then(() => (this.stopped ? undefined : step()))
      .catch((err: unknown) => this.log.error({ err, instanceId: instance.id }, 'instance step failed'));
  }

  private setState(instance: Instance, state: LifecycleState): void {
    instance.state = state;
    this.log.info({ instanceId: instance.id, group: instance.group.name, state }, 'instance lifecycle state');
    this.changed(instance.group);
  }

  private changed(group: Group): void {
    this.scheduleReconcile(group);
    if (this.listenerCount('change') === 0) return;
    try {
      this.emit('change', this.describe());
    } catch (err) {
      // A listener's bug must not break the state machine halfway through a transition.
      this.log.error({ err }, 'a change listener threw');
    }
  }
}
