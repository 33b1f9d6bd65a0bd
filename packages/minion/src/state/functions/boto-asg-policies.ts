import { DeletePolicyCommand, DescribePoliciesCommand, PutScalingPolicyCommand } from '@aws-sdk/client-auto-scaling';
import type { AutoScalingClient, PutScalingPolicyCommandInput, ScalingPolicy } from '@aws-sdk/client-auto-scaling';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { stepIf } from './aws-state.js';
import type { Step } from './aws-state.js';

/**
 * boto_asg's `scaling_policies`: Salt's simple policies (`name`, `adjustment_type`,
 * `scaling_adjustment`, `cooldown`, `min_adjustment_step`), and Phoenix's step and
 * target-tracking policies under `policy_type`, their fields AWS's PutScalingPolicy names in
 * snake case. Each policy is compared as a normalized view (AWS's defaults filled in), so what
 * DescribePolicies answers and what the SLS says compare equal when AWS holds what the SLS says.
 */

const ADJUSTMENT_TYPES = ['ChangeInCapacity', 'ExactCapacity', 'PercentChangeInCapacity'] as const;
const Name = z.string().min(1).max(255);

const Simple = z.strictObject({
  policy_type: z.literal('SimpleScaling'),
  name: Name,
  adjustment_type: z.enum(ADJUSTMENT_TYPES),
  scaling_adjustment: z.int(),
  cooldown: z.int().min(0).nullish(),
  min_adjustment_magnitude: z.int().min(1).nullish(),
  /** Salt's (boto's) name of min_adjustment_magnitude; AWS's MinAdjustmentStep is its deprecated alias. */
  min_adjustment_step: z.int().min(1).nullish(),
  /** Salt's policies may name their group; the group is always the state's own. */
  as_name: z.string().nullish(),
});

const StepAdjustmentArg = z
  .strictObject({
    metric_interval_lower_bound: z.number().nullish(),
    metric_interval_upper_bound: z.number().nullish(),
    scaling_adjustment: z.int(),
  })
  .refine(
    (s) =>
      s.metric_interval_lower_bound == null ||
      s.metric_interval_upper_bound == null ||
      s.metric_interval_upper_bound > s.metric_interval_lower_bound,
    { message: 'metric_interval_upper_bound must be greater than metric_interval_lower_bound' },
  );

const StepPolicy = z.strictObject({
  policy_type: z.literal('StepScaling'),
  name: Name,
  adjustment_type: z.enum(ADJUSTMENT_TYPES),
  step_adjustments: z.array(StepAdjustmentArg).min(1).max(20),
  metric_aggregation_type: z.enum(['Average', 'Minimum', 'Maximum']).default('Average'),
  estimated_instance_warmup: z.int().min(0).nullish(),
  min_adjustment_magnitude: z.int().min(1).nullish(),
  as_name: z.string().nullish(),
});

const TargetTracking = z
  .strictObject({
    predefined_metric_specification: z
      .strictObject({
        predefined_metric_type: z.enum([
          'ASGAverageCPUUtilization',
          'ASGAverageNetworkIn',
          'ASGAverageNetworkOut',
          'ALBRequestCountPerTarget',
        ]),
        resource_label: z.string().min(1).max(1023).nullish(),
      })
      .optional(),
    customized_metric_specification: z
      .strictObject({
        metric_name: z.string().min(1),
        namespace: z.string().min(1),
        statistic: z.enum(['Average', 'Minimum', 'Maximum', 'SampleCount', 'Sum']),
        unit: z.string().min(1).nullish(),
        /** `{name: value}`, as boto_cloudwatch_alarm's dimensions. */
        dimensions: z.record(z.string().min(1), z.union([z.string(), z.number()]).transform(String)).default({}),
      })
      .optional(),
    target_value: z.number(),
    disable_scale_in: z.boolean().default(false),
  })
  .refine(
    (t) => (t.predefined_metric_specification === undefined) !== (t.customized_metric_specification === undefined),
    { message: 'needs predefined_metric_specification or customized_metric_specification (one of them)' },
  );

const Tracking = z.strictObject({
  policy_type: z.literal('TargetTrackingScaling'),
  name: Name,
  target_tracking_configuration: TargetTracking,
  estimated_instance_warmup: z.int().min(0).nullish(),
  as_name: z.string().nullish(),
});

