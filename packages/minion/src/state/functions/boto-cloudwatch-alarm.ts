import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
} from '@aws-sdk/client-cloudwatch';
import type { MetricAlarm, PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { connectionArgs } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { converge, remove, runAwsState } from './aws-state.js';
import { defineState } from './types.js';
import type { StateModule } from './types.js';

/** Salt's comparison operators, and AWS's own names. */
const COMPARISONS = {
  '>=': 'GreaterThanOrEqualToThreshold',
  '>': 'GreaterThanThreshold',
  '<': 'LessThanThreshold',
  '<=': 'LessThanOrEqualToThreshold',
  GreaterThanOrEqualToThreshold: 'GreaterThanOrEqualToThreshold',
  GreaterThanThreshold: 'GreaterThanThreshold',
  LessThanThreshold: 'LessThanThreshold',
  LessThanOrEqualToThreshold: 'LessThanOrEqualToThreshold',
} as const;

const Actions = z.array(z.string().min(1)).max(5).default([]);

/** Salt's `attributes` of boto_cloudwatch_alarm.present. */
const Attributes = z.strictObject({
  metric: z.string().min(1),
  namespace: z.string().min(1),
  statistic: z.enum(['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum']),
  comparison: z.enum(Object.keys(COMPARISONS) as [keyof typeof COMPARISONS]).transform((c) => COMPARISONS[c]),
  threshold: z.number(),
  period: z.int().min(1),
  evaluation_periods: z.int().min(1),
  unit: z.string().min(1).optional(),
  description: z.string().max(1024).default(''),
  /** `{name: value}`, or Salt's `{name: [value]}` (the first value). */
  dimensions: z
    .record(z.string().min(1), z.union([z.string().min(1), z.array(z.string().min(1)).min(1).max(1)]))
    .default({}),
  alarm_actions: Actions,
  insufficient_data_actions: Actions,
  ok_actions: Actions,
});
type AlarmAttributes = z.output<typeof Attributes>;

const Present = z.strictObject({ name: z.string().min(1).max(255), attributes: Attributes, ...connectionArgs });
const Absent = z.strictObject({ name: z.string().min(1).max(255), ...connectionArgs });

/** The PutMetricAlarm request for an alarm as the SLS describes it. */
export function alarmInput(name: string, attributes: AlarmAttributes): PutMetricAlarmCommandInput {
  return {
    AlarmName: name,
    AlarmDescription: attributes.description,
    MetricName: attributes.metric,
    Namespace: attributes.namespace,
    Statistic: attributes.statistic,
    ComparisonOperator: attributes.comparison,
    Threshold: attributes.threshold,
    Period: attributes.period,
    EvaluationPeriods: attributes.evaluation_periods,
    ...(attributes.unit === undefined ? {} : { Unit: attributes.unit as PutMetricAlarmCommandInput['Unit'] }),
    Dimensions: Object.entries(attributes.dimensions)
      .map(([Name, value]) => ({ Name, Value: Array.isArray(value) ? (value[0] as string) : value }))
      .sort((a, b) => a.Name.localeCompare(b.Name)),
    AlarmActions: attributes.alarm_actions,
    InsufficientDataActions: attributes.insufficient_data_actions,
    OKActions: attributes.ok_actions,
  };
}

/** What of an existing alarm differs from the request, as {old, new} per field. */
export function alarmDiff(
  current: MetricAlarm,
  desired: PutMetricAlarmCommandInput,
): { old: Record<string, unknown>; new: Record<string, unknown> } {
  const now: Record<string, unknown> = {
    AlarmDescription: current.AlarmDescription ?? '',
    MetricName: current.MetricName,
    Namespace: current.Namespace,
    Statistic: current.Statistic,
    ComparisonOperator: current.ComparisonOperator,
    Threshold: current.Threshold,
    Period: current.Period,
    EvaluationPeriods: current.EvaluationPeriods,
    Unit: current.Unit,
    Dimensions: [...(current.Dimensions ?? [])]
      .map(({ Name, Value }) => ({ Name, Value }))
      .sort((a, b) => (a.Name ?? '').localeCompare(b.Name ?? '')),
    AlarmActions: current.AlarmActions ?? [],
    InsufficientDataActions: current.InsufficientDataActions ?? [],
    OKActions: current.OKActions ?? [],
  };
  const old: Record<string, unknown> = {};
  const next: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(desired)) {
    if (field === 'AlarmName') continue;
    if (!isDeepStrictEqual(now[field], value)) {
      old[field] = now[field] ?? null;
      next[field] = value;
    }
  }
  return { old, new: next };
}

/**
 * Salt's boto_cloudwatch_alarm.present/absent: one metric alarm, re-put whole when any attribute
 * differs (PutMetricAlarm replaces an alarm). AWS calls: DescribeAlarms (describe);
 * PutMetricAlarm, DeleteAlarms. Tested against the devstack's resource emulator
 * (docs/aws-states.md says what it covers).
 */
export function botoCloudwatchAlarmStates(env: AwsStateEnvironment): StateModule {
  return Object.freeze({
    name: 'boto_cloudwatch_alarm',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('cloudwatch', args, call, env, async (aws) => {
            const cloudwatch = new CloudWatchClient(aws.clientConfig);
            env.onClient?.(cloudwatch);
            try {
              const what = `CloudWatch alarm ${args.name}`;
              const desired = alarmInput(args.name, args.attributes);
              const current = (
                await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [args.name] }))
              ).MetricAlarms?.find((alarm) => alarm.AlarmName === args.name);
              const put = () => cloudwatch.send(new PutMetricAlarmCommand(desired));
              if (current === undefined)
                return converge([{ key: 'alarm', old: null, new: desired, apply: put }], {
                  what,
                  test: aws.test,
                  secrets: aws.connection.secrets,
                  creating: true,
                });
              const diff = alarmDiff(current, desired);
              return converge(
                Object.keys(diff.new).length === 0 ? [] : [{ key: 'alarm', old: diff.old, new: diff.new, apply: put }],
                { what, test: aws.test, secrets: aws.connection.secrets },
              );
            } finally {
              cloudwatch.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('cloudwatch', args, call, env, async (aws) => {
            const cloudwatch = new CloudWatchClient(aws.clientConfig);
            env.onClient?.(cloudwatch);
            try {
              const found =
                (await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [args.name] }))).MetricAlarms ?? [];
              return remove(found.length > 0, {
                what: `CloudWatch alarm ${args.name}`,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'alarm',
                name: args.name,
                apply: () => cloudwatch.send(new DeleteAlarmsCommand({ AlarmNames: [args.name] })),
              });
            } finally {
              cloudwatch.destroy();
            }
          }),
      }),
    }),
  });
}
