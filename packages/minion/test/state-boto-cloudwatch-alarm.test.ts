import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { botoCloudwatchAlarmStates } from '../src/state/functions/boto-cloudwatch-alarm.js';
import type { StateCallContext, StateRuntime } from '../src/state/functions/types.js';

/*
 * The module's logic, without a process, and an AWS refusal the emulator has no reason to give:
 * the real CloudWatchClient serializes every request and parses every answer; only its transport
 * is replaced, by a small alarm table that answers in CloudWatch's JSON protocol. The module runs
 * against the devstack's resource emulator in test/aws-states-show.test.ts.
 */

interface Sent {
  action: string;
  body: Record<string, unknown>;
}

function cloudwatchTable() {
  const alarms = new Map<string, Record<string, unknown>>();
  const sent: Sent[] = [];
  let refuse: { type: string; message: string } | undefined;
  const answer = (status: number, body: unknown) => ({
    response: {
      statusCode: status,
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: Readable.from([Buffer.from(JSON.stringify(body))]),
    },
  });
  const handler = {
    handle: async (request: { headers: Record<string, string>; body: unknown }) => {
      const action = (request.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      const body = JSON.parse(String(request.body)) as Record<string, unknown>;
      sent.push({ action, body });
      if (refuse !== undefined && action !== 'DescribeAlarms')
        return answer(400, { __type: refuse.type, message: refuse.message });
      if (action === 'DescribeAlarms') {
        const names = body.AlarmNames as string[];
        return answer(200, { MetricAlarms: names.flatMap((n) => (alarms.has(n) ? [alarms.get(n)] : [])) });
      }
      if (action === 'PutMetricAlarm') alarms.set(body.AlarmName as string, body);
      if (action === 'DeleteAlarms') for (const name of body.AlarmNames as string[]) alarms.delete(name);
      return answer(200, {});
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
  return {
    alarms,
    sent,
    refuseWith: (type: string, message: string) => {
      refuse = { type, message };
    },
    onClient: (client: object) => {
      (client as CloudWatchClient).config.requestHandler =
        handler as unknown as CloudWatchClient['config']['requestHandler'];
    },
  };
}

const context = (test: boolean): StateCallContext => ({
  test,
  rt: { pillar: {} } as unknown as StateRuntime,
  id: 'cpu-high',
  sls: 'alarms',
  requires: [],
});

const ATTRIBUTES = {
  metric: 'CPUUtilization',
  namespace: 'AWS/EC2',
  statistic: 'Average',
  comparison: '>=',
  threshold: 80,
  period: 300,
  evaluation_periods: 2,
  dimensions: { AutoScalingGroupName: ['orders-api-staging'] },
  alarm_actions: ['arn:aws:sns:us-east-1:000000000000:orders-staging-events'],
};

test('boto_cloudwatch_alarm: predicts with DescribeAlarms only, puts the alarm, then changes only on a difference', async () => {
  const table = cloudwatchTable();
  const module = botoCloudwatchAlarmStates({
    settings: { region: 'us-east-1', endpoints: {}, credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret-x' } },
    onClient: table.onClient,
  });
  const present = module.functions.present;
  assert.ok(present !== undefined);
  const args = { name: 'cpu-high', attributes: ATTRIBUTES };

  const predicted = await present.run(args, context(true));
  assert.equal(predicted.result, null);
  assert.deepEqual(
    table.sent.map((s) => s.action),
    ['DescribeAlarms'],
  );

  const made = await present.run(args, context(false));
  assert.equal(made.result, true, made.comment);
  const put = table.sent.find((s) => s.action === 'PutMetricAlarm');
  // The SDK's serializer writes only members of its model: these names are CloudWatch's own.
  assert.deepEqual(put?.body, {
    AlarmName: 'cpu-high',
    AlarmDescription: '',
    MetricName: 'CPUUtilization',
    Namespace: 'AWS/EC2',
    Statistic: 'Average',
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    Threshold: 80,
    Period: 300,
    EvaluationPeriods: 2,
    Dimensions: [{ Name: 'AutoScalingGroupName', Value: 'orders-api-staging' }],
    AlarmActions: ['arn:aws:sns:us-east-1:000000000000:orders-staging-events'],
    InsufficientDataActions: [],
    OKActions: [],
  });

  table.sent.length = 0;
  const again = await present.run(args, context(false));
  assert.deepEqual([again.result, again.changes], [true, {}], again.comment);
  assert.deepEqual(
    table.sent.map((s) => s.action),
    ['DescribeAlarms'],
  );

  const changed = await present.run({ ...args, attributes: { ...ATTRIBUTES, threshold: 90 } }, context(false));
  assert.deepEqual(changed.changes, { old: { alarm: { Threshold: 80 } }, new: { alarm: { Threshold: 90 } } });

  table.refuseWith('LimitExceededFault', 'The maximum number of alarms has been reached.');
  const refused = await present.run({ ...args, attributes: { ...ATTRIBUTES, threshold: 95 } }, context(false));
  assert.equal(refused.result, false);
  assert.match(
    refused.comment,
    /^Failed to set alarm of CloudWatch alarm cpu-high: LimitExceededFault: The maximum number of alarms has been reached\. \(nothing was changed\)$/,
  );
  assert.ok(!JSON.stringify(refused).includes('secret-x'));
});

test('boto_cloudwatch_alarm.absent deletes with DeleteAlarms, and is content when there is none', async () => {
  const table = cloudwatchTable();
  // Credentials given: the SDK's default chain would look for an instance role beyond loopback.
  const module = botoCloudwatchAlarmStates({
    settings: { region: 'us-east-1', endpoints: {}, credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' } },
    onClient: table.onClient,
  });
  table.alarms.set('cpu-high', { AlarmName: 'cpu-high' });
  const absent = module.functions.absent;
  assert.ok(absent !== undefined);
  const gone = await absent.run({ name: 'cpu-high' }, context(false));
  assert.equal(gone.result, true, gone.comment);
  assert.deepEqual(gone.changes, { old: { alarm: 'cpu-high' }, new: { alarm: null } });
  assert.deepEqual(table.sent.at(-1), { action: 'DeleteAlarms', body: { AlarmNames: ['cpu-high'] } });
  const again = await absent.run({ name: 'cpu-high' }, context(false));
  assert.deepEqual([again.result, again.changes], [true, {}]);
});