/** A policy without `policy_type` is a simple one, as all of Salt's are. */
export const Policy = z.preprocess(
  (value) =>
    typeof value === 'object' && value !== null && !Array.isArray(value) && !('policy_type' in value)
      ? { ...value, policy_type: 'SimpleScaling' }
      : value,
  z.discriminatedUnion('policy_type', [Simple, StepPolicy, Tracking]),
);
export type PolicyArgs = z.output<typeof Policy>;

type View = Record<string, unknown>;

/** Drops absent fields, so views compare by what is there. */
function present(record: Record<string, unknown>): View {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined && value !== null));
}

interface StepView {
  metric_interval_lower_bound?: number | null | undefined;
  metric_interval_upper_bound?: number | null | undefined;
  scaling_adjustment?: number | undefined;
}

function stepsView(steps: readonly StepView[]): View[] {
  return [...steps]
    .map((s) => present({ ...s }))
    .sort(
      (a, b) =>
        ((a.metric_interval_lower_bound as number | undefined) ?? -Infinity) -
        ((b.metric_interval_lower_bound as number | undefined) ?? -Infinity),
    );
}

/** What the SLS asks for, as compared and shown in `changes`. */
export function policyView(policy: PolicyArgs): View {
  switch (policy.policy_type) {
    case 'SimpleScaling':
      return present({
        policy_type: policy.policy_type,
        adjustment_type: policy.adjustment_type,
        scaling_adjustment: policy.scaling_adjustment,
        cooldown: policy.cooldown,
        min_adjustment_magnitude: policy.min_adjustment_magnitude ?? policy.min_adjustment_step,
      });
    case 'StepScaling':
      return present({
        policy_type: policy.policy_type,
        adjustment_type: policy.adjustment_type,
        step_adjustments: stepsView(policy.step_adjustments),
        metric_aggregation_type: policy.metric_aggregation_type,
        estimated_instance_warmup: policy.estimated_instance_warmup,
        min_adjustment_magnitude: policy.min_adjustment_magnitude,
      });
    case 'TargetTrackingScaling': {
      const t = policy.target_tracking_configuration;
      return present({
        policy_type: policy.policy_type,
        target_tracking_configuration: present({
          predefined_metric_specification:
            t.predefined_metric_specification === undefined ? undefined : present(t.predefined_metric_specification),
          customized_metric_specification:
            t.customized_metric_specification === undefined ? undefined : present(t.customized_metric_specification),
          target_value: t.target_value,
          disable_scale_in: t.disable_scale_in,
        }),
        estimated_instance_warmup: policy.estimated_instance_warmup,
      });
    }
  }
}

/** What AWS holds, in the same view. */
function describedView(p: ScalingPolicy): View {
  const type = p.PolicyType ?? 'SimpleScaling';
  if (type === 'StepScaling')
    return present({
      policy_type: type,
      adjustment_type: p.AdjustmentType,
      step_adjustments: stepsView(
        (p.StepAdjustments ?? []).map((s) => ({
          metric_interval_lower_bound: s.MetricIntervalLowerBound,
          metric_interval_upper_bound: s.MetricIntervalUpperBound,
          scaling_adjustment: s.ScalingAdjustment,
        })),
      ),
      metric_aggregation_type: p.MetricAggregationType ?? 'Average',
      estimated_instance_warmup: p.EstimatedInstanceWarmup,
      min_adjustment_magnitude: p.MinAdjustmentMagnitude,
    });
  if (type === 'TargetTrackingScaling') {
    const t = p.TargetTrackingConfiguration;
    const predefined = t?.PredefinedMetricSpecification;
    const customized = t?.CustomizedMetricSpecification;
    return present({
      policy_type: type,
      target_tracking_configuration: present({
        predefined_metric_specification:
          predefined === undefined
            ? undefined
            : present({
                predefined_metric_type: predefined.PredefinedMetricType,
                resource_label: predefined.ResourceLabel,
              }),
        customized_metric_specification:
          customized === undefined
            ? undefined
            : present({
                metric_name: customized.MetricName,
                namespace: customized.Namespace,
                statistic: customized.Statistic,
                unit: customized.Unit,
                dimensions: Object.fromEntries((customized.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? ''])),
              }),
        target_value: t?.TargetValue,
        disable_scale_in: t?.DisableScaleIn ?? false,
      }),
      estimated_instance_warmup: p.EstimatedInstanceWarmup,
    });
  }
  return present({
    policy_type: type,
    adjustment_type: p.AdjustmentType,
    scaling_adjustment: p.ScalingAdjustment,
    cooldown: p.Cooldown,
    min_adjustment_magnitude: p.MinAdjustmentMagnitude,
  });
}

