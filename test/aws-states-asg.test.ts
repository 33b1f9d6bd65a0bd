import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useDevstack, useTempDir } from '@phoenix/devstack/testing';
import {
  devstackEndpoints,
  localAwsMinion,
  recordAwsCalls,
  type AwsRecorder,
  type LocalAwsMinion,
} from './lib/aws-states.js';

/*
 * boto_asg against the devstack's auto-scaling simulator (the real Auto Scaling Query API), run
 * as `phoenix call --local state.sls`, every request seen by a recorder in front of it.
 */

const devstack = useDevstack();
const tmp = useTempDir('phoenix-aws-asg-');
let recorder: AwsRecorder | undefined;
let minion: LocalAwsMinion;
let ready: Promise<void> | undefined;

function setUp(): Promise<void> {
  ready ??= (async () => {
    recorder = await recordAwsCalls(devstackEndpoints(devstack()));
    minion = await localAwsMinion(tmp(), {
      awsProfiles: { local: { keyid: 'AKIDLOCAL', key: 'local-secret', endpoints: recorder.endpoints } },
    });
  })();
  return ready;
}
after(async () => {
  await recorder?.close();
});
const rec = (): AwsRecorder => recorder ?? assert.fail('set up first');
const mutating = (): string[] =>
  rec()
    .mutating()
    .map((c) => c.action);

const GROUP = `
web-group:
  boto_asg.present:
    - name: web-api
    - profile: local
    - launch_config_name: web-lc-1
    - launch_config:
      - image_id: ami-0123456789abcdef0
      - instance_type: t3.small
    - min_size: 0
    - max_size: {{ pillar.get('max', 4) }}
    - desired_capacity: 1
    - tags:
      - key: service
        value: web
        propagate_at_launch: True
      - key: team
        value: {{ pillar.get('team', 'infra') }}
    - lifecycle_hooks:
      - name: web-launching
        transition: launching
        heartbeat_timeout: 300
        default_result: CONTINUE
    - scaling_policies:
      - name: scale-up
        adjustment_type: ChangeInCapacity
        scaling_adjustment: 1
        cooldown: 300
{%- if pillar.get('suspend') %}
    - suspended_processes: [AZRebalance]
{%- endif %}
`;

const group = () =>
  devstack()
    .simulator.describe()
    .groups.find((g) => g.name === 'web-api');

test('boto_asg.present: predicts, creates the launch configuration and the group with tags and a hook, then changes only what differs', async () => {
  await setUp();
  await writeFile(join(minion.fileRoot, 'asg.sls'), GROUP);
  rec().clear();
  const predicted = await minion.apply('state.sls', 'asg', 'test=True');
  assert.equal(predicted.byId['web-group']?.result, null, predicted.byId['web-group']?.comment);
  assert.deepEqual(Object.keys((predicted.byId['web-group']?.changes as { new: object }).new), [
    'launch_config',
    'group',
    'scaling_policies',
  ]);
  assert.deepEqual(mutating(), [], 'test=True made no mutating call');
  assert.equal(group(), undefined);

  rec().clear();
  const first = await minion.apply('state.sls', 'asg');
  assert.equal(first.byId['web-group']?.result, true, first.byId['web-group']?.comment);
  assert.deepEqual(mutating(), ['CreateLaunchConfiguration', 'CreateAutoScalingGroup', 'PutScalingPolicy']);
  const made = group();
  assert.equal(made?.launchConfigurationName, 'web-lc-1');
  assert.equal(made?.desiredCapacity, 1);
  assert.deepEqual(made?.tags, [
    { key: 'service', value: 'web', propagateAtLaunch: true },
    { key: 'team', value: 'infra', propagateAtLaunch: false },
  ]);
  assert.deepEqual(
    made?.hooks.map((h) => [h.name, h.heartbeatTimeoutSeconds, h.defaultResult]),
    [['web-launching', 300, 'CONTINUE']],
  );
  assert.deepEqual(
    made?.scalingPolicies.map((p) => [p.name, p.adjustmentType, p.scalingAdjustment, p.cooldown]),
    [['scale-up', 'ChangeInCapacity', 1, 300]],
  );

  rec().clear();
  const second = await minion.apply('state.sls', 'asg');
  assert.deepEqual(second.byId['web-group']?.changes, {}, second.byId['web-group']?.comment);
  assert.deepEqual(mutating(), []);

  rec().clear();
  const retagged = await minion.apply('state.sls', 'asg', 'pillar={"team": "platform"}');
  assert.equal(retagged.byId['web-group']?.result, true, retagged.byId['web-group']?.comment);
  assert.deepEqual(retagged.byId['web-group']?.changes, {
    old: {
      tags: {
        service: { value: 'web', propagate_at_launch: true },
        team: { value: 'infra', propagate_at_launch: false },
      },
    },
    new: {
      tags: {
        service: { value: 'web', propagate_at_launch: true },
        team: { value: 'platform', propagate_at_launch: false },
      },
    },
  });
  assert.deepEqual(mutating(), ['CreateOrUpdateTags'], 'only the changed tag is written');

  rec().clear();
  const resized = await minion.apply('state.sls', 'asg', 'pillar={"team": "platform", "max": 6}');
  assert.deepEqual(resized.byId['web-group']?.changes, {
    old: { sizes: { min_size: 0, max_size: 4, desired_capacity: 1 } },
    new: { sizes: { min_size: 0, max_size: 6, desired_capacity: 1 } },
  });
  assert.deepEqual(mutating(), ['UpdateAutoScalingGroup']);
  assert.equal(group()?.maxSize, 6);

  rec().clear();
  const suspended = await minion.apply('state.sls', 'asg', 'pillar={"team": "platform", "max": 6, "suspend": true}');
  assert.deepEqual(suspended.byId['web-group']?.changes, {
    old: { suspended_processes: [] },
    new: { suspended_processes: ['AZRebalance'] },
  });
  assert.deepEqual(mutating(), ['SuspendProcesses']);
  assert.deepEqual(group()?.suspendedProcesses, ['AZRebalance']);
});

