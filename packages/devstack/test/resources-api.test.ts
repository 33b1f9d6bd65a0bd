import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import pino from 'pino';
import { AwsResources, answerResourceRequest, startResourceServer } from '../src/resources/index.js';

/*
 * The resource emulator's request handling, without a socket: form bodies as the SDK writes them
 * for EC2 and IAM, JSON with X-Amz-Target for CloudWatch, and each service's own answers and
 * error shapes. The SDK clients themselves run against it in test/aws-states-show.test.ts.
 */

const at = new Date('2026-12-01T00:00:00Z');
const fresh = () =>
  new AwsResources({ accountId: '000000000000', region: 'us-east-1', clock: { now: () => at.getTime() } });
const query = (resources: AwsResources, body: Record<string, string>) =>
  answerResourceRequest(resources, { url: '/', body: new URLSearchParams(body).toString() }, 'req-1');
const ec2 = (resources: AwsResources, action: string, params: Record<string, string> = {}) =>
  query(resources, { Action: action, Version: '2016-11-15', ...params });
const iam = (resources: AwsResources, action: string, params: Record<string, string> = {}) =>
  query(resources, { Action: action, Version: '2010-05-08', ...params });
const elb = (resources: AwsResources, action: string, params: Record<string, string> = {}) =>
  query(resources, { Action: action, Version: '2012-06-01', ...params });
const route53 = (resources: AwsResources, method: string, path: string, body = '') =>
  answerResourceRequest(resources, { url: `/2013-04-01${path}`, method, body }, 'req-1');
const cloudwatch = (resources: AwsResources, action: string, input: unknown) =>
  answerResourceRequest(
    resources,
    { url: '/', target: `GraniteServiceVersion20100801.${action}`, body: JSON.stringify(input) },
    'req-1',
  );

test('EC2: a permission with several ranges and a source group is stored flat and answered grouped by port range', () => {
  const resources = fresh();
  const made = ec2(resources, 'CreateSecurityGroup', { GroupName: 'web', GroupDescription: 'web & <api>' });
  assert.equal(made.status, 200, made.body);
  const id = /<groupId>(sg-[0-9a-f]{17})<\/groupId>/.exec(made.body)?.[1] ?? '';
  assert.ok(id !== '', made.body);
  const authorized = ec2(resources, 'AuthorizeSecurityGroupIngress', {
    GroupId: id,
    'IpPermissions.1.IpProtocol': 'tcp',
    'IpPermissions.1.FromPort': '443',
    'IpPermissions.1.ToPort': '443',
    'IpPermissions.1.IpRanges.1.CidrIp': '10.0.0.0/8',
    'IpPermissions.1.IpRanges.2.CidrIp': '192.168.0.0/16',
    'IpPermissions.1.Groups.1.GroupId': id,
  });
  assert.equal(authorized.status, 200, authorized.body);
  assert.deepEqual(
    resources.securityGroups.describe()[0]?.ingress.map((r) => r.cidr ?? r.groupId),
    ['10.0.0.0/8', '192.168.0.0/16', id],
  );
  const described = ec2(resources, 'DescribeSecurityGroups', {
    'Filter.1.Name': 'group-name',
    'Filter.1.Value.1': 'web',
  });
  assert.equal(
    described.body,
    '<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>' +
      '<securityGroupInfo><item><ownerId>000000000000</ownerId>' +
      `<groupId>${id}</groupId><groupName>web</groupName><groupDescription>web &amp; &lt;api&gt;</groupDescription>` +
      '<vpcId>vpc-00000000000000001</vpcId><ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort>' +
      `<toPort>443</toPort><groups><item><userId>000000000000</userId><groupId>${id}</groupId></item></groups>` +
      '<ipRanges><item><cidrIp>10.0.0.0/8</cidrIp></item><item><cidrIp>192.168.0.0/16</cidrIp></item></ipRanges>' +
      '<ipv6Ranges/><prefixListIds/></item></ipPermissions><ipPermissionsEgress><item><ipProtocol>-1</ipProtocol>' +
      '<groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item>' +
      '</ipPermissionsEgress><tagSet/></item></securityGroupInfo></DescribeSecurityGroupsResponse>',
  );
  assert.match(
    ec2(resources, 'DescribeSecurityGroups', { 'Filter.1.Name': 'group-name', 'Filter.1.Value.1': 'db' }).body,
    /<securityGroupInfo\/>/,
  );

  const revoked = ec2(resources, 'RevokeSecurityGroupIngress', {
    GroupId: id,
    'IpPermissions.1.IpProtocol': 'tcp',
    'IpPermissions.1.FromPort': '443',
    'IpPermissions.1.ToPort': '443',
    'IpPermissions.1.IpRanges.1.CidrIp': '192.168.0.0/16',
  });
  assert.equal(revoked.status, 200, revoked.body);
  assert.deepEqual(
    resources.securityGroups.describe()[0]?.ingress.map((r) => r.cidr ?? r.groupId),
    ['10.0.0.0/8', id],
  );
});