export function policyInput(group: string, policy: PolicyArgs): PutScalingPolicyCommandInput {
  const base = { AutoScalingGroupName: group, PolicyName: policy.name, PolicyType: policy.policy_type };
  const optional = <K extends string, V>(key: K, value: V | null | undefined): Partial<Record<K, V>> =>
    value === undefined || value === null ? {} : ({ [key]: value } as Record<K, V>);
  switch (policy.policy_type) {
    case 'SimpleScaling':
      return {
        ...base,
        AdjustmentType: policy.adjustment_type,
        ScalingAdjustment: policy.scaling_adjustment,
        ...optional('Cooldown', policy.cooldown),
        ...optional('MinAdjustmentMagnitude', policy.min_adjustment_magnitude ?? policy.min_adjustment_step),
      };
    case 'StepScaling':
      return {
        ...base,
        AdjustmentType: policy.adjustment_type,
        StepAdjustments: policy.step_adjustments.map((s) => ({
          ScalingAdjustment: s.scaling_adjustment,
          ...optional('MetricIntervalLowerBound', s.metric_interval_lower_bound),
          ...optional('MetricIntervalUpperBound', s.metric_interval_upper_bound),
        })),
        MetricAggregationType: policy.metric_aggregation_type,
        ...optional('EstimatedInstanceWarmup', policy.estimated_instance_warmup),
        ...optional('MinAdjustmentMagnitude', policy.min_adjustment_magnitude),
      };
    case 'TargetTrackingScaling': {
      const t = policy.target_tracking_configuration;
      const predefined = t.predefined_metric_specification;
      const customized = t.customized_metric_specification;
      return {
        ...base,
        TargetTrackingConfiguration: {
          TargetValue: t.target_value,
          DisableScaleIn: t.disable_scale_in,
          ...(predefined === undefined
            ? {}
            : {
                PredefinedMetricSpecification: {
                  PredefinedMetricType: predefined.predefined_metric_type,
                  ...optional('ResourceLabel', predefined.resource_label),
                },
              }),
          ...(customized === undefined
            ? {}
            : {
                CustomizedMetricSpecification: {
                  MetricName: customized.metric_name,
                  Namespace: customized.namespace,
                  Statistic: customized.statistic,
                  ...optional('Unit', customized.unit),
                  Dimensions: Object.entries(customized.dimensions).map(([Name, Value]) => ({ Name, Value })),
                },
              }),
        },
        ...optional('EstimatedInstanceWarmup', policy.estimated_instance_warmup),
      };
    }
  }
}

/** The policies of a group being created: all put after the group. */
export function newPolicySteps(asg: AutoScalingClient, group: string, policies: readonly PolicyArgs[]): Step[] {
  if (policies.length === 0) return [];
  return [
    {
      key: 'scaling_policies',
      old: {},
      new: Object.fromEntries(policies.map((p) => [p.name, policyView(p)])),
      apply: async () => {
        for (const policy of policies) await asg.send(new PutScalingPolicyCommand(policyInput(group, policy)));
      },
    },
  ];
}

/**
 * The group gets exactly these policies: those that differ are put, those the SLS does not list
 * are deleted, and one whose kind changes is deleted before it is put again.
 */
export async function policySteps(
  asg: AutoScalingClient,
  group: string,
  policies: readonly PolicyArgs[],
): Promise<Step[]> {
  const listed = (await asg.send(new DescribePoliciesCommand({ AutoScalingGroupName: group }))).ScalingPolicies ?? [];
  const now = Object.fromEntries(listed.map((p) => [p.PolicyName ?? '', describedView(p)]));
  const wanted = Object.fromEntries(policies.map((p) => [p.name, policyView(p)]));
  const put = policies.filter((p) => !isDeepStrictEqual(now[p.name], wanted[p.name]));
  const retyped = put.filter((p) => now[p.name] !== undefined && now[p.name]?.policy_type !== p.policy_type);
  const gone = Object.keys(now).filter((name) => !(name in wanted));
  return stepIf('scaling_policies', now, wanted, async () => {
    for (const policy of retyped)
      await asg.send(new DeletePolicyCommand({ AutoScalingGroupName: group, PolicyName: policy.name }));
    for (const policy of put) await asg.send(new PutScalingPolicyCommand(policyInput(group, policy)));
    for (const name of gone) await asg.send(new DeletePolicyCommand({ AutoScalingGroupName: group, PolicyName: name }));
  });
}