test('boto_asg: a launch configuration cannot change, and AWS refusals fail that state alone', async () => {
  await setUp();
  await writeFile(
    join(minion.fileRoot, 'asg-bad.sls'),
    `
base-group:
  boto_asg.present:
    - name: base-api
    - profile: local
    - launch_config_name: refused-lc-1
    - launch_config:
        image_id: ami-aaaaaaaaaaaaaaaa0
        instance_type: t3.small
    - min_size: 0
    - max_size: 1
changed-lc:
  boto_asg.present:
    - name: other-api
    - profile: local
    - launch_config_name: refused-lc-1
    - launch_config:
        image_id: ami-ffffffffffffffff0
        instance_type: t3.small
    - min_size: 0
    - max_size: 1
too-big:
  boto_asg.present:
    - name: big-api
    - profile: local
    - launch_config_name: refused-lc-1
    - min_size: 0
    - max_size: 2
    - desired_capacity: 5
fine:
  boto_asg.present:
    - name: small-api
    - profile: local
    - launch_template:
        launch_template_name: small
        version: 3
    - min_size: 0
    - max_size: 2
`,
  );
  rec().clear();
  const run = await minion.apply('state.sls', 'asg-bad');
  assert.equal(run.byId['base-group']?.result, true, run.byId['base-group']?.comment);
  assert.equal(run.byId['changed-lc']?.result, false);
  assert.match(
    run.byId['changed-lc']?.comment ?? '',
    /exists with other image_id; launch configurations cannot change/,
  );
  assert.equal(run.byId['too-big']?.result, false);
  assert.match(
    run.byId['too-big']?.comment ?? '',
    /^Failed to create Auto scaling group big-api: ValidationError: Desired capacity:5 must be between the specified min size:0 and max size:2 \(nothing was changed\)$/,
  );
  assert.equal(run.byId.fine?.result, true, run.byId.fine?.comment);
  assert.deepEqual(
    devstack()
      .simulator.describe()
      .groups.find((g) => g.name === 'small-api')?.launchTemplate,
    { launchTemplateName: 'small', version: '3' },
  );
  assert.deepEqual(
    mutating(),
    ['CreateLaunchConfiguration', 'CreateAutoScalingGroup', 'CreateAutoScalingGroup', 'CreateAutoScalingGroup'],
    'the base group, the refused one and the fine one; nothing for the changed launch configuration',
  );
});

