/**
 * The Auto Scaling actions the devstack answers: each reads its parameters, calls the simulator
 * and returns the `<ActionResult>` content with AWS's element names (the ones the AWS SDK's
 * deserializers read). Any refusal is an AwsRequestError thrown before anything changes.
 */
import { validationError } from './errors.js';
import type { Activity } from './messages.js';
import { AwsRequestError } from '../aws-request-error.js';
import {
  LAUNCHING,
  TERMINATING,
  type GroupSnapshot,
  type GroupTag,
  type InstanceSnapshot,
  type LaunchTemplateRef,
  type LifecycleHookConfig,
  type ScalingPolicy,
  type TargetTrackingConfiguration,
} from './model.js';
import type { QueryParams, XmlValue } from './query-protocol.js';
import type { AutoScalingSimulator } from './simulator.js';

type Result = Record<string, XmlValue> | undefined;

function launchTemplate(params: QueryParams): LaunchTemplateRef | undefined {
  const template = params.structure('LaunchTemplate');
  const id = template.optional('LaunchTemplateId');
  const name = template.optional('LaunchTemplateName');
  if (id === undefined && name === undefined) return undefined;
  const version = template.optional('Version');
  return {
    ...(id === undefined ? {} : { launchTemplateId: id }),
    ...(name === undefined ? {} : { launchTemplateName: name }),
    ...(version === undefined ? {} : { version }),
  };
}

function groupTags(params: QueryParams, groupName?: string): (GroupTag & { groupName: string })[] {
  return params.structures('Tags').map((tag) => ({
    groupName: groupName ?? tag.required('ResourceId'),
    key: tag.required('Key'),
    value: tag.optional('Value') ?? '',
    propagateAtLaunch: tag.optional('PropagateAtLaunch') === undefined ? false : tag.boolean('PropagateAtLaunch'),
  }));
}

/** A hook as PutLifecycleHook or a LifecycleHookSpecification gives it, with AWS's defaults and ranges. */
function lifecycleHook(params: QueryParams): LifecycleHookConfig {
  const name = params.required('LifecycleHookName');
  const transition = params.required('LifecycleTransition');
  if (transition !== LAUNCHING && transition !== TERMINATING)
    throw validationError(`Invalid value for LifecycleTransition: ${transition}`);
  const timeout = params.optionalInteger('HeartbeatTimeout') ?? 3600;
  if (timeout < 30 || timeout > 7200) throw validationError('Heartbeat timeout must be between 30 and 7200 seconds.');
  const result = params.optional('DefaultResult') ?? 'ABANDON';
  if (result !== 'CONTINUE' && result !== 'ABANDON')
    throw validationError(`Invalid value for DefaultResult: ${result}`);
  const metadata = params.optional('NotificationMetadata');
  const target = params.optional('NotificationTargetARN');
  const role = params.optional('RoleARN');
  return {
    ...(target === undefined ? {} : { notificationTargetArn: target }),
    ...(role === undefined ? {} : { roleArn: role }),
    name,
    transition,
    heartbeatTimeoutSeconds: timeout,
    defaultResult: result,
    ...(metadata === undefined ? {} : { notificationMetadata: metadata }),
    // The simulator's one lifecycle queue stands for whatever target is named.
    notifyQueue: target !== undefined,
  };
}
/** AWS's comma-separated subnet list; absent when not given. */
function vpcZoneIdentifier(params: QueryParams): string[] | undefined {
  const value = params.optional('VPCZoneIdentifier');
  return value === undefined ? undefined : value.split(',').map((subnet) => subnet.trim());
}

const ADJUSTMENT_TYPES = ['ChangeInCapacity', 'ExactCapacity', 'PercentChangeInCapacity'];
const PREDEFINED_METRICS = [
  'ASGAverageCPUUtilization',
  'ASGAverageNetworkIn',
  'ASGAverageNetworkOut',
  'ALBRequestCountPerTarget',
];
const STATISTICS = ['Average', 'Minimum', 'Maximum', 'SampleCount', 'Sum'];

