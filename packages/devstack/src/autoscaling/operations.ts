/**
 * The Auto Scaling actions the devstack answers: each reads its parameters, calls the simulator
 * and returns the `<ActionResult>` content with AWS's element names (the ones the AWS SDK's
 * deserializers read). Any refusal is an AutoScalingRequestError thrown before anything changes.
 */
import { validationError } from './errors.js';
import type { Activity } from './messages.js';
import type { GroupSnapshot, InstanceSnapshot } from './model.js';
import type { QueryParams, XmlValue } from './query-protocol.js';
import type { AutoScalingSimulator } from './simulator.js';

type Result = Record<string, XmlValue> | undefined;
export type Operation = (params: QueryParams, simulator: AutoScalingSimulator) => Result;

/** A Map, not an object: an Action such as `constructor` or `__proto__` must find nothing. */
export const OPERATIONS: ReadonlyMap<string, Operation> = new Map<string, Operation>([
  [
    'CompleteLifecycleAction',
    (params, simulator) => {
      simulator.completeLifecycleAction({
        groupName: params.required('AutoScalingGroupName'),
        hookName: params.required('LifecycleHookName'),
        result: params.required('LifecycleActionResult'),
        token: params.optional('LifecycleActionToken'),
        instanceId: params.optional('InstanceId'),
      });
      return {};
    },
  ],
  [
    'RecordLifecycleActionHeartbeat',
    (params, simulator) => {
      simulator.recordLifecycleActionHeartbeat({
        groupName: params.required('AutoScalingGroupName'),
        hookName: params.required('LifecycleHookName'),
        token: params.optional('LifecycleActionToken'),
        instanceId: params.optional('InstanceId'),
      });
      return {};
    },
  ],
  [
    'SetDesiredCapacity',
    (params, simulator) => {
      const groupName = params.required('AutoScalingGroupName');
      const desired = params.integer('DesiredCapacity');
      if (params.optional('HonorCooldown') !== undefined) params.boolean('HonorCooldown'); // validated, no cooldowns here
      simulator.setDesiredCapacity(groupName, desired);
      return undefined;
    },
  ],
  [
    'TerminateInstanceInAutoScalingGroup',
    (params, simulator) => {
      const instanceId = params.required('InstanceId');
      const decrement = params.boolean('ShouldDecrementDesiredCapacity');
      return { Activity: activityXml(simulator.terminateInstance(instanceId, decrement)) };
    },
  ],
  [
    'DescribeAutoScalingGroups',
    (params, simulator) => {
      const names = params.list('AutoScalingGroupNames');
      const groups = simulator.describe().groups.filter((group) => names.length === 0 || names.includes(group.name));
      return { AutoScalingGroups: groups.map(groupXml) };
    },
  ],
  [
    'DescribeAutoScalingInstances',
    (params, simulator) => {
      const ids = params.list('InstanceIds');
      const instances = simulator
        .describe()
        .groups.flatMap((group) => group.instances.filter(isListed))
        .filter((instance) => ids.length === 0 || ids.includes(instance.instanceId));
      return {
        AutoScalingInstances: instances.map((instance) => ({
          InstanceId: instance.instanceId,
          InstanceType: instance.instanceType,
          AutoScalingGroupName: instance.groupName,
          AvailabilityZone: instance.availabilityZone,
          LifecycleState: instance.lifecycleState,
          // Upper case in this call and mixed case in DescribeAutoScalingGroups: AWS's own quirk.
          HealthStatus: 'HEALTHY',
          ProtectedFromScaleIn: false,
        })),
      };
    },
  ],
  [
    'DescribeWarmPool',
    (params, simulator) => {
      const name = params.required('AutoScalingGroupName');
      const group = simulator.describe().groups.find((candidate) => candidate.name === name);
      if (group === undefined)
        throw validationError(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
      const pool = group.warmPool;
      return {
        ...(pool === undefined
          ? {}
          : {
              WarmPoolConfiguration: {
                MinSize: pool.minSize,
                PoolState: pool.poolState ?? 'Stopped',
                InstanceReusePolicy: { ReuseOnScaleIn: pool.reuseOnScaleIn ?? false },
              },
            }),
        Instances: group.instances
          .filter((instance) => isListed(instance) && instance.lifecycleState.startsWith('Warmed:'))
          .map((instance) => ({
            InstanceId: instance.instanceId,
            InstanceType: instance.instanceType,
            AvailabilityZone: instance.availabilityZone,
            LifecycleState: instance.lifecycleState,
            HealthStatus: 'Healthy',
          })),
      };
    },
  ],
]);

/** AWS stops listing an instance once it is terminated. */
function isListed(instance: InstanceSnapshot): boolean {
  return !instance.lifecycleState.endsWith('Terminated');
}

/** DescribeAutoScalingGroups lists the group's own instances; the warm pool's are DescribeWarmPool's. */
function inGroup(instance: InstanceSnapshot): boolean {
  return isListed(instance) && !instance.lifecycleState.startsWith('Warmed:');
}

function groupXml(group: GroupSnapshot): XmlValue {
  return {
    AutoScalingGroupName: group.name,
    AutoScalingGroupARN: group.arn,
    MinSize: group.minSize,
    MaxSize: group.maxSize,
    DesiredCapacity: group.desiredCapacity,
    DefaultCooldown: 300,
    AvailabilityZones: [group.availabilityZone],
    LoadBalancerNames: [],
    TargetGroupARNs: [],
    HealthCheckType: 'EC2',
    HealthCheckGracePeriod: 300,
    Instances: group.instances.filter(inGroup).map((instance) => ({
      InstanceId: instance.instanceId,
      InstanceType: instance.instanceType,
      AvailabilityZone: instance.availabilityZone,
      LifecycleState: instance.lifecycleState,
      HealthStatus: 'Healthy',
      ProtectedFromScaleIn: false,
    })),
    CreatedTime: group.createdTime,
    SuspendedProcesses: [],
    EnabledMetrics: [],
    Tags: [],
    TerminationPolicies: ['Default'],
    NewInstancesProtectedFromScaleIn: false,
    CapacityRebalance: false,
  };
}

function activityXml(activity: Activity): XmlValue {
  return {
    ActivityId: activity.activityId,
    AutoScalingGroupName: activity.groupName,
    Description: activity.description,
    Cause: activity.cause,
    StartTime: activity.startTime,
    StatusCode: 'InProgress',
    Progress: 0,
  };
}
