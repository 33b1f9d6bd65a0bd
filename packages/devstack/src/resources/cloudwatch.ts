/**
 * CloudWatch metric alarms as boto_cloudwatch_alarm uses them: DescribeAlarms, PutMetricAlarm,
 * DeleteAlarms. The SDK speaks JSON 1.0 to CloudWatch (`X-Amz-Target:
 * GraniteServiceVersion20100801.<Action>`), query-compatible: errors carry
 * `x-amzn-query-error`. Pure: a JSON body in, a JSON body out. Alarms never leave
 * INSUFFICIENT_DATA: no metrics are collected.
 */
import { AwsRequestError } from '../aws-request-error.js';

export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801.';

const COMPARISONS = [
  'GreaterThanOrEqualToThreshold',
  'GreaterThanThreshold',
  'LessThanThreshold',
  'LessThanOrEqualToThreshold',
] as const;
const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'] as const;
const ACTION_ARN = /^arn:aws:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:.+$/;

export interface AlarmRecord {
  readonly AlarmName: string;
  readonly AlarmArn: string;
  readonly AlarmDescription?: string;
  readonly MetricName?: string;
  readonly Namespace?: string;
  readonly Statistic?: string;
  readonly ComparisonOperator: string;
  readonly Threshold?: number;
  readonly Period?: number;
  readonly EvaluationPeriods: number;
  readonly Unit?: string;
  readonly Dimensions: readonly { Name: string; Value: string }[];
  readonly AlarmActions: readonly string[];
  readonly OKActions: readonly string[];
  readonly InsufficientDataActions: readonly string[];
  readonly ActionsEnabled: boolean;
  readonly StateValue: 'INSUFFICIENT_DATA';
  readonly StateReason: string;
  /** Epoch seconds, as JSON 1.0 carries timestamps. */
  readonly AlarmConfigurationUpdatedTimestamp: number;
  readonly StateUpdatedTimestamp: number;
}

export class MetricAlarms {
  private readonly alarms = new Map<string, AlarmRecord>();

  constructor(
    private readonly accountId: string,
    private readonly region: string,
    private readonly now: () => Date,
  ) {}

  describe(): AlarmRecord[] {
    return [...this.alarms.values()];
  }

  /** Answers one action; undefined when the action is not one this emulator has. */
  handle(action: string, input: Record<string, unknown>): Record<string, unknown> | undefined {
    switch (action) {
      case 'DescribeAlarms': {
        const names = strings(input, 'AlarmNames', 100);
        const prefix = optionalString(input, 'AlarmNamePrefix');
        const state = optionalString(input, 'StateValue');
        const found = [...this.alarms.values()].filter(
          (alarm) =>
            (names === undefined || names.includes(alarm.AlarmName)) &&
            (prefix === undefined || alarm.AlarmName.startsWith(prefix)) &&
            (state === undefined || alarm.StateValue === state),
        );
        return { MetricAlarms: found, CompositeAlarms: [] };
      }
      case 'PutMetricAlarm':
        this.put(input);
        return {};
      case 'DeleteAlarms': {
        const names = strings(input, 'AlarmNames', 100) ?? [];
        const unknown = names.filter((name) => !this.alarms.has(name));
        if (unknown.length > 0)
          throw new AwsRequestError('ResourceNotFound', `${unknown.join(', ')} alarm(s) not found`, 404);
        for (const name of names) this.alarms.delete(name);
        return {};
      }
      default:
        return undefined;
    }
  }