test('boto_asg.absent deletes a group (force: True with instances), predicting first', async () => {
  await setUp();
  await writeFile(
    join(minion.fileRoot, 'asg-made.sls'),
    'gone-group:\n  boto_asg.present:\n    - name: gone-api\n    - profile: local\n    - launch_template: {launch_template_name: gone}\n    - min_size: 0\n    - max_size: 1\n    - desired_capacity: 1\n',
  );
  assert.equal((await minion.apply('state.sls', 'asg-made')).byId['gone-group']?.result, true);
  await devstack().simulator.waitFor((s) => (s.groups.find((g) => g.name === 'gone-api')?.instances.length ?? 0) > 0, {
    what: 'the group has an instance',
    timeoutMs: 15_000,
  });
  await writeFile(
    join(minion.fileRoot, 'asg-gone.sls'),
    'gone-group:\n  boto_asg.absent:\n    - name: gone-api\n    - profile: local\n    - force: True\n',
  );
  rec().clear();
  const predicted = await minion.apply('state.sls', 'asg-gone', 'test=True');
  assert.equal(predicted.byId['gone-group']?.result, null);
  assert.deepEqual(mutating(), []);
  const removed = await minion.apply('state.sls', 'asg-gone');
  assert.deepEqual(removed.byId['gone-group']?.changes, { old: { group: 'gone-api' }, new: { group: null } });
  assert.deepEqual(mutating(), ['DeleteAutoScalingGroup']);
  await devstack().simulator.waitFor((s) => !s.groups.some((g) => g.name === 'gone-api'), {
    what: 'the group is gone',
    timeoutMs: 15_000,
  });
});

const NETWORKED = `
net-group:
  boto_asg.present:
    - name: net-api
    - profile: local
    - launch_template: {launch_template_name: net}
    - min_size: 0
    - max_size: 2
    - vpc_zone_identifier: {{ pillar.get('subnets', ['subnet-0a1b2c3d', 'subnet-0a1b2c3e']) | json }}
    - load_balancers: {{ pillar.get('elbs', ['web-elb']) | json }}
    - scaling_policies:
      - name: cpu-target
        policy_type: TargetTrackingScaling
        estimated_instance_warmup: 120
        target_tracking_configuration:
          predefined_metric_specification: {predefined_metric_type: ASGAverageCPUUtilization}
          target_value: {{ pillar.get('target', 60) }}
      - name: backlog-steps
        policy_type: StepScaling
        adjustment_type: ChangeInCapacity
        step_adjustments:
          - {metric_interval_lower_bound: 0, metric_interval_upper_bound: 100, scaling_adjustment: 1}
          - {metric_interval_lower_bound: 100, scaling_adjustment: 2}
      - name: scale-down
        adjustment_type: ChangeInCapacity
        scaling_adjustment: -1
        cooldown: 300
`;

const netGroup = () =>
  devstack()
    .simulator.describe()
    .groups.find((g) => g.name === 'net-api');
const onlyChange = async (pillar: string) => {
  rec().clear();
  const run = await minion.apply('state.sls', 'asg-net', `pillar=${pillar}`);
  const result = run.byId['net-group'];
  assert.equal(result?.result, true, result?.comment);
  return result?.changes as { old: Record<string, unknown>; new: Record<string, unknown> };
};

