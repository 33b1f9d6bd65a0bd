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
 * boto_elb against the devstack's classic load balancer emulator (ELB's Query API, 2012-06-01),
 * run as `phoenix call --local state.sls`, every request seen by a recorder in front of it.
 */

const devstack = useDevstack();
const tmp = useTempDir('phoenix-aws-elb-');
let recorder: AwsRecorder | undefined;
let minion: LocalAwsMinion;
let ready: Promise<void> | undefined;

function setUp(): Promise<void> {
  ready ??= (async () => {
    recorder = await recordAwsCalls(devstackEndpoints(devstack()));
    minion = await localAwsMinion(tmp(), {
      awsProfiles: { local: { keyid: 'AKIDLOCAL', key: 'local-secret', endpoints: recorder.endpoints } },
    });
    await writeFile(
      join(minion.fileRoot, 'elb-sg.sls'),
      'web-sg:\n  boto_secgroup.present:\n    - name: web-elb-sg\n    - description: web load balancer\n    - profile: local\n',
    );
    const sg = await minion.apply('state.sls', 'elb-sg');
    assert.equal(sg.byId['web-sg']?.result, true, sg.byId['web-sg']?.comment);
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
    .map((c) => `${c.service}:${c.action}`);

const BALANCER = `
web-elb:
  boto_elb.present:
    - name: web-elb
    - profile: local
    - subnets: [subnet-0a1b2c3d, subnet-0a1b2c3e]
    - security_groups: [web-elb-sg]
    - listeners:
      - {elb_port: 80, instance_port: {{ pillar.get('http_port', 8080) }}, elb_protocol: http}
      - elb_port: 443
        instance_port: 8080
        elb_protocol: HTTPS
        instance_protocol: HTTP
        certificate: 'arn:aws:iam::000000000000:server-certificate/web'
    - health_check: {target: 'HTTP:8080/healthz', interval: 10, timeout: 5, healthy_threshold: 3}
    - attributes:
        cross_zone_load_balancing: {enabled: true}
        connection_draining: {enabled: true, timeout: 60}
        connecting_settings: {idle_timeout: {{ pillar.get('idle', 60) }}}
    - tags: {service: web, team: {{ pillar.get('team', 'infra') }}}
`;

const balancer = () =>
  devstack()
    .resources.loadBalancers.describe()
    .find((lb) => lb.name === 'web-elb');

test('boto_elb.present: predicts, creates a load balancer with listeners, health check, attributes and tags, then changes only what differs', async () => {
  await setUp();
  await writeFile(join(minion.fileRoot, 'elb.sls'), BALANCER);
  rec().clear();
  const predicted = await minion.apply('state.sls', 'elb', 'test=True');
  assert.equal(predicted.byId['web-elb']?.result, null, predicted.byId['web-elb']?.comment);
  assert.deepEqual(Object.keys((predicted.byId['web-elb']?.changes as { new: object }).new), [
    'load_balancer',
    'health_check',
    'attributes',
  ]);
  assert.deepEqual(mutating(), [], 'test=True made no mutating call');
  assert.equal(balancer(), undefined);

  rec().clear();
  const first = await minion.apply('state.sls', 'elb');
  assert.equal(first.byId['web-elb']?.result, true, first.byId['web-elb']?.comment);
  assert.deepEqual(mutating(), [
    'elb:CreateLoadBalancer',
    'elb:ConfigureHealthCheck',
    'elb:ModifyLoadBalancerAttributes',
  ]);
  const sgId = devstack()
    .resources.securityGroups.describe()
    .find((g) => g.name === 'web-elb-sg')?.id;
  const made = balancer();
  assert.deepEqual(made?.subnets, ['subnet-0a1b2c3d', 'subnet-0a1b2c3e']);
  assert.deepEqual(made?.securityGroups, [sgId], 'the group named in the SLS, by its id');
  assert.deepEqual(
    made?.listeners.map((l) => [l.protocol, l.loadBalancerPort, l.instanceProtocol, l.instancePort]),
    [
      ['HTTP', 80, 'HTTP', 8080],
      ['HTTPS', 443, 'HTTP', 8080],
    ],
  );
  assert.deepEqual(made?.healthCheck, {
    target: 'HTTP:8080/healthz',
    interval: 10,
    timeout: 5,
    healthyThreshold: 3,
    unhealthyThreshold: 2, // AWS's default: the SLS does not name it
  });
  assert.deepEqual(made?.attributes, {
    crossZoneLoadBalancing: true,
    connectionDraining: { enabled: true, timeout: 60 },
    idleTimeout: 60,
    accessLog: { enabled: false },
  });
  assert.deepEqual(Object.fromEntries(made?.tags ?? []), { service: 'web', team: 'infra' });

  rec().clear();
  const second = await minion.apply('state.sls', 'elb');
  assert.deepEqual(second.byId['web-elb']?.changes, {}, second.byId['web-elb']?.comment);
  assert.deepEqual(mutating(), []);

  const change = async (pillar: string) => {
    rec().clear();
    const run = await minion.apply('state.sls', 'elb', `pillar=${pillar}`);
    assert.equal(run.byId['web-elb']?.result, true, run.byId['web-elb']?.comment);
    return run.byId['web-elb']?.changes;
  };
  assert.deepEqual(await change('{"idle": 120}'), {
    old: { attributes: { connecting_settings: { idle_timeout: 60 } } },
    new: { attributes: { connecting_settings: { idle_timeout: 120 } } },
  });
  assert.deepEqual(mutating(), ['elb:ModifyLoadBalancerAttributes']);
  assert.equal(balancer()?.attributes.idleTimeout, 120);
  assert.equal(balancer()?.attributes.connectionDraining.timeout, 60, 'the other attributes stay');

  assert.deepEqual(await change('{"idle": 120, "team": "platform"}'), {
    old: { tags: { service: 'web', team: 'infra' } },
    new: { tags: { service: 'web', team: 'platform' } },
  });
  assert.deepEqual(mutating(), ['elb:AddTags']);

  const relistened = (await change('{"idle": 120, "team": "platform", "http_port": 9090}')) as {
    old: { listeners: Record<string, unknown> };
    new: { listeners: Record<string, unknown> };
  };
  assert.deepEqual(Object.keys(relistened.new), ['listeners']);
  assert.deepEqual(relistened.new.listeners['80'], {
    elb_protocol: 'HTTP',
    instance_port: 9090,
    instance_protocol: 'HTTP',
  });
  assert.deepEqual(mutating(), ['elb:DeleteLoadBalancerListeners', 'elb:CreateLoadBalancerListeners']);
  assert.deepEqual(
    balancer()?.listeners.map((l) => [l.loadBalancerPort, l.instancePort]),
    [
      [443, 8080],
      [80, 9090],
    ],
    'only port 80 was replaced',
  );
});

test('boto_elb.absent: predicts, deletes, then has nothing to do', async () => {
  await setUp();
  await writeFile(
    join(minion.fileRoot, 'elb-zones.sls'),
    `
zones-elb:
  boto_elb.present:
    - name: zones-elb
    - profile: local
    - availability_zones: {{ pillar.get('zones', ['us-east-1a']) | json }}
    - listeners: [{elb_port: 80, instance_port: 80, elb_protocol: TCP}]
`,
  );
  await writeFile(
    join(minion.fileRoot, 'elb-gone.sls'),
    'zones-elb:\n  boto_elb.absent:\n    - name: zones-elb\n    - profile: local\n',
  );
  assert.equal((await minion.apply('state.sls', 'elb-zones')).byId['zones-elb']?.result, true);
  rec().clear();
  const zoned = await minion.apply('state.sls', 'elb-zones', 'pillar={"zones": ["us-east-1b", "us-east-1c"]}');
  assert.deepEqual(zoned.byId['zones-elb']?.changes, {
    old: { availability_zones: ['us-east-1a'] },
    new: { availability_zones: ['us-east-1b', 'us-east-1c'] },
  });
  assert.deepEqual(mutating(), [
    'elb:EnableAvailabilityZonesForLoadBalancer',
    'elb:DisableAvailabilityZonesForLoadBalancer',
  ]);

  rec().clear();
  const predicted = await minion.apply('state.sls', 'elb-gone', 'test=True');
  assert.equal(predicted.byId['zones-elb']?.result, null);
  assert.deepEqual(mutating(), []);
  const removed = await minion.apply('state.sls', 'elb-gone');
  assert.deepEqual(removed.byId['zones-elb']?.changes, {
    old: { load_balancer: 'zones-elb' },
    new: { load_balancer: null },
  });
  assert.deepEqual(mutating(), ['elb:DeleteLoadBalancer']);
  assert.equal(
    devstack()
      .resources.loadBalancers.describe()
      .some((lb) => lb.name === 'zones-elb'),
    false,
  );
  rec().clear();
  const again = await minion.apply('state.sls', 'elb-gone');
  assert.deepEqual(again.byId['zones-elb']?.changes, {});
  assert.equal(again.byId['zones-elb']?.result, true);
  assert.deepEqual(mutating(), []);
});

test('boto_elb: what AWS refuses and what is malformed each fail their own state, and nothing else', async () => {
  await setUp();
  await writeFile(
    join(minion.fileRoot, 'elb-bad.sls'),
    `
bad-name:
  boto_elb.present:
    - name: web_elb!
    - profile: local
    - availability_zones: [us-east-1a]
    - listeners: [{elb_port: 80, instance_port: 80, elb_protocol: HTTP}]
no-certificate:
  boto_elb.present:
    - name: tls-elb
    - profile: local
    - availability_zones: [us-east-1a]
    - listeners: [{elb_port: 443, instance_port: 80, elb_protocol: HTTPS}]
no-listeners:
  boto_elb.present:
    - name: quiet-elb
    - profile: local
    - availability_zones: [us-east-1a]
unknown-group:
  boto_elb.present:
    - name: grouped-elb
    - profile: local
    - subnets: [subnet-0a1b2c3d]
    - security_groups: [no-such-group]
    - listeners: [{elb_port: 80, instance_port: 80, elb_protocol: HTTP}]
in-vpc:
  boto_elb.present:
    - name: vpc-elb
    - profile: local
    - subnets: [subnet-0a1b2c3d]
    - listeners: [{elb_port: 80, instance_port: 80, elb_protocol: HTTP}]
zones-for-vpc:
  boto_elb.present:
    - name: vpc-elb
    - profile: local
    - availability_zones: [us-east-1b]
    - listeners: [{elb_port: 80, instance_port: 80, elb_protocol: HTTP}]
fine:
  boto_elb.present:
    - name: fine-elb
    - profile: local
    - availability_zones: [us-east-1a]
    - listeners: [{elb_port: 80, instance_port: 80, elb_protocol: HTTP}]
`,
  );
  rec().clear();
  const run = await minion.apply('state.sls', 'elb-bad');
  assert.equal(run.byId['bad-name']?.result, false);
  assert.match(
    run.byId['bad-name']?.comment ?? '',
    /^Failed to create Load balancer web_elb!: ValidationError: LoadBalancerName 'web_elb!' must have at most 32 characters.* \(nothing was changed\)$/,
  );
  assert.equal(run.byId['no-certificate']?.result, false);
  assert.match(
    run.byId['no-certificate']?.comment ?? '',
    /ValidationError: A HTTPS listener needs an SSLCertificateId/,
  );
  assert.equal(run.byId['no-listeners']?.result, false);
  assert.match(run.byId['no-listeners']?.comment ?? '', /listeners/);
  assert.equal(run.byId['unknown-group']?.result, false);
  assert.match(run.byId['unknown-group']?.comment ?? '', /Security group no-such-group does not exist/);
  assert.equal(run.byId['in-vpc']?.result, true, run.byId['in-vpc']?.comment);
  assert.equal(run.byId['zones-for-vpc']?.result, false);
  assert.equal(
    run.byId['zones-for-vpc']?.comment,
    'Load balancer vpc-elb is in a VPC: its zones come from its subnets, so give subnets',
  );
  assert.equal(run.byId.fine?.result, true, run.byId.fine?.comment);
  assert.deepEqual(
    mutating(),
    ['elb:CreateLoadBalancer', 'elb:CreateLoadBalancer', 'elb:CreateLoadBalancer', 'elb:CreateLoadBalancer'],
    'the refused two, the VPC one and the fine one; nothing for the malformed ones',
  );
});

test('boto_elb with a security group made by the state before it: predicted by name, then created with its id', async () => {
  await setUp();
  await writeFile(
    join(minion.fileRoot, 'elb-together.sls'),
    `
api-sg:
  boto_secgroup.present:
    - name: api-elb-sg
    - description: api load balancer
    - profile: local
api-elb:
  boto_elb.present:
    - name: api-elb
    - profile: local
    - subnets: [subnet-0a1b2c3d]
    - security_groups: [api-elb-sg]
    - listeners: [{elb_port: 80, instance_port: 80, elb_protocol: HTTP}]
`,
  );
  rec().clear();
  const predicted = await minion.apply('state.sls', 'elb-together', 'test=True');
  assert.equal(predicted.byId['api-sg']?.result, null, predicted.byId['api-sg']?.comment);
  assert.equal(predicted.byId['api-elb']?.result, null, predicted.byId['api-elb']?.comment);
  assert.deepEqual(
    (predicted.byId['api-elb']?.changes as { new: { load_balancer: { security_groups: string[] } } }).new.load_balancer
      .security_groups,
    ['api-elb-sg'],
  );
  assert.deepEqual(mutating(), []);
  const made = await minion.apply('state.sls', 'elb-together');
  assert.equal(made.byId['api-elb']?.result, true, made.byId['api-elb']?.comment);
  const sgId = devstack()
    .resources.securityGroups.describe()
    .find((g) => g.name === 'api-elb-sg')?.id;
  assert.deepEqual(
    devstack()
      .resources.loadBalancers.describe()
      .find((lb) => lb.name === 'api-elb')?.securityGroups,
    [sgId],
  );
});