  private put(input: Record<string, unknown>): void {
    const name = requiredString(input, 'AlarmName', 255);
    const comparison = requiredString(input, 'ComparisonOperator', 64);
    if (!(COMPARISONS as readonly string[]).includes(comparison))
      throw validation(
        `Value '${comparison}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [${COMPARISONS.join(', ')}]`,
      );
    const statistic = optionalString(input, 'Statistic');
    if (statistic !== undefined && !(STATISTICS as readonly string[]).includes(statistic))
      throw validation(
        `Value '${statistic}' at 'statistic' failed to satisfy constraint: Member must satisfy enum value set: [${STATISTICS.join(', ')}]`,
      );
    const evaluationPeriods = integer(input, 'EvaluationPeriods');
    if (evaluationPeriods === undefined || evaluationPeriods < 1)
      throw validation(
        "Value at 'evaluationPeriods' failed to satisfy constraint: Member must have value greater than or equal to 1",
      );
    const period = integer(input, 'Period');
    if (period !== undefined && !(period === 10 || period === 30 || (period > 0 && period % 60 === 0)))
      throw new AwsRequestError('InvalidParameterValue', 'The parameter Period must be 10, 30 or a multiple of 60.');
    const metricName = optionalString(input, 'MetricName');
    const namespace = optionalString(input, 'Namespace');
    if (
      metricName !== undefined &&
      (namespace === undefined || (statistic === undefined && input.ExtendedStatistic === undefined))
    )
      throw new AwsRequestError(
        'MissingParameter',
        'A metric alarm needs Namespace and Statistic or ExtendedStatistic.',
      );
    const threshold = input.Threshold;
    if (threshold !== undefined && typeof threshold !== 'number')
      throw validation("Value at 'threshold' failed to satisfy constraint: Member must be a number");
    const actions = (key: string): string[] => {
      const arns = strings(input, key, 5) ?? [];
      for (const arn of arns)
        if (!ACTION_ARN.test(arn)) throw new AwsRequestError('ValidationError', `Invalid arn syntax: ${arn}`);
      return arns;
    };
    const dimensions = (Array.isArray(input.Dimensions) ? input.Dimensions : []).map((d: unknown) => {
      const record = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
      return { Name: requiredString(record, 'Name', 255), Value: requiredString(record, 'Value', 1024) };
    });
    if (dimensions.length > 30)
      throw validation(
        "Value at 'dimensions' failed to satisfy constraint: Member must have length less than or equal to 30",
      );
    const at = Math.floor(this.now().getTime() / 1000);
    const previous = this.alarms.get(name);
    const description = optionalString(input, 'AlarmDescription');
    const unit = optionalString(input, 'Unit');
    this.alarms.set(name, {
      AlarmName: name,
      AlarmArn: `arn:aws:cloudwatch:${this.region}:${this.accountId}:alarm:${name}`,
      ...(description === undefined ? {} : { AlarmDescription: description }),
      ...(metricName === undefined ? {} : { MetricName: metricName }),
      ...(namespace === undefined ? {} : { Namespace: namespace }),
      ...(statistic === undefined ? {} : { Statistic: statistic }),
      ComparisonOperator: comparison,
      ...(typeof threshold === 'number' ? { Threshold: threshold } : {}),
      ...(period === undefined ? {} : { Period: period }),
      EvaluationPeriods: evaluationPeriods,
      ...(unit === undefined ? {} : { Unit: unit }),
      Dimensions: dimensions,
      AlarmActions: actions('AlarmActions'),
      OKActions: actions('OKActions'),
      InsufficientDataActions: actions('InsufficientDataActions'),
      ActionsEnabled: input.ActionsEnabled !== false,
      StateValue: 'INSUFFICIENT_DATA',
      StateReason: 'Unchecked: Initial alarm creation',
      AlarmConfigurationUpdatedTimestamp: at,
      StateUpdatedTimestamp: previous?.StateUpdatedTimestamp ?? at,
    });
  }
}

function validation(detail: string): AwsRequestError {
  return new AwsRequestError('ValidationError', `1 validation error detected: ${detail}`);
}

function optionalString(input: Record<string, unknown>, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw validation(`Value at '${key}' failed to satisfy constraint: Member must be a string`);
  return value;
}

function requiredString(input: Record<string, unknown>, key: string, max: number): string {
  const value = optionalString(input, key);
  if (value === undefined || value.length === 0 || value.length > max)
    throw validation(`Value at '${key}' failed to satisfy constraint: Member must have length between 1 and ${max}`);
  return value;
}

function strings(input: Record<string, unknown>, key: string, max: number): string[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.length > max || value.some((v) => typeof v !== 'string'))
    throw validation(`Value at '${key}' failed to satisfy constraint: Member must be a list of at most ${max} strings`);
  return value as string[];
}

function integer(input: Record<string, unknown>, key: string): number | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value))
    throw validation(`Value at '${key}' failed to satisfy constraint: Member must be an integer`);
  return value;
}