test('boto_asg.present: subnets, load balancers, step and target-tracking policies are created, kept, and changed one at a time', async () => {
  await setUp();
  await writeFile(join(minion.fileRoot, 'asg-net.sls'), NETWORKED);
  rec().clear();
  const predicted = await minion.apply('state.sls', 'asg-net', 'test=True');
  assert.equal(predicted.byId['net-group']?.result, null, predicted.byId['net-group']?.comment);
  assert.deepEqual(mutating(), []);

  rec().clear();
  const first = await minion.apply('state.sls', 'asg-net');
  assert.equal(first.byId['net-group']?.result, true, first.byId['net-group']?.comment);
  assert.deepEqual(mutating(), ['CreateAutoScalingGroup', 'PutScalingPolicy', 'PutScalingPolicy', 'PutScalingPolicy']);
  const made = netGroup();
  assert.deepEqual(made?.vpcZoneIdentifier, ['subnet-0a1b2c3d', 'subnet-0a1b2c3e']);
  assert.deepEqual(made?.loadBalancerNames, ['web-elb']);
  assert.deepEqual(
    made?.scalingPolicies.map((p) => [p.name, p.policyType]),
    [
      ['cpu-target', 'TargetTrackingScaling'],
      ['backlog-steps', 'StepScaling'],
      ['scale-down', 'SimpleScaling'],
    ],
  );
  assert.deepEqual(made?.scalingPolicies[0]?.targetTracking, {
    predefinedMetric: { type: 'ASGAverageCPUUtilization' },
    targetValue: 60,
    disableScaleIn: false,
  });
  assert.deepEqual(made?.scalingPolicies[1]?.stepAdjustments, [
    { metricIntervalLowerBound: 0, metricIntervalUpperBound: 100, scalingAdjustment: 1 },
    { metricIntervalLowerBound: 100, scalingAdjustment: 2 },
  ]);

  rec().clear();
  const second = await minion.apply('state.sls', 'asg-net');
  assert.deepEqual(second.byId['net-group']?.changes, {}, second.byId['net-group']?.comment);
  assert.deepEqual(mutating(), [], 'the described policies, subnets and load balancers compare equal to the SLS');

  const retargeted = await onlyChange('{"target": 45.5}');
  assert.deepEqual(Object.keys(retargeted.new), ['scaling_policies']);
  assert.deepEqual(
    (retargeted.new.scaling_policies as Record<string, { target_tracking_configuration?: unknown }>)['cpu-target']
      ?.target_tracking_configuration,
    {
      predefined_metric_specification: { predefined_metric_type: 'ASGAverageCPUUtilization' },
      target_value: 45.5,
      disable_scale_in: false,
    },
  );
  assert.deepEqual(mutating(), ['PutScalingPolicy'], 'only the changed policy is put');
  assert.equal(netGroup()?.scalingPolicies.find((p) => p.name === 'cpu-target')?.targetTracking?.targetValue, 45.5);

  const moved = await onlyChange('{"target": 45.5, "subnets": ["subnet-0a1b2c3e", "subnet-0a1b2c3f"]}');
  assert.deepEqual(moved, {
    old: { vpc_zone_identifier: ['subnet-0a1b2c3d', 'subnet-0a1b2c3e'] },
    new: { vpc_zone_identifier: ['subnet-0a1b2c3e', 'subnet-0a1b2c3f'] },
  });
  assert.deepEqual(mutating(), ['UpdateAutoScalingGroup']);

  const rebalanced = await onlyChange(
    '{"target": 45.5, "subnets": ["subnet-0a1b2c3e", "subnet-0a1b2c3f"], "elbs": ["api-elb"]}',
  );
  assert.deepEqual(rebalanced, { old: { load_balancers: ['web-elb'] }, new: { load_balancers: ['api-elb'] } });
  assert.deepEqual(mutating(), ['AttachLoadBalancers', 'DetachLoadBalancers']);
  assert.deepEqual(netGroup()?.loadBalancerNames, ['api-elb']);
});

test('boto_asg.present: a policy AWS refuses, a bad subnet and a malformed policy each fail their own state', async () => {
  await setUp();
  await writeFile(
    join(minion.fileRoot, 'asg-bad-policies.sls'),
    `
bad-subnet:
  boto_asg.present:
    - name: subnet-api
    - profile: local
    - launch_template: {launch_template_name: x}
    - min_size: 0
    - max_size: 1
    - vpc_zone_identifier: subnet-0a1b2c3d, not-a-subnet
no-steps:
  boto_asg.present:
    - name: steps-api
    - profile: local
    - launch_template: {launch_template_name: x}
    - min_size: 0
    - max_size: 1
    - scaling_policies:
      - {name: steps, policy_type: StepScaling, adjustment_type: ChangeInCapacity}
alb-without-label:
  boto_asg.present:
    - name: alb-api
    - profile: local
    - launch_template: {launch_template_name: x}
    - min_size: 0
    - max_size: 1
    - scaling_policies:
      - name: requests
        policy_type: TargetTrackingScaling
        target_tracking_configuration:
          predefined_metric_specification: {predefined_metric_type: ALBRequestCountPerTarget}
          target_value: 100
fine:
  test.succeed_without_changes: []
`,
  );
  rec().clear();
  const run = await minion.apply('state.sls', 'asg-bad-policies');
  assert.equal(run.byId['bad-subnet']?.result, false);
  assert.match(
    run.byId['bad-subnet']?.comment ?? '',
    /^Failed to create Auto scaling group subnet-api: ValidationError: The subnet ID 'not-a-subnet' does not exist \(nothing was changed\)$/,
  );
  assert.equal(run.byId['no-steps']?.result, false);
  assert.match(run.byId['no-steps']?.comment ?? '', /step_adjustments/);
  assert.equal(run.byId['alb-without-label']?.result, false);
  assert.match(
    run.byId['alb-without-label']?.comment ?? '',
    /^Failed to set scaling_policies of Auto scaling group alb-api: ValidationError: ResourceLabel is required .*\(already changed: group\)$/,
  );
  assert.equal(run.byId.fine?.result, true);
  assert.deepEqual(mutating(), ['CreateAutoScalingGroup', 'CreateAutoScalingGroup', 'PutScalingPolicy']);
});