test('EC2: refusals come in EC2’s own shape, and a refused request changes nothing', () => {
  const resources = fresh();
  const gone = ec2(resources, 'DeleteSecurityGroup', { GroupId: 'sg-00000000000000099' });
  assert.equal(gone.status, 400);
  assert.equal(
    gone.body,
    '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InvalidGroup.NotFound</Code>' +
      "<Message>The security group 'sg-00000000000000099' does not exist</Message></Error></Errors>" +
      '<RequestID>req-1</RequestID></Response>',
  );
  ec2(resources, 'CreateSecurityGroup', { GroupName: 'web', GroupDescription: 'web' });
  assert.match(
    ec2(resources, 'CreateSecurityGroup', { GroupName: 'web', GroupDescription: 'again' }).body,
    /<Code>InvalidGroup\.Duplicate<\/Code>/,
  );
  const id = resources.securityGroups.describe()[0]?.id ?? '';
  const rule = {
    GroupId: id,
    'IpPermissions.1.IpProtocol': '-1',
    'IpPermissions.1.IpRanges.1.CidrIp': '0.0.0.0/0',
  };
  assert.match(ec2(resources, 'AuthorizeSecurityGroupEgress', rule).body, /InvalidPermission\.Duplicate/);
  const halfBad = ec2(resources, 'AuthorizeSecurityGroupIngress', {
    ...rule,
    'IpPermissions.2.IpProtocol': 'tcp',
    'IpPermissions.2.FromPort': '22',
    'IpPermissions.2.ToPort': '22',
    'IpPermissions.2.IpRanges.1.CidrIp': 'not-a-cidr',
  });
  assert.match(halfBad.body, /<Code>InvalidParameterValue<\/Code>/);
  assert.deepEqual(resources.securityGroups.describe()[0]?.ingress, [], 'the valid first permission was not kept');
  assert.match(ec2(resources, 'RevokeSecurityGroupIngress', rule).body, /InvalidPermission\.NotFound/);
  assert.match(
    ec2(resources, 'DescribeSecurityGroups', { 'Filter.1.Name': 'owner', 'Filter.1.Value.1': 'x' }).body,
    /InvalidParameterValue/,
  );
  assert.match(ec2(resources, 'RunInstances').body, /<Code>InvalidAction<\/Code>/);

  const db = /<groupId>(sg-\w+)<\/groupId>/.exec(
    ec2(resources, 'CreateSecurityGroup', { GroupName: 'db', GroupDescription: 'db' }).body,
  )?.[1];
  ec2(resources, 'AuthorizeSecurityGroupIngress', {
    GroupId: db ?? '',
    'IpPermissions.1.IpProtocol': 'tcp',
    'IpPermissions.1.FromPort': '5432',
    'IpPermissions.1.ToPort': '5432',
    'IpPermissions.1.Groups.1.GroupId': id,
  });
  assert.match(ec2(resources, 'DeleteSecurityGroup', { GroupId: id }).body, /<Code>DependencyViolation<\/Code>/);
  assert.equal(ec2(resources, 'DeleteSecurityGroup', { GroupId: db ?? '' }).status, 200);
  assert.equal(ec2(resources, 'DeleteSecurityGroup', { GroupId: id }).status, 200, 'free once its referrer is gone');
});

