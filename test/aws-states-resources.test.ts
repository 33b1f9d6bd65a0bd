import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useDevstack, useTempDir } from '@phoenix/devstack/testing';
import { devstackEndpoints, localAwsMinion, recordAwsCalls, type AwsRecorder } from './lib/aws-states.js';

/*
 * boto_secgroup, boto_iam_role and boto_cloudwatch_alarm taken away again on the devstack's
 * resource emulator: absent predicts without a mutating call, deletes in the order the services
 * demand (IAM refuses to delete a role that still has policies or an instance profile), and a
 * second absent has nothing to do. Creating them is shown by test/aws-states-show.test.ts.
 */

const devstack = useDevstack();
const tmp = useTempDir('phoenix-aws-resources-');
let recorder: AwsRecorder | undefined;
after(async () => {
  await recorder?.close();
});

const PRESENT = `
web-sg:
  boto_secgroup.present:
    - name: web
    - description: web servers
    - profile: local
    - rules:
      - {ip_protocol: tcp, from_port: 80, to_port: 80, cidr_ip: [10.0.0.0/8, 192.168.0.0/16]}
web-role:
  boto_iam_role.present:
    - name: web
    - profile: local
    - policies:
        read: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 's3:GetObject', Resource: '*'}]}
    - managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]
web-alarm:
  boto_cloudwatch_alarm.present:
    - name: web-cpu
    - profile: local
    - attributes: {metric: CPUUtilization, namespace: AWS/EC2, statistic: Average, comparison: '>', threshold: 70, period: 60, evaluation_periods: 3}
`;

const ABSENT = `
web-sg:
  boto_secgroup.absent:
    - name: web
    - profile: local
web-role:
  boto_iam_role.absent:
    - name: web
    - profile: local
web-alarm:
  boto_cloudwatch_alarm.absent:
    - name: web-cpu
    - profile: local
`;

test('security group, role and alarm: absent predicts, deletes in the order AWS demands, then has nothing to do', async () => {
  recorder = await recordAwsCalls(devstackEndpoints(devstack()));
  const rec = recorder;
  const minion = await localAwsMinion(tmp(), {
    awsProfiles: { local: { keyid: 'AKIDLOCAL', key: 'local-secret', endpoints: rec.endpoints } },
  });
  await writeFile(join(minion.fileRoot, 'web.sls'), PRESENT);
  await writeFile(join(minion.fileRoot, 'web_gone.sls'), ABSENT);
  const mutating = () => rec.mutating().map((c) => `${c.service}:${c.action}`);
  const resources = devstack().resources;

  const made = await minion.apply('state.sls', 'web');
  assert.deepEqual(
    Object.values(made.byId).map((r) => [r.__id__, r.result]),
    [
      ['web-sg', true],
      ['web-role', true],
      ['web-alarm', true],
    ],
    made.raw.stdout,
  );
  assert.equal(resources.securityGroups.describe()[0]?.ingress.length, 2);

  rec.clear();
  const predicted = await minion.apply('state.sls', 'web_gone', 'test=True');
  assert.deepEqual(
    Object.values(predicted.byId).map((r) => [r.__id__, r.result]),
    [
      ['web-sg', null],
      ['web-role', null],
      ['web-alarm', null],
    ],
    predicted.raw.stdout,
  );
  assert.deepEqual(mutating(), [], 'test=True made no mutating call');
  assert.equal(resources.iam.describe().roles.length, 1);

  rec.clear();
  const gone = await minion.apply('state.sls', 'web_gone');
  for (const id of ['web-sg', 'web-role', 'web-alarm'])
    assert.equal(gone.byId[id]?.result, true, `${id}: ${gone.byId[id]?.comment}`);
  assert.deepEqual(mutating(), [
    'ec2:DeleteSecurityGroup',
    'iam:DeleteRolePolicy',
    'iam:DetachRolePolicy',
    'iam:RemoveRoleFromInstanceProfile',
    'iam:DeleteInstanceProfile',
    'iam:DeleteRole',
    'cloudwatch:DeleteAlarms',
  ]);
  assert.deepEqual(resources.securityGroups.describe(), []);
  assert.deepEqual(resources.iam.describe(), { roles: [], instanceProfiles: [] });
  assert.deepEqual(resources.alarms.describe(), []);

  rec.clear();
  const again = await minion.apply('state.sls', 'web_gone');
  assert.deepEqual(
    Object.values(again.byId).map((r) => [r.__id__, r.result, r.changes]),
    [
      ['web-sg', true, {}],
      ['web-role', true, {}],
      ['web-alarm', true, {}],
    ],
  );
  assert.deepEqual(mutating(), []);
});
