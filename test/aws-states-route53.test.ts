import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { useDevstack, useTempDir } from '@phoenix/devstack/testing';
import {
  devstackEndpoints,
  localAwsMinion,
  recordAwsCalls,
  type AwsRecorder,
  type LocalAwsMinion,
} from './lib/aws-states.js';

/*
 * boto_route53 against the devstack's Route 53 emulator (the REST-XML API, 2013-04-01), run as
 * `phoenix call --local state.sls`, every request seen by a recorder in front of it. The zones are
 * made with the SDK's own CreateHostedZone, as an operator would before the states run.
 */

const devstack = useDevstack();
const tmp = useTempDir('phoenix-aws-route53-');
let recorder: AwsRecorder | undefined;
let minion: LocalAwsMinion;
let ready: Promise<void> | undefined;

function setUp(): Promise<void> {
  ready ??= (async () => {
    recorder = await recordAwsCalls(devstackEndpoints(devstack()));
    minion = await localAwsMinion(tmp(), {
      awsProfiles: { local: { keyid: 'AKIDLOCAL', key: 'local-secret', endpoints: recorder.endpoints } },
    });
    const r53 = new Route53Client({
      region: 'us-east-1',
      endpoint: devstack().aws.endpoints.route53,
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
    });
    try {
      await r53.send(new CreateHostedZoneCommand({ Name: 'example.com', CallerReference: 'public' }));
      await r53.send(
        new CreateHostedZoneCommand({
          Name: 'corp.example.com.',
          CallerReference: 'private',
          HostedZoneConfig: { PrivateZone: true, Comment: 'inside' },
          VPC: { VPCId: 'vpc-00000000000000001', VPCRegion: 'us-east-1' },
        }),
      );
    } finally {
      r53.destroy();
    }
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

const RECORDS = `
www:
  boto_route53.present:
    - name: www.example.com
    - zone: example.com.
    - record_type: A
    - value: {{ pillar.get('www', ['192.0.2.10', '192.0.2.11']) | json }}
    - ttl: {{ pillar.get('ttl', 300) }}
    - profile: local
api-blue:
  boto_route53.present:
    - name: api.example.com.
    - zone: example.com
    - record_type: CNAME
    - value: blue-elb.us-east-1.elb.amazonaws.com
    - identifier: blue
    - weight: {{ pillar.get('blue', 100) }}
    - ttl: 60
    - profile: local
api-green:
  boto_route53.present:
    - name: api.example.com.
    - zone: example.com
    - record_type: CNAME
    - value: green-elb.us-east-1.elb.amazonaws.com.
    - identifier: green
    - weight: 0
    - ttl: 60
    - profile: local
`;

const records = (zone: string) =>
  devstack()
    .resources.hostedZones.describe()
    .find((z) => z.name === zone)
    ?.records.filter((r) => r.type !== 'NS' && r.type !== 'SOA') ?? [];

test('boto_route53.present: predicts, creates plain and weighted record sets, then changes only what differs', async () => {
  await setUp();
  await writeFile(join(minion.fileRoot, 'dns.sls'), RECORDS);
  rec().clear();
  const predicted = await minion.apply('state.sls', 'dns', 'test=True');
  for (const id of ['www', 'api-blue', 'api-green'])
    assert.equal(predicted.byId[id]?.result, null, `${id}: ${predicted.byId[id]?.comment}`);
  assert.deepEqual(mutating(), [], 'test=True made no mutating call');
  assert.deepEqual(records('example.com.'), []);

  rec().clear();
  const first = await minion.apply('state.sls', 'dns');
  for (const id of ['www', 'api-blue', 'api-green'])
    assert.equal(first.byId[id]?.result, true, `${id}: ${first.byId[id]?.comment}`);
  assert.deepEqual(first.byId.www?.changes, {
    old: { record: null },
    new: {
      record: { name: 'www.example.com.', record_type: 'A', value: ['192.0.2.10', '192.0.2.11'], ttl: 300 },
    },
  });
  assert.deepEqual(mutating(), [
    'route53:ChangeResourceRecordSets',
    'route53:ChangeResourceRecordSets',
    'route53:ChangeResourceRecordSets',
  ]);
  assert.ok(
    rec()
      .calls()
      .some((c) => c.action === 'GetChange'),
    'each change was waited for (wait_for_sync)',
  );
  assert.deepEqual(
    records('example.com.').map((r) => [r.name, r.type, r.setIdentifier, r.weight, r.ttl, r.values]),
    [
      ['www.example.com.', 'A', undefined, undefined, 300, ['192.0.2.10', '192.0.2.11']],
      ['api.example.com.', 'CNAME', 'blue', 100, 60, ['blue-elb.us-east-1.elb.amazonaws.com']],
      ['api.example.com.', 'CNAME', 'green', 0, 60, ['green-elb.us-east-1.elb.amazonaws.com.']],
    ],
  );

  rec().clear();
  const second = await minion.apply('state.sls', 'dns');
  for (const id of ['www', 'api-blue', 'api-green']) assert.deepEqual(second.byId[id]?.changes, {}, id);
  assert.deepEqual(mutating(), []);

  rec().clear();
  const reweighted = await minion.apply('state.sls', 'dns', 'pillar={"blue": 50}');
  assert.deepEqual(reweighted.byId['api-blue']?.changes, {
    old: { record: { weight: 100 } },
    new: { record: { weight: 50 } },
  });
  assert.deepEqual(reweighted.byId.www?.changes, {});
  assert.deepEqual(reweighted.byId['api-green']?.changes, {});
  assert.deepEqual(mutating(), ['route53:ChangeResourceRecordSets']);

  rec().clear();
  const retimed = await minion.apply(
    'state.sls',
    'dns',
    'pillar={"blue": 50, "ttl": 600, "www": ["192.0.2.11", "192.0.2.10"]}',
  );
  assert.deepEqual(
    retimed.byId.www?.changes,
    { old: { record: { ttl: 300 } }, new: { record: { ttl: 600 } } },
    'the values are the same set',
  );
  assert.deepEqual(mutating(), ['route53:ChangeResourceRecordSets']);
  assert.equal(records('example.com.').find((r) => r.name === 'www.example.com.')?.ttl, 600);
});

test('boto_route53.absent: predicts, deletes the record set as it is, then has nothing to do; split_dns picks the private zone', async () => {
  await setUp();
  await writeFile(
    join(minion.fileRoot, 'dns-private.sls'),
    'db:\n  boto_route53.present:\n    - name: db.corp.example.com\n    - zone: corp.example.com\n    - record_type: A\n    - value: 10.0.0.5\n    - split_dns: True\n    - private_zone: True\n    - profile: local\n',
  );
  await writeFile(
    join(minion.fileRoot, 'dns-private-gone.sls'),
    'db:\n  boto_route53.absent:\n    - name: db.corp.example.com\n    - zone: corp.example.com\n    - record_type: A\n    - split_dns: True\n    - private_zone: True\n    - profile: local\n',
  );
  const made = await minion.apply('state.sls', 'dns-private');
  assert.equal(made.byId.db?.result, true, made.byId.db?.comment);
  assert.deepEqual(
    records('corp.example.com.').map((r) => [r.name, r.ttl, r.values]),
    [['db.corp.example.com.', 60, ['10.0.0.5']]],
    'a record made without ttl gets 60',
  );
  rec().clear();
  const predicted = await minion.apply('state.sls', 'dns-private-gone', 'test=True');
  assert.equal(predicted.byId.db?.result, null);
  assert.deepEqual(mutating(), []);
  const removed = await minion.apply('state.sls', 'dns-private-gone');
  assert.deepEqual(removed.byId.db?.changes, {
    old: { record: 'db.corp.example.com.' },
    new: { record: null },
  });
  assert.deepEqual(mutating(), ['route53:ChangeResourceRecordSets']);
  assert.deepEqual(records('corp.example.com.'), []);
  rec().clear();
  const again = await minion.apply('state.sls', 'dns-private-gone');
  assert.equal(again.byId.db?.result, true);
  assert.deepEqual(again.byId.db?.changes, {});
  assert.deepEqual(mutating(), []);
});

test('boto_route53: what Route 53 refuses and what is malformed each fail their own state, and nothing else', async () => {
  await setUp();
  await writeFile(
    join(minion.fileRoot, 'dns-bad.sls'),
    `
not-an-address:
  boto_route53.present:
    - name: bad.example.com
    - zone: example.com
    - record_type: A
    - value: not-an-ip
    - profile: local
outside-zone:
  boto_route53.present:
    - name: www.example.org
    - zone: example.com
    - record_type: A
    - value: 192.0.2.1
    - profile: local
no-zone:
  boto_route53.present:
    - name: www.example.net
    - zone: example.net
    - record_type: A
    - value: 192.0.2.1
    - profile: local
no-value:
  boto_route53.present:
    - name: empty.example.com
    - zone: example.com
    - record_type: A
    - profile: local
weight-without-identifier:
  boto_route53.present:
    - name: w.example.com
    - zone: example.com
    - record_type: A
    - value: 192.0.2.1
    - weight: 10
    - profile: local
fine:
  boto_route53.present:
    - name: fine.example.com
    - zone: example.com
    - record_type: TXT
    - value: '"v=spf1 -all"'
    - profile: local
`,
  );
  rec().clear();
  const run = await minion.apply('state.sls', 'dns-bad');
  assert.equal(run.byId['not-an-address']?.result, false);
  assert.match(
    run.byId['not-an-address']?.comment ?? '',
    /^Failed to create Route53 record bad\.example\.com\. \(A\): InvalidChangeBatch: .*ARRDATAIllegalIPv4Address.* \(nothing was changed\)$/,
  );
  assert.equal(run.byId['outside-zone']?.result, false);
  assert.match(
    run.byId['outside-zone']?.comment ?? '',
    /InvalidChangeBatch: .*is not permitted in zone example\.com\./,
  );
  assert.equal(run.byId['no-zone']?.result, false);
  assert.equal(run.byId['no-zone']?.comment, 'Hosted zone example.net. does not exist');
  assert.equal(run.byId['no-value']?.result, false);
  assert.match(run.byId['no-value']?.comment ?? '', /value/);
  assert.equal(run.byId['weight-without-identifier']?.result, false);
  assert.match(run.byId['weight-without-identifier']?.comment ?? '', /identifier and weight go together/);
  assert.equal(run.byId.fine?.result, true, run.byId.fine?.comment);
  assert.deepEqual(mutating(), [
    'route53:ChangeResourceRecordSets',
    'route53:ChangeResourceRecordSets',
    'route53:ChangeResourceRecordSets',
  ]);
});
