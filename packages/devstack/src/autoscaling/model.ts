/** The shapes the simulator is configured with and hands out. Names follow AWS's API. */

export const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
export type LifecycleTransition = typeof LAUNCHING | typeof TERMINATING;
export type LifecycleActionResult = 'CONTINUE' | 'ABANDON';

/** AWS's `LifecycleState` values that the simulator goes through (`Warmed:…`: in the warm pool). */
export type LifecycleState =
  | 'Pending'
  | 'Pending:Wait'
  | 'Pending:Proceed'
  | 'InService'
  | 'Terminating'
  | 'Terminating:Wait'
  | 'Terminating:Proceed'
  | 'Terminated'
  | 'Warmed:Pending'
  | 'Warmed:Pending:Wait'
  | 'Warmed:Pending:Proceed'
  | 'Warmed:Stopped'
  | 'Warmed:Running'
  | 'Warmed:Terminating'
  | 'Warmed:Terminating:Wait'
  | 'Warmed:Terminating:Proceed'
  | 'Warmed:Terminated';

/** Where an instance comes from and goes to in a transition, as AWS's messages say (`Origin`, `Destination`). */
export type LifecyclePlace = 'EC2' | 'AutoScalingGroup' | 'WarmPool';

export interface LifecycleHookConfig {
  name: string;
  transition: LifecycleTransition;
  /**
   * Seconds an instance waits for CompleteLifecycleAction or a heartbeat before `defaultResult`
   * applies. AWS allows 30..7200; the simulator takes any positive number so tests run fast.
   */
  heartbeatTimeoutSeconds: number;
  defaultResult: LifecycleActionResult;
  /** Passed through in every hook message, as AWS does. */
  notificationMetadata?: string;
  /**
   * Whether the hook sends its message to the lifecycle queue (on AWS: it has a
   * NotificationTargetARN). Default true; without one, only an EventBridge rule hears of it.
   */
  notifyQueue?: boolean;
  /** As PutLifecycleHook named them (the simulator's lifecycle queue stands for any target). */
  notificationTargetArn?: string;
  roleArn?: string;
}

/** A warm pool: instances launched and prepared ahead, kept stopped (or running) until the group needs them. */
export interface WarmPoolConfig {
  /** Instances kept in the pool (AWS's MinSize; MaxGroupPreparedCapacity is not simulated). */
  minSize: number;
  /** What an instance in the pool is: `Stopped` (its process ended) or `Running`. Default `Stopped`. */
  poolState?: 'Stopped' | 'Running';
  /** Scale-in returns instances to the pool instead of terminating them (AWS's InstanceReusePolicy). */
  reuseOnScaleIn?: boolean;
}

/** A group's tag; `propagateAtLaunch` tags would be put on the instances it launches. */
export interface GroupTag {
  key: string;
  value: string;
  propagateAtLaunch: boolean;
}

/** One step of a step scaling policy: bounds relative to the alarm's threshold (either may be open). */
export interface StepAdjustment {
  readonly metricIntervalLowerBound?: number;
  readonly metricIntervalUpperBound?: number;
  readonly scalingAdjustment: number;
}

/** A target-tracking policy's metric and target, as PutScalingPolicy's TargetTrackingConfiguration. */
export interface TargetTrackingConfiguration {
  readonly predefinedMetric?: { readonly type: string; readonly resourceLabel?: string };
  readonly customizedMetric?: {
    readonly metricName: string;
    readonly namespace: string;
    readonly statistic: string;
    readonly unit?: string;
    readonly dimensions: readonly { readonly name: string; readonly value: string }[];
  };
  readonly targetValue: number;
  readonly disableScaleIn: boolean;
}

export type PolicyType = 'SimpleScaling' | 'StepScaling' | 'TargetTrackingScaling';

/**
 * A scaling policy as PutScalingPolicy records it, of any of the three kinds; the fields of the
 * other kinds are absent. The simulator has no alarms or metrics to run one.
 */