/** PutScalingPolicy's parameters for its PolicyType, refused as AWS refuses them (fields of another kind included). */
function scalingPolicy(params: QueryParams): Omit<ScalingPolicy, 'arn'> {
  const name = params.required('PolicyName');
  const type = params.optional('PolicyType') ?? 'SimpleScaling';
  const only = (allowed: string, ...fields: string[]): void => {
    for (const field of fields)
      if (params.mentions(field))
        throw validationError(`${field} is not supported for policy type ${type}; it is for ${allowed} only.`);
  };
  const adjustmentType = (): string => {
    const value = params.required('AdjustmentType');
    if (!ADJUSTMENT_TYPES.includes(value)) throw validationError(`Invalid AdjustmentType: ${value}`);
    return value;
  };
  const magnitude = params.optionalInteger('MinAdjustmentMagnitude');
  const warmup = params.optionalInteger('EstimatedInstanceWarmup');
  switch (type) {
    case 'SimpleScaling': {
      only(
        'StepScaling or TargetTrackingScaling',
        'StepAdjustments',
        'MetricAggregationType',
        'EstimatedInstanceWarmup',
        'TargetTrackingConfiguration',
      );
      const cooldown = params.optionalInteger('Cooldown');
      return {
        name,
        policyType: type,
        adjustmentType: adjustmentType(),
        scalingAdjustment: params.integer('ScalingAdjustment'),
        ...(cooldown === undefined ? {} : { cooldown }),
        ...(magnitude === undefined ? {} : { minAdjustmentMagnitude: magnitude }),
      };
    }
    case 'StepScaling': {
      only('SimpleScaling or TargetTrackingScaling', 'ScalingAdjustment', 'Cooldown', 'TargetTrackingConfiguration');
      const steps = params.structures('StepAdjustments').map((step) => {
        const lower = step.optionalNumber('MetricIntervalLowerBound');
        const upper = step.optionalNumber('MetricIntervalUpperBound');
        if (lower !== undefined && upper !== undefined && upper <= lower)
          throw validationError('The upper bound of a step adjustment must be greater than its lower bound.');
        return {
          ...(lower === undefined ? {} : { metricIntervalLowerBound: lower }),
          ...(upper === undefined ? {} : { metricIntervalUpperBound: upper }),
          scalingAdjustment: step.integer('ScalingAdjustment'),
        };
      });
      if (steps.length === 0) throw validationError('StepAdjustments must be specified for policy type StepScaling.');
      if (
        steps.filter((step) => step.metricIntervalUpperBound === undefined).length > 1 ||
        steps.filter((step) => step.metricIntervalLowerBound === undefined).length > 1
      )
        throw validationError('Only one step adjustment may have an open upper bound, and one an open lower bound.');
      const aggregation = params.optional('MetricAggregationType') ?? 'Average';
      if (!['Average', 'Minimum', 'Maximum'].includes(aggregation))
        throw validationError(`Invalid MetricAggregationType: ${aggregation}`);
      return {
        name,
        policyType: type,
        adjustmentType: adjustmentType(),
        stepAdjustments: steps,
        metricAggregationType: aggregation,
        ...(magnitude === undefined ? {} : { minAdjustmentMagnitude: magnitude }),
        ...(warmup === undefined ? {} : { estimatedInstanceWarmup: warmup }),
      };
    }
    case 'TargetTrackingScaling': {
      only(
        'SimpleScaling or StepScaling',
        'AdjustmentType',
        'ScalingAdjustment',
        'Cooldown',
        'StepAdjustments',
        'MetricAggregationType',
        'MinAdjustmentMagnitude',
      );
      const config = params.structure('TargetTrackingConfiguration');
      const targetValue = config.optionalNumber('TargetValue');
      if (targetValue === undefined)
        throw validationError('TargetValue must be specified for policy type TargetTrackingScaling.');
      const predefined = config.structure('PredefinedMetricSpecification');
      const customized = config.structure('CustomizedMetricSpecification');
      const predefinedType = predefined.optional('PredefinedMetricType');
      const metricName = customized.optional('MetricName');
      if (
        (predefinedType === undefined) ===
        (metricName === undefined && customized.optional('Namespace') === undefined)
      )
        throw validationError(
          'Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be specified.',
        );
      let targetTracking: TargetTrackingConfiguration;
      const disableScaleIn = config.optional('DisableScaleIn') === undefined ? false : config.boolean('DisableScaleIn');
      if (predefinedType !== undefined) {
        if (!PREDEFINED_METRICS.includes(predefinedType))
          throw validationError(`Invalid PredefinedMetricType: ${predefinedType}`);
        const label = predefined.optional('ResourceLabel');
        if ((predefinedType === 'ALBRequestCountPerTarget') !== (label !== undefined))
          throw validationError('ResourceLabel is required for ALBRequestCountPerTarget, and only for it.');
        targetTracking = {
          predefinedMetric: { type: predefinedType, ...(label === undefined ? {} : { resourceLabel: label }) },
          targetValue,
          disableScaleIn,
        };
      } else {
        const statistic = customized.required('Statistic');
        if (!STATISTICS.includes(statistic)) throw validationError(`Invalid Statistic: ${statistic}`);
        const unit = customized.optional('Unit');
        targetTracking = {
          customizedMetric: {
            metricName: customized.required('MetricName'),
            namespace: customized.required('Namespace'),
            statistic,
            ...(unit === undefined ? {} : { unit }),
            dimensions: customized
              .structures('Dimensions')
              .map((d) => ({ name: d.required('Name'), value: d.required('Value') })),
          },
          targetValue,
          disableScaleIn,
        };
      }
      return {
        name,
        policyType: type,
        targetTracking,
        ...(warmup === undefined ? {} : { estimatedInstanceWarmup: warmup }),
      };
    }
    default:
      throw validationError(
        `The simulator answers SimpleScaling, StepScaling and TargetTrackingScaling policies, not ${type}`,
      );
  }
}

