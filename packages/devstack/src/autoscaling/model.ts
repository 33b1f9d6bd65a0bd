/** The shapes the simulator is configured with and hands out. Names follow AWS's API. */

export const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';
export const TERMINATING = 'autoscaling:EC2_INSTANCE_TERMINATING';
export type LifecycleTransition = typeof LAUNCHING | typeof TERMINATING;
export type LifecycleActionResult = 'CONTINUE' | 'ABANDON';

/** AWS's `LifecycleState` values that the simulator goes through. */
export type LifecycleState =
  | 'Pending'
  | 'Pending:Wait'
  | 'Pending:Proceed'
  | 'InService'
  | 'Terminating'
  | 'Terminating:Wait'
  | 'Terminating:Proceed'
  | 'Terminated';

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
  /** Oldest first, Terminated ones included (AWS's Describe calls leave those out). */
  readonly instances: readonly InstanceSnapshot[];
}

export interface AutoScalingSnapshot {
  readonly groups: readonly GroupSnapshot[];
}
