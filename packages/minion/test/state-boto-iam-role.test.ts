import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { IAMClient } from '@aws-sdk/client-iam';
import { botoIamRoleStates } from '../src/state/functions/boto-iam-role.js';
import type { StateCallContext, StateRuntime } from '../src/state/functions/types.js';

/*
 * The module's logic, without a process: the real IAMClient writes every request in IAM's query
 * protocol and reads every XML answer with the SDK's own models; only its transport is replaced
 * by a small table of roles, policies and instance profiles. The module runs against the
 * devstack's resource emulator in test/aws-states-show.test.ts.
 */

interface RoleRecord {
  trust: string;
  inline: Map<string, string>;
  attached: Set<string>;
}

function iamTable() {
  const roles = new Map<string, RoleRecord>();
  const profiles = new Map<string, string[]>();
  const sent: { action: string; params: URLSearchParams }[] = [];
  const reply = (status: number, text: string) => ({
    response: {
      statusCode: status,
      headers: { 'content-type': 'text/xml' },
      body: Readable.from([Buffer.from(text)]),
    },
  });
  const ok = (action: string, inner = '') =>
    reply(
      200,
      `<${action}Response xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`,
    );
  const noSuch = (what: string) =>
    reply(
      404,
      `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The ${what} cannot be found.</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
    );
  const roleXml = (name: string, role: RoleRecord) =>
    `<Role><Path>/</Path><RoleName>${name}</RoleName><RoleId>AROA${name.length}</RoleId><Arn>arn:aws:iam::000000000000:role/${name}</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate><AssumeRolePolicyDocument>${encodeURIComponent(role.trust)}</AssumeRolePolicyDocument></Role>`;
  const handler = {
    handle: async (request: { body: unknown }) => {
      const params = new URLSearchParams(String(request.body));
      const action = params.get('Action') ?? '';
      sent.push({ action, params });
      const name = params.get('RoleName') ?? '';
      const role = roles.get(name);
      const profile = params.get('InstanceProfileName') ?? '';
      switch (action) {
        case 'GetRole':
          return role === undefined ? noSuch(`role with name ${name}`) : ok(action, roleXml(name, role));
        case 'CreateRole': {
          const made = {
            trust: params.get('AssumeRolePolicyDocument') ?? '',
            inline: new Map(),
            attached: new Set<string>(),
          };
          roles.set(name, made);
          return ok(action, roleXml(name, made));
        }
        case 'UpdateAssumeRolePolicy':
          if (role) role.trust = params.get('PolicyDocument') ?? '';
          return ok(action);
        case 'ListRolePolicies':
          return ok(
            action,
            `<PolicyNames>${[...(role?.inline.keys() ?? [])].map((p) => `<member>${p}</member>`).join('')}</PolicyNames><IsTruncated>false</IsTruncated>`,
          );
        case 'GetRolePolicy': {
          const policy = params.get('PolicyName') ?? '';
          return ok(
            action,
            `<RoleName>${name}</RoleName><PolicyName>${policy}</PolicyName><PolicyDocument>${encodeURIComponent(role?.inline.get(policy) ?? '')}</PolicyDocument>`,
          );
        }
        case 'PutRolePolicy':
          role?.inline.set(params.get('PolicyName') ?? '', params.get('PolicyDocument') ?? '');
          return ok(action);
        case 'DeleteRolePolicy':
          role?.inline.delete(params.get('PolicyName') ?? '');
          return ok(action);
        case 'ListAttachedRolePolicies':
          return ok(
            action,
            `<AttachedPolicies>${[...(role?.attached ?? [])].map((arn) => `<member><PolicyName>${arn.split('/').pop()}</PolicyName><PolicyArn>${arn}</PolicyArn></member>`).join('')}</AttachedPolicies><IsTruncated>false</IsTruncated>`,
          );
        case 'AttachRolePolicy':
          role?.attached.add(params.get('PolicyArn') ?? '');
          return ok(action);
        case 'DetachRolePolicy':
          role?.attached.delete(params.get('PolicyArn') ?? '');
          return ok(action);
        case 'GetInstanceProfile': {
          const held = profiles.get(profile);
          if (held === undefined) return noSuch(`instance profile ${profile}`);
          return ok(
            action,
            `<InstanceProfile><Path>/</Path><InstanceProfileName>${profile}</InstanceProfileName><InstanceProfileId>AIPA1</InstanceProfileId><Arn>arn:aws:iam::000000000000:instance-profile/${profile}</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate><Roles>${held
              .map(
                (r) => `<member>${roleXml(r, roles.get(r) as RoleRecord).replace(/^<Role>|<\/Role>$/g, '')}</member>`,
              )
              .join('')}</Roles></InstanceProfile>`,
          );
        }
        case 'CreateInstanceProfile':
          profiles.set(profile, []);
          return ok(
            action,
            `<InstanceProfile><Path>/</Path><InstanceProfileName>${profile}</InstanceProfileName><InstanceProfileId>AIPA1</InstanceProfileId><Arn>arn:aws:iam::000000000000:instance-profile/${profile}</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate><Roles/></InstanceProfile>`,
          );
        case 'AddRoleToInstanceProfile':
          profiles.get(profile)?.push(name);
          return ok(action);
        case 'RemoveRoleFromInstanceProfile':
          profiles.set(
            profile,
            (profiles.get(profile) ?? []).filter((r) => r !== name),
          );
          return ok(action);
        case 'DeleteInstanceProfile':
          profiles.delete(profile);
          return ok(action);
        case 'DeleteRole':
          roles.delete(name);
          return ok(action);
        default:
          return ok(action);
      }
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
  return {
    roles,
    profiles,
    sent,
    onClient: (client: object) => {
      (client as IAMClient).config.requestHandler = handler as unknown as IAMClient['config']['requestHandler'];
    },
  };
}

const context = (test: boolean): StateCallContext => ({
  test,
  rt: { pillar: {} } as unknown as StateRuntime,
  id: 'orders-role',
  sls: 'iam',
  requires: [],
});

const READ_QUEUES = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], Resource: '*' }],
};

test('boto_iam_role.present: role, instance profile, inline and managed policies; then only what differs', async () => {
  const table = iamTable();
  const module = botoIamRoleStates({
    settings: { region: 'us-east-1', endpoints: {}, credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' } },
    onClient: table.onClient,
  });
  const present = module.functions.present;
  assert.ok(present !== undefined);
  const args = (policies: Record<string, unknown>) => ({
    name: 'orders-api',
    policies,
    managed_policies: ['arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy'],
  });
  const mutating = () => table.sent.map((s) => s.action).filter((a) => !/^(Get|List)/.test(a));

  const predicted = await present.run(args({ 'read-queues': READ_QUEUES }), context(true));
  assert.equal(predicted.result, null, predicted.comment);
  assert.deepEqual(mutating(), []);

  table.sent.length = 0;
  const made = await present.run(args({ 'read-queues': READ_QUEUES }), context(false));
  assert.equal(made.result, true, made.comment);
  assert.deepEqual(mutating(), [
    'CreateRole',
    'CreateInstanceProfile',
    'AddRoleToInstanceProfile',
    'PutRolePolicy',
    'AttachRolePolicy',
  ]);
  assert.deepEqual(JSON.parse(table.roles.get('orders-api')?.trust ?? '{}').Statement[0].Principal, {
    Service: 'ec2.amazonaws.com',
  });
  assert.deepEqual(table.profiles.get('orders-api'), ['orders-api']);

  table.sent.length = 0;
  const again = await present.run(args({ 'read-queues': READ_QUEUES }), context(false));
  assert.deepEqual([again.result, again.changes], [true, {}], again.comment);
  assert.deepEqual(mutating(), [], 'documents IAM answers URL-encoded compare as JSON');

  table.sent.length = 0;
  const wider = { ...READ_QUEUES, Statement: [{ ...READ_QUEUES.Statement[0], Action: ['sqs:*'] }] };
  const changed = await present.run(args({ 'read-queues': wider }), context(false));
  assert.deepEqual(changed.changes, {
    old: { policies: { 'read-queues': READ_QUEUES } },
    new: { policies: { 'read-queues': wider } },
  });
  assert.deepEqual(mutating(), ['PutRolePolicy']);

  const absent = module.functions.absent;
  assert.ok(absent !== undefined);
  table.sent.length = 0;
  const gone = await absent.run({ name: 'orders-api' }, context(false));
  assert.equal(gone.result, true, gone.comment);
  assert.deepEqual(mutating(), [
    'DeleteRolePolicy',
    'DetachRolePolicy',
    'RemoveRoleFromInstanceProfile',
    'DeleteInstanceProfile',
    'DeleteRole',
  ]);
  assert.equal(table.roles.size, 0);
});