function policyXml(groupName: string, p: ScalingPolicy): XmlValue {
  const tracking = p.targetTracking;
  return {
    AutoScalingGroupName: groupName,
    PolicyName: p.name,
    PolicyARN: p.arn,
    PolicyType: p.policyType,
    AdjustmentType: p.adjustmentType,
    MinAdjustmentMagnitude: p.minAdjustmentMagnitude,
    ScalingAdjustment: p.scalingAdjustment,
    Cooldown: p.cooldown,
    StepAdjustments: p.stepAdjustments?.map((step) => ({
      MetricIntervalLowerBound: step.metricIntervalLowerBound,
      MetricIntervalUpperBound: step.metricIntervalUpperBound,
      ScalingAdjustment: step.scalingAdjustment,
    })),
    MetricAggregationType: p.metricAggregationType,
    EstimatedInstanceWarmup: p.estimatedInstanceWarmup,
    Alarms: [],
    TargetTrackingConfiguration:
      tracking === undefined
        ? undefined
        : {
            PredefinedMetricSpecification:
              tracking.predefinedMetric === undefined
                ? undefined
                : {
                    PredefinedMetricType: tracking.predefinedMetric.type,
                    ResourceLabel: tracking.predefinedMetric.resourceLabel,
                  },
            CustomizedMetricSpecification:
              tracking.customizedMetric === undefined
                ? undefined
                : {
                    MetricName: tracking.customizedMetric.metricName,
                    Namespace: tracking.customizedMetric.namespace,
                    Dimensions: tracking.customizedMetric.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
                    Statistic: tracking.customizedMetric.statistic,
                    Unit: tracking.customizedMetric.unit,
                  },
            TargetValue: tracking.targetValue,
            DisableScaleIn: tracking.disableScaleIn,
          },
    Enabled: true,
  };
}

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
    'CreateLaunchConfiguration',
    (params, simulator) => {
      const keyName = params.optional('KeyName');
      const userData = params.optional('UserData');
      const profile = params.optional('IamInstanceProfile');
      simulator.createLaunchConfiguration({
        name: params.required('LaunchConfigurationName'),
        imageId: params.required('ImageId'),
        instanceType: params.required('InstanceType'),
        securityGroups: params.list('SecurityGroups'),
        ...(keyName === undefined ? {} : { keyName }),
        ...(userData === undefined ? {} : { userData }),
        ...(profile === undefined ? {} : { iamInstanceProfile: profile }),
      });
      return undefined;
    },
  ],
  [
    'DescribeLaunchConfigurations',
    (params, simulator) => {
      const names = params.list('LaunchConfigurationNames');
      return {
        LaunchConfigurations: simulator
          .describe()
          .launchConfigurations.filter((config) => names.length === 0 || names.includes(config.name))
          .map((config) => ({
            LaunchConfigurationName: config.name,
            LaunchConfigurationARN: config.arn,
            ImageId: config.imageId,
            InstanceType: config.instanceType,
            KeyName: config.keyName,
            SecurityGroups: [...config.securityGroups],
            UserData: config.userData,
            IamInstanceProfile: config.iamInstanceProfile,
            CreatedTime: config.createdTime,
            ClassicLinkVPCSecurityGroups: [],
            BlockDeviceMappings: [],
          })),
      };
    },
  ],
  [
    'DeleteLaunchConfiguration',
    (params, simulator) => {
      simulator.deleteLaunchConfiguration(params.required('LaunchConfigurationName'));
      return undefined;
    },
  ],
  [
    'CreateAutoScalingGroup',
    (params, simulator) => {
      const name = params.required('AutoScalingGroupName');
      const minSize = params.integer('MinSize');
      const template = launchTemplate(params);
      const config = params.optional('LaunchConfigurationName');
      const hooks = params.structures('LifecycleHookSpecificationList').map(lifecycleHook);
      const subnets = vpcZoneIdentifier(params);
      const transitions = hooks.map((hook) => hook.transition);
      if (new Set(transitions).size !== transitions.length)
        throw new AwsRequestError('LimitExceeded', 'The simulator holds one lifecycle hook per transition');
      simulator.createGroup({
        name,
        minSize,
        maxSize: params.integer('MaxSize'),
        desiredCapacity: params.optionalInteger('DesiredCapacity') ?? minSize,
        tags: groupTags(params, name).map(({ groupName: _group, ...tag }) => tag),
        hooks,
        ...(config === undefined ? {} : { launchConfigurationName: config }),
        ...(template === undefined ? {} : { launchTemplate: template }),
        ...(subnets === undefined ? {} : { vpcZoneIdentifier: subnets }),
        loadBalancerNames: params.list('LoadBalancerNames'),
      });
      return undefined;
    },
  ],
  [
    'UpdateAutoScalingGroup',
    (params, simulator) => {
      const template = launchTemplate(params);
      const config = params.optional('LaunchConfigurationName');
      const minSize = params.optionalInteger('MinSize');
      const maxSize = params.optionalInteger('MaxSize');
      const desired = params.optionalInteger('DesiredCapacity');
      const subnets = vpcZoneIdentifier(params);
      simulator.updateGroup(params.required('AutoScalingGroupName'), {
        ...(subnets === undefined ? {} : { vpcZoneIdentifier: subnets }),
        ...(minSize === undefined ? {} : { minSize }),
        ...(maxSize === undefined ? {} : { maxSize }),
        ...(desired === undefined ? {} : { desiredCapacity: desired }),
        ...(config === undefined ? {} : { launchConfigurationName: config }),
        ...(template === undefined ? {} : { launchTemplate: template }),
      });
      return undefined;
    },
  ],
  [
    'DeleteAutoScalingGroup',
    (params, simulator) => {
      const force = params.optional('ForceDelete') === undefined ? false : params.boolean('ForceDelete');
      simulator.deleteGroup(params.required('AutoScalingGroupName'), force);
      return undefined;
    },
  ],
  [
    'CreateOrUpdateTags',
    (params, simulator) => {
      simulator.setTags(groupTags(params));
      return undefined;
    },
  ],
  [
    'DeleteTags',
    (params, simulator) => {
      simulator.deleteTags(
        params.structures('Tags').map((tag) => ({ groupName: tag.required('ResourceId'), key: tag.required('Key') })),
      );
      return undefined;
    },
  ],
  [
    'PutLifecycleHook',
    (params, simulator) => {
      simulator.putLifecycleHook(params.required('AutoScalingGroupName'), lifecycleHook(params));
      return {};
    },
  ],
  [
    'DeleteLifecycleHook',
    (params, simulator) => {
      simulator.deleteLifecycleHook(params.required('AutoScalingGroupName'), params.required('LifecycleHookName'));
      return {};
    },
  ],
  [
    'DescribeLifecycleHooks',
    (params, simulator) => {
      const name = params.required('AutoScalingGroupName');
      const names = params.list('LifecycleHookNames');
      const group = simulator.describe().groups.find((candidate) => candidate.name === name);
      if (group === undefined)
        throw validationError(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
      return {
        LifecycleHooks: group.hooks
          .filter((hook) => names.length === 0 || names.includes(hook.name))
          .map((hook) => ({
            LifecycleHookName: hook.name,
            AutoScalingGroupName: name,
            LifecycleTransition: hook.transition,
            NotificationMetadata: hook.notificationMetadata,
            NotificationTargetARN: hook.notificationTargetArn,
            RoleARN: hook.roleArn,
            HeartbeatTimeout: hook.heartbeatTimeoutSeconds,
            GlobalTimeout: Math.min(hook.heartbeatTimeoutSeconds * 100, 172_800),
            DefaultResult: hook.defaultResult,
          })),
      };
    },
  ],
  [
    'PutScalingPolicy',
    (params, simulator) => {
      const arn = simulator.putScalingPolicy(params.required('AutoScalingGroupName'), scalingPolicy(params));
      return { PolicyARN: arn, Alarms: [] };
    },
  ],
  [
    'DeletePolicy',
    (params, simulator) => {
      const group = params.required('AutoScalingGroupName');
      simulator.deletePolicy(group, params.required('PolicyName'));
      return undefined;
    },
  ],
  [
    'DescribePolicies',
    (params, simulator) => {
      const name = params.optional('AutoScalingGroupName');
      const names = params.list('PolicyNames');
      const types = params.list('PolicyTypes');
      return {
        ScalingPolicies: simulator
          .describe()
          .groups.filter((g) => name === undefined || g.name === name)
          .flatMap((g) =>
            g.scalingPolicies
              .filter(
                (p) =>
                  (names.length === 0 || names.includes(p.name)) &&
                  (types.length === 0 || types.includes(p.policyType)),
              )
              .map((p) => policyXml(g.name, p)),
          ),
      };
    },
  ],
  [
    'AttachLoadBalancers',
    (params, simulator) => {
      simulator.attachLoadBalancers(params.required('AutoScalingGroupName'), params.list('LoadBalancerNames'));
      return {};
    },
  ],
  [
    'DetachLoadBalancers',
    (params, simulator) => {
      simulator.detachLoadBalancers(params.required('AutoScalingGroupName'), params.list('LoadBalancerNames'));
      return {};
    },
  ],
  [
    'DescribeLoadBalancers',
    (params, simulator) => {
      const name = params.required('AutoScalingGroupName');
      const group = simulator.describe().groups.find((candidate) => candidate.name === name);
      if (group === undefined)
        throw validationError(`AutoScalingGroup name not found - AutoScalingGroup ${name} not found`);
      // `Added`: the simulator registers no instance with a load balancer, so none is ever InService.
      return { LoadBalancers: group.loadBalancerNames.map((lb) => ({ LoadBalancerName: lb, State: 'Added' })) };
    },
  ],
  [
    'SuspendProcesses',
    (params, simulator) => {
      simulator.suspendProcesses(params.required('AutoScalingGroupName'), params.list('ScalingProcesses'), true);
      return undefined;
    },
  ],
  [
    'ResumeProcesses',
    (params, simulator) => {
      simulator.suspendProcesses(params.required('AutoScalingGroupName'), params.list('ScalingProcesses'), false);
      return undefined;
    },
  ],
  [
    'PutNotificationConfiguration',
    (params, simulator) => {
      simulator.putNotificationConfiguration(
        params.required('AutoScalingGroupName'),
        params.required('TopicARN'),
        params.list('NotificationTypes'),
      );
      return undefined;
    },
  ],
  [
    'DeleteNotificationConfiguration',
    (params, simulator) => {
      simulator.deleteNotificationConfiguration(params.required('AutoScalingGroupName'), params.required('TopicARN'));
      return undefined;
    },
  ],
  [
    'DescribeNotificationConfigurations',
    (params, simulator) => {
      const names = params.list('AutoScalingGroupNames');
      return {
        NotificationConfigurations: simulator
          .describe()
          .groups.filter((group) => names.length === 0 || names.includes(group.name))
          .flatMap((group) =>
            group.notification === undefined
              ? []
              : group.notification.types.map((type) => ({
                  AutoScalingGroupName: group.name,
                  TopicARN: group.notification?.topicArn,
                  NotificationType: type,
                })),
          ),
      };
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
    LoadBalancerNames: [...group.loadBalancerNames],
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
    SuspendedProcesses: group.suspendedProcesses.map((name) => ({
      ProcessName: name,
      SuspensionReason: 'User suspended',
    })),
    EnabledMetrics: [],
    Tags: group.tags.map((tag) => ({
      ResourceId: group.name,
      ResourceType: 'auto-scaling-group',
      Key: tag.key,
      Value: tag.value,
      PropagateAtLaunch: tag.propagateAtLaunch,
    })),
    LaunchConfigurationName: group.launchConfigurationName,
    LaunchTemplate:
      group.launchTemplate === undefined
        ? undefined
        : {
            LaunchTemplateId: group.launchTemplate.launchTemplateId,
            LaunchTemplateName: group.launchTemplate.launchTemplateName,
            Version: group.launchTemplate.version,
          },
    VPCZoneIdentifier: group.vpcZoneIdentifier.length === 0 ? undefined : group.vpcZoneIdentifier.join(','),
    Status: group.status,
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
