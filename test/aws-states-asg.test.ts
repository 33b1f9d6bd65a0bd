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
