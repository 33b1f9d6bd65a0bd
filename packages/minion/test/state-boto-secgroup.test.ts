import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { botoSecgroupStates } from '../src/state/functions/boto-secgroup.js';
import type { StateCallContext, StateRuntime } from '../src/state/functions/types.js';

/*
 * The module's logic, without a process: the real EC2Client serializes every request (EC2's
 * query protocol) and parses every answer (its XML) with the SDK's own models; only its transport
 * is replaced, by a small table of security groups. The module runs against the devstack's
 * resource emulator in test/aws-states-show.test.ts.
 */

interface Rule {
  protocol: string;
  from?: number;
  to?: number;
  cidr?: string;
  group?: string;
}
interface Group {
  id: string;
  name: string;
  description: string;
  ingress: Rule[];
  egress: Rule[];
}

function ec2Table() {
  const groups = new Map<string, Group>();
  const sent: { action: string; params: URLSearchParams }[] = [];
  let seq = 0;
  const xml = (action: string, inner: string) => ({
    response: {
      statusCode: 200,
      headers: { 'content-type': 'text/xml' },
      body: Readable.from([
        Buffer.from(
          `<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>${inner}</${action}Response>`,
        ),
      ]),
    },
  });
  const permissions = (params: URLSearchParams): Rule[] => {
    const out: Rule[] = [];
    for (let i = 1; params.has(`IpPermissions.${i}.IpProtocol`); i++) {
      const field = (name: string) => params.get(`IpPermissions.${i}.${name}`) ?? undefined;
      const ports =
        field('FromPort') === undefined ? {} : { from: Number(field('FromPort')), to: Number(field('ToPort')) };
      const cidr = field('IpRanges.1.CidrIp');
      const group = field('Groups.1.GroupId');
      out.push({
        protocol: field('IpProtocol') as string,
        ...ports,
        ...(cidr === undefined ? {} : { cidr }),
        ...(group === undefined ? {} : { group }),
      });
    }
    return out;
  };
  const same = (a: Rule, b: Rule) => JSON.stringify(a) === JSON.stringify(b);
  const ruleXml = (rules: Rule[]) =>
    rules
      .map(
        (r) =>
          `<item><ipProtocol>${r.protocol}</ipProtocol>${r.from === undefined ? '' : `<fromPort>${r.from}</fromPort><toPort>${r.to}</toPort>`}` +
          `<ipRanges>${r.cidr === undefined ? '' : `<item><cidrIp>${r.cidr}</cidrIp></item>`}</ipRanges>` +
          `<groups>${r.group === undefined ? '' : `<item><groupId>${r.group}</groupId></item>`}</groups></item>`,
      )
      .join('');
  const handler = {
    handle: async (request: { body: unknown }) => {
      const params = new URLSearchParams(String(request.body));
      const action = params.get('Action') ?? '';
      sent.push({ action, params });
      const group = groups.get(params.get('GroupId') ?? '');
      switch (action) {
        case 'DescribeSecurityGroups': {
          const name = params.get('Filter.1.Value.1');
          const found = [...groups.values()].filter((g) => g.name === name);
          return xml(
            action,
            `<securityGroupInfo>${found
              .map(
                (g) =>
                  `<item><groupId>${g.id}</groupId><groupName>${g.name}</groupName><groupDescription>${g.description}</groupDescription>` +
                  `<ipPermissions>${ruleXml(g.ingress)}</ipPermissions><ipPermissionsEgress>${ruleXml(g.egress)}</ipPermissionsEgress></item>`,
              )
              .join('')}</securityGroupInfo>`,
          );
        }
        case 'CreateSecurityGroup': {
          const id = `sg-${String(++seq).padStart(17, '0')}`;
          groups.set(id, {
            id,
            name: params.get('GroupName') ?? '',
            description: params.get('GroupDescription') ?? '',
            ingress: [],
            egress: [{ protocol: '-1', cidr: '0.0.0.0/0' }],
          });
          return xml(action, `<return>true</return><groupId>${id}</groupId>`);
        }
        case 'AuthorizeSecurityGroupIngress':
          group?.ingress.push(...permissions(params));
          return xml(action, '<return>true</return>');
        case 'AuthorizeSecurityGroupEgress':
          group?.egress.push(...permissions(params));
          return xml(action, '<return>true</return>');
        case 'RevokeSecurityGroupIngress':
          if (group) group.ingress = group.ingress.filter((r) => !permissions(params).some((p) => same(p, r)));
          return xml(action, '<return>true</return>');
        case 'RevokeSecurityGroupEgress':
          if (group) group.egress = group.egress.filter((r) => !permissions(params).some((p) => same(p, r)));
          return xml(action, '<return>true</return>');
        case 'DeleteSecurityGroup':
          groups.delete(params.get('GroupId') ?? '');
          return xml(action, '<return>true</return>');
        default:
          return xml(action, '');
      }
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
  return {
    groups,
    sent,
    onClient: (client: object) => {
      (client as EC2Client).config.requestHandler = handler as unknown as EC2Client['config']['requestHandler'];
    },
  };
}

const context = (test: boolean): StateCallContext => ({
  test,
  rt: { pillar: {} } as unknown as StateRuntime,
  id: 'web-sg',
  sls: 'network',
  requires: [],
});

test('boto_secgroup.present: creates the group and its rules, then authorizes and revokes only what differs', async () => {
  const table = ec2Table();
  const module = botoSecgroupStates({
    settings: { region: 'us-east-1', endpoints: {}, credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' } },
    onClient: table.onClient,
  });
  const present = module.functions.present;
  assert.ok(present !== undefined);
  const args = (rules: unknown[]) => ({
    name: 'orders-web',
    description: 'orders web servers',
    rules,
    rules_egress: [{ ip_protocol: 'all', cidr_ip: '0.0.0.0/0' }],
  });
  const https = { ip_protocol: 'tcp', from_port: 443, to_port: 443, cidr_ip: ['10.0.0.0/8', '192.168.0.0/16'] };
  const actions = () => table.sent.map((s) => s.action);

  const predicted = await present.run(args([https]), context(true));
  assert.equal(predicted.result, null, predicted.comment);
  assert.deepEqual(actions(), ['DescribeSecurityGroups']);

  table.sent.length = 0;
  const made = await present.run(args([https]), context(false));
  assert.equal(made.result, true, made.comment);
  assert.deepEqual(actions(), ['DescribeSecurityGroups', 'CreateSecurityGroup', 'AuthorizeSecurityGroupIngress']);
  const authorize = table.sent[2]?.params;
  assert.equal(authorize?.get('IpPermissions.1.IpProtocol'), 'tcp');
  assert.equal(authorize?.get('IpPermissions.2.IpRanges.1.CidrIp'), '192.168.0.0/16');
  const [group] = [...table.groups.values()];
  assert.equal(group?.ingress.length, 2);

  table.sent.length = 0;
  const again = await present.run(args([https]), context(false));
  assert.deepEqual([again.result, again.changes], [true, {}], again.comment);
  assert.deepEqual(actions(), ['DescribeSecurityGroups'], 'the default egress rule matches "all"');

  table.sent.length = 0;
  const ssh = { ip_protocol: 'tcp', from_port: 22, to_port: 22, cidr_ip: '10.0.0.0/8' };
  const changed = await present.run(args([ssh]), context(false));
  assert.equal(changed.result, true, changed.comment);
  assert.deepEqual(actions(), [
    'DescribeSecurityGroups',
    'RevokeSecurityGroupIngress',
    'AuthorizeSecurityGroupIngress',
  ]);
  assert.deepEqual(
    group?.ingress.map((r) => [r.from, r.cidr]),
    [[22, '10.0.0.0/8']],
  );

  const absent = module.functions.absent;
  assert.ok(absent !== undefined);
  const gone = await absent.run({ name: 'orders-web' }, context(false));
  assert.deepEqual(gone.changes, { old: { group: 'orders-web' }, new: { group: null } });
  assert.equal(table.groups.size, 0);
});