test('IAM: a role, its policies and its instance profile; documents answered URL-encoded; NoSuchEntity as a 404', () => {
  const resources = fresh();
  const trust = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' } }] });
  const missing = iam(resources, 'GetRole', { RoleName: 'api' });
  assert.equal(missing.status, 404);
  assert.equal(
    missing.body,
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>' +
      '<Code>NoSuchEntity</Code><Message>The role with name api cannot be found.</Message></Error>' +
      '<RequestId>req-1</RequestId></ErrorResponse>',
  );
  const made = iam(resources, 'CreateRole', { RoleName: 'api', AssumeRolePolicyDocument: trust });
  assert.equal(made.status, 200, made.body);
  assert.ok(made.body.includes(`<AssumeRolePolicyDocument>${encodeURIComponent(trust)}</AssumeRolePolicyDocument>`));
  assert.ok(made.body.includes('<Arn>arn:aws:iam::000000000000:role/api</Arn><CreateDate>2026-12-01T00:00:00.000Z'));
  assert.equal(iam(resources, 'CreateRole', { RoleName: 'api', AssumeRolePolicyDocument: trust }).status, 409);
  assert.match(
    iam(resources, 'PutRolePolicy', { RoleName: 'api', PolicyName: 'p', PolicyDocument: '{not json' }).body,
    /MalformedPolicyDocument/,
  );
  const policy = '{"Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"<&>"}]}';
  assert.equal(
    iam(resources, 'PutRolePolicy', { RoleName: 'api', PolicyName: 'p', PolicyDocument: policy }).status,
    200,
  );
  assert.match(
    iam(resources, 'ListRolePolicies', { RoleName: 'api' }).body,
    /<PolicyNames><member>p<\/member><\/PolicyNames>/,
  );
  assert.ok(
    iam(resources, 'GetRolePolicy', { RoleName: 'api', PolicyName: 'p' }).body.includes(
      `<PolicyDocument>${encodeURIComponent(policy)}</PolicyDocument>`,
    ),
  );
  const managed = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
  assert.equal(iam(resources, 'AttachRolePolicy', { RoleName: 'api', PolicyArn: managed }).status, 200);
  assert.match(iam(resources, 'AttachRolePolicy', { RoleName: 'api', PolicyArn: 'nope' }).body, /InvalidInput/);
  assert.match(
    iam(resources, 'ListAttachedRolePolicies', { RoleName: 'api' }).body,
    /<AttachedPolicies><member><PolicyName>ReadOnlyAccess<\/PolicyName><PolicyArn>arn:aws:iam::aws:policy\/ReadOnlyAccess<\/PolicyArn><\/member><\/AttachedPolicies>/,
  );
  assert.equal(iam(resources, 'CreateInstanceProfile', { InstanceProfileName: 'api' }).status, 200);
  assert.equal(iam(resources, 'AddRoleToInstanceProfile', { InstanceProfileName: 'api', RoleName: 'api' }).status, 200);
  assert.match(
    iam(resources, 'AddRoleToInstanceProfile', { InstanceProfileName: 'api', RoleName: 'api' }).body,
    /LimitExceeded/,
  );
  assert.match(
    iam(resources, 'GetInstanceProfile', { InstanceProfileName: 'api' }).body,
    /<Roles><member><Path>\/<\/Path><RoleName>api<\/RoleName>/,
  );

  const conflict = iam(resources, 'DeleteRole', { RoleName: 'api' });
  assert.equal(conflict.status, 409);
  assert.match(conflict.body, /DeleteConflict/);
  for (const [action, params] of [
    ['DeleteRolePolicy', { RoleName: 'api', PolicyName: 'p' }],
    ['DetachRolePolicy', { RoleName: 'api', PolicyArn: managed }],
    ['RemoveRoleFromInstanceProfile', { InstanceProfileName: 'api', RoleName: 'api' }],
    ['DeleteInstanceProfile', { InstanceProfileName: 'api' }],
    ['DeleteRole', { RoleName: 'api' }],
  ] as const) {
    const answer = iam(resources, action, params);
    assert.equal(answer.status, 200, `${action}: ${answer.body}`);
  }
  assert.deepEqual(resources.iam.describe(), { roles: [], instanceProfiles: [] });
  assert.match(iam(resources, 'DeleteRolePolicy', { RoleName: 'api', PolicyName: 'p' }).body, /NoSuchEntity/);
});