export interface ScalingPolicy {
  readonly name: string;
  readonly arn: string;
  readonly policyType: PolicyType;
  /** Simple and step scaling. */
  readonly adjustmentType?: string;
  readonly minAdjustmentMagnitude?: number;
  /** Simple scaling only. */
  readonly scalingAdjustment?: number;
  readonly cooldown?: number;
  /** Step scaling only. */
  readonly stepAdjustments?: readonly StepAdjustment[];
  readonly metricAggregationType?: string;
  /** Step and target-tracking scaling. */
  readonly estimatedInstanceWarmup?: number;
  /** Target-tracking scaling only. */
  readonly targetTracking?: TargetTrackingConfiguration;
}

/** Which launch template a group launches from (by id or name, and a version). */
export interface LaunchTemplateRef {
  launchTemplateId?: string;
  launchTemplateName?: string;
  version?: string;
}

/** A launch configuration as CreateLaunchConfiguration records it. */
export interface LaunchConfigurationSnapshot {
  readonly name: string;
  readonly arn: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly createdTime: string;
  readonly keyName?: string;
  readonly securityGroups: readonly string[];
  readonly userData?: string;
  readonly iamInstanceProfile?: string;
}

export interface GroupConfig {
  name: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  /** Where group notifications (EC2_INSTANCE_LAUNCH, …) are published; none when absent. */
  topicArn?: string;
  /** At most one hook per transition. */
  hooks?: readonly LifecycleHookConfig[];
  /** Defaults: `<region>a`, `t3.micro`. */
  availabilityZone?: string;
  instanceType?: string;
  warmPool?: WarmPoolConfig;
  tags?: readonly GroupTag[];
  launchConfigurationName?: string;
  launchTemplate?: LaunchTemplateRef;
  /** The subnets instances launch in (AWS's VPCZoneIdentifier, a list here). None: EC2-Classic style. */
  vpcZoneIdentifier?: readonly string[];
  /** Classic load balancers the group's instances are registered with (by name). */
  loadBalancerNames?: readonly string[];
}

export interface InstanceSnapshot {
  readonly instanceId: string;
  readonly groupName: string;
  readonly lifecycleState: LifecycleState;
  readonly availabilityZone: string;
  readonly instanceType: string;
  readonly privateIp: string;
  readonly launchTime: string;
  /** The process standing in for the instance, while it runs (and if the launcher has one). */
  readonly pid?: number;
}

export interface GroupSnapshot {
  readonly name: string;
  readonly arn: string;
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredCapacity: number;
  readonly createdTime: string;
  readonly availabilityZone: string;
  readonly instanceType: string;
  readonly hooks: readonly Readonly<LifecycleHookConfig>[];
  readonly warmPool?: Readonly<WarmPoolConfig>;
  readonly tags: readonly Readonly<GroupTag>[];
  readonly launchConfigurationName?: string;
  readonly launchTemplate?: Readonly<LaunchTemplateRef>;
  /** Where group notifications go (PutNotificationConfiguration), and which. */
  readonly notification?: { readonly topicArn: string; readonly types: readonly string[] };
  readonly scalingPolicies: readonly ScalingPolicy[];
  readonly vpcZoneIdentifier: readonly string[];
  readonly loadBalancerNames: readonly string[];
  /** SuspendProcesses' names; `Launch` and `Terminate` hold capacity changes. */
  readonly suspendedProcesses: readonly string[];
  /** `Delete in progress` after a forced DeleteAutoScalingGroup, until its instances are gone. */
  readonly status?: string;
  /** Oldest first, Terminated and warm-pool ones included (AWS's Describe calls leave those out). */
  readonly instances: readonly InstanceSnapshot[];
}

export interface AutoScalingSnapshot {
  readonly groups: readonly GroupSnapshot[];
  readonly launchConfigurations: readonly LaunchConfigurationSnapshot[];
}