test('CloudWatch: JSON 1.0 by X-Amz-Target, alarms kept as put, and query-compatible errors', () => {
  const resources = fresh();
  const alarm = {
    AlarmName: 'cpu-high',
    AlarmDescription: '',
    MetricName: 'CPUUtilization',
    Namespace: 'AWS/EC2',
    Statistic: 'Average',
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    Threshold: 80,
    Period: 300,
    EvaluationPeriods: 2,
    Dimensions: [{ Name: 'AutoScalingGroupName', Value: 'api' }],
    AlarmActions: ['arn:aws:sns:us-east-1:000000000000:events'],
  };
  const put = cloudwatch(resources, 'PutMetricAlarm', alarm);
  assert.deepEqual([put.status, put.body, put.headers['content-type']], [200, '{}', 'application/x-amz-json-1.0']);
  const described = cloudwatch(resources, 'DescribeAlarms', { AlarmNames: ['cpu-high', 'other'] });
  const [found, ...more] = (JSON.parse(described.body) as { MetricAlarms: Record<string, unknown>[] }).MetricAlarms;
  assert.deepEqual(more, []);
  assert.deepEqual(found, {
    ...alarm,
    AlarmArn: 'arn:aws:cloudwatch:us-east-1:000000000000:alarm:cpu-high',
    OKActions: [],
    InsufficientDataActions: [],
    ActionsEnabled: true,
    StateValue: 'INSUFFICIENT_DATA',
    StateReason: 'Unchecked: Initial alarm creation',
    AlarmConfigurationUpdatedTimestamp: at.getTime() / 1000,
    StateUpdatedTimestamp: at.getTime() / 1000,
  });

  const bad = cloudwatch(resources, 'PutMetricAlarm', { ...alarm, ComparisonOperator: '>=' });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers['x-amzn-query-error'], 'ValidationError;Sender');
  assert.match(JSON.parse(bad.body).__type, /#ValidationError$/);
  assert.equal(cloudwatch(resources, 'PutMetricAlarm', { ...alarm, Period: 45 }).status, 400);
  assert.equal(
    (JSON.parse(cloudwatch(resources, 'DescribeAlarms', {}).body) as { MetricAlarms: unknown[] }).MetricAlarms.length,
    1,
    'refused puts changed nothing',
  );
  const unknown = cloudwatch(resources, 'DeleteAlarms', { AlarmNames: ['nope'] });
  assert.deepEqual([unknown.status, unknown.headers['x-amzn-query-error']], [404, 'ResourceNotFound;Sender']);
  assert.equal(cloudwatch(resources, 'DeleteAlarms', { AlarmNames: ['cpu-high'] }).status, 200);
  assert.deepEqual(resources.alarms.describe(), []);
  const garbage = answerResourceRequest(
    resources,
    { url: '/', target: 'GraniteServiceVersion20100801.DescribeAlarms', body: '{' },
    'r',
  );
  assert.equal(JSON.parse(garbage.body).__type, 'com.amazonaws.cloudwatch#SerializationException');
});

test('ELB: a load balancer answered in ELB’s shapes; a refused change changes nothing; errors as ErrorResponse', () => {
  const resources = fresh();
  const made = elb(resources, 'CreateLoadBalancer', {
    LoadBalancerName: 'web',
    'Listeners.member.1.Protocol': 'http',
    'Listeners.member.1.LoadBalancerPort': '80',
    'Listeners.member.1.InstancePort': '8080',
    'AvailabilityZones.member.1': 'us-east-1a',
    'Tags.member.1.Key': 'team',
    'Tags.member.1.Value': 'web',
  });
  assert.equal(made.status, 200, made.body);
  assert.equal(
    made.body,
    '<CreateLoadBalancerResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/">' +
      '<CreateLoadBalancerResult><DNSName>web-1000000001.us-east-1.elb.amazonaws.com</DNSName></CreateLoadBalancerResult>' +
      '<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></CreateLoadBalancerResponse>',
  );
  const described = elb(resources, 'DescribeLoadBalancers', { 'LoadBalancerNames.member.1': 'web' });
  assert.match(
    described.body,
    /<ListenerDescriptions><member><Listener><Protocol>HTTP<\/Protocol><LoadBalancerPort>80<\/LoadBalancerPort><InstanceProtocol>HTTP<\/InstanceProtocol><InstancePort>8080<\/InstancePort><\/Listener><PolicyNames\/><\/member><\/ListenerDescriptions>/,
  );
  assert.match(
    described.body,
    /<HealthCheck><Target>TCP:8080<\/Target><Interval>30<\/Interval>/,
    'AWS’s default check',
  );

  const refused = elb(resources, 'ModifyLoadBalancerAttributes', {
    LoadBalancerName: 'web',
    'LoadBalancerAttributes.ConnectionSettings.IdleTimeout': '5000',
  });
  assert.equal(refused.status, 400);
  assert.equal(
    refused.body,
    '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/"><Error><Type>Sender</Type>' +
      '<Code>ValidationError</Code><Message>IdleTimeout must be between 1 and 4000 seconds</Message></Error>' +
      '<RequestId>req-1</RequestId></ErrorResponse>',
  );
  assert.equal(resources.loadBalancers.describe()[0]?.attributes.idleTimeout, 60);
  const unknownGroup = elb(resources, 'ApplySecurityGroupsToLoadBalancer', {
    LoadBalancerName: 'web',
    'SecurityGroups.member.1': 'sg-00000000000000009',
  });
  assert.match(unknownGroup.body, /<Code>InvalidSecurityGroup<\/Code>/, 'a group must exist in the EC2 emulator');
  assert.match(
    elb(resources, 'DescribeLoadBalancers', { 'LoadBalancerNames.member.1': 'nope' }).body,
    /<Code>LoadBalancerNotFound<\/Code>/,
  );
});

test('Route 53: REST paths and XML bodies; a change batch is applied whole or not at all', () => {
  const resources = fresh();
  const created = route53(
    resources,
    'POST',
    '/hostedzone',
    '<?xml version="1.0" encoding="UTF-8"?><CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">' +
      '<Name>Example.com</Name><CallerReference>one</CallerReference></CreateHostedZoneRequest>',
  );
  assert.equal(created.status, 201, created.body);
  const id = resources.hostedZones.describe()[0]?.id ?? '';
  assert.match(created.body, new RegExp(`<HostedZone><Id>/hostedzone/${id}</Id><Name>example.com.</Name>`));
  const change = (changes: string) =>
    route53(
      resources,
      'POST',
      `/hostedzone/${id}/rrset`,
      '<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes>' +
        changes +
        '</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>',
    );
  const set = (action: string, name: string, value: string) =>
    `<Change><Action>${action}</Action><ResourceRecordSet><Name>${name}</Name><Type>A</Type><TTL>60</TTL>` +
    `<ResourceRecords><ResourceRecord><Value>${value}</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change>`;
  const ok = change(set('CREATE', '*.example.com', '192.0.2.1'));
  assert.equal(ok.status, 200, ok.body);
  assert.match(ok.body, /<ChangeInfo><Id>\/change\/C[0-9A-F]{13}<\/Id><Status>PENDING<\/Status>/);
  const refused = change(set('CREATE', 'www.example.com', '192.0.2.2') + set('CREATE', '*.example.com', '192.0.2.3'));
  assert.equal(refused.status, 400);
  assert.match(
    refused.body,
    /<Code>InvalidChangeBatch<\/Code><Message>\[Tried to create resource record set \[name=&apos;\\052.example.com.&apos;, type=&apos;A&apos;\] but it already exists\]<\/Message>/,
  );
  const listed = route53(resources, 'GET', `/hostedzone/${id}/rrset?name=example.com&type=A`);
  assert.deepEqual(
    [...listed.body.matchAll(/<Name>([^<]*)<\/Name><Type>([A-Z]+)<\/Type>/g)].map((m) => `${m[1]} ${m[2]}`),
    ['example.com. NS', 'example.com. SOA', '\\052.example.com. A'],
    "from (example.com., A) on in AWS's order; the first change of the refused batch was not kept",
  );
  assert.equal(route53(resources, 'GET', '/hostedzone/ZNOSUCHZONE/rrset').status, 404);
  assert.equal(route53(resources, 'GET', '/change/C0000000000000').status, 404);
});

test('the resource server listens on loopback only and refuses an oversized body', async () => {
  const server = await startResourceServer({
    resources: fresh(),
    logger: pino({ level: 'silent' }),
    maxBodyBytes: 1024,
  });
  try {
    assert.match(server.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const post = (body: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request(
          `${server.endpoint}/`,
          { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const ok = await post('Action=DescribeSecurityGroups&Version=2016-11-15');
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /<securityGroupInfo\/>/);
    const big = await post(`Action=GetRole&Version=2010-05-08&RoleName=${'a'.repeat(2000)}`);
    assert.equal(big.status, 413);
  } finally {
    await server.close();
  }
});
