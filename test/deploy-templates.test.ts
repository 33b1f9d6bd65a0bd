/**
 * The CloudFormation templates, checked without an AWS account: they parse with CloudFormation's
 * intrinsic tags, every reference resolves, the tables are exactly packages/store's definitions,
 * the instance roles cover every AWS call the code makes and no write is granted on `*`, and the
 * launch templates' user data, run against a fake metadata service and a fake AWS CLI on
 * loopback, makes configs that the masters' and minions' own schemas accept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseDocument, type CollectionTag, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';
import { generateCurveKeyPair } from '@phoenix/protocol';
import { TABLE_KINDS, tableDefinitions } from '@phoenix/store';
import { MinionConfigSchema } from '@phoenix/minion';
import { useTempDir } from '@phoenix/devstack/testing';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STATIC = join(ROOT, 'cloudformation', 'phoenix-static.yaml');
const CLUSTER = join(ROOT, 'cloudformation', 'phoenix-cluster.yaml');
const BOOTSTRAP = join(ROOT, 'deploy', 'bootstrap', 'phoenix-bootstrap.mjs');
const UNITS = join(ROOT, 'deploy', 'systemd');

const dir = useTempDir('phoenix-deploy-');

// ---- CloudFormation YAML: the short-form intrinsic tags, turned into their long (JSON) form ----

const INTRINSICS: Record<string, string> = {
  Ref: 'Ref',
  Condition: 'Condition',
  Base64: 'Fn::Base64',
  Cidr: 'Fn::Cidr',
  FindInMap: 'Fn::FindInMap',
  GetAtt: 'Fn::GetAtt',
  GetAZs: 'Fn::GetAZs',
  ImportValue: 'Fn::ImportValue',
  Join: 'Fn::Join',
  Select: 'Fn::Select',
  Split: 'Fn::Split',
  Sub: 'Fn::Sub',
  Transform: 'Fn::Transform',
  And: 'Fn::And',
  Equals: 'Fn::Equals',
  If: 'Fn::If',
  Not: 'Fn::Not',
  Or: 'Fn::Or',
  ToJsonString: 'Fn::ToJsonString',
  Length: 'Fn::Length',
};

function cloudFormationTags(): Array<ScalarTag | CollectionTag> {
  return Object.entries(INTRINSICS).flatMap(([short, long]): Array<ScalarTag | CollectionTag> => [
    {
      tag: `!${short}`,
      // !GetAtt Resource.Attribute is the one scalar form CloudFormation splits.
      resolve: (value: string) => ({ [long]: short === 'GetAtt' ? value.split(/\.(.*)/s).slice(0, 2) : value }),
    },
    {
      tag: `!${short}`,
      collection: 'seq',
      resolve: (value: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [long]: value.toJSON() }),
    },
    {
      tag: `!${short}`,
      collection: 'map',
      resolve: (value: YAMLMap.Parsed | YAMLSeq.Parsed) => ({ [long]: value.toJSON() }),
    },
  ]);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Resource {
  Type: string;
  Properties?: JsonObject;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Condition?: string;
}
interface Template {
  AWSTemplateFormatVersion: string;
  Parameters?: Record<string, JsonObject>;
  Conditions?: Record<string, Json>;
  Resources: Record<string, Resource>;
  Outputs?: Record<string, JsonObject>;
}

async function loadTemplate(path: string): Promise<Template> {
  const document = parseDocument(await readFile(path, 'utf8'), { customTags: cloudFormationTags() });
  assert.deepEqual(
    [...document.errors, ...document.warnings].map((e) => e.message),
    [],
    `${path} parses without errors or unknown tags`,
  );
  return document.toJS() as Template;
}

const PSEUDO = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Calls `visit` on every object in the tree, depth first. */
function walk(value: Json | undefined, visit: (node: JsonObject) => void): void {
  if (Array.isArray(value)) for (const item of value) walk(item, visit);
  else if (isObject(value)) {
    visit(value);
    for (const child of Object.values(value)) walk(child, visit);
  }
}

/** The `${Name}` and `${Resource.Attribute}` of a Fn::Sub string (`${!Literal}` is an escape). */
function subVariables(text: string): string[] {
  return [...text.matchAll(/\$\{([^!}][^}]*)\}/g)].map((m) => (m[1] ?? '').trim());
}

interface Names {
  parameters: Set<string>;
  resources: Set<string>;
  conditions: Set<string>;
}

function unresolved(template: Template): string[] {
  const names: Names = {
    parameters: new Set(Object.keys(template.Parameters ?? {})),
    resources: new Set(Object.keys(template.Resources)),
    conditions: new Set(Object.keys(template.Conditions ?? {})),
  };
  const problems: string[] = [];
  const known = (name: string) => names.parameters.has(name) || names.resources.has(name) || PSEUDO.has(name);
  const check = (node: JsonObject) => {
    if ('Ref' in node) {
      if (typeof node.Ref !== 'string' || !known(node.Ref)) problems.push(`Ref ${JSON.stringify(node.Ref)}`);
    }
    if ('Fn::GetAtt' in node) {
      const target = node['Fn::GetAtt'];
      const resource = Array.isArray(target)
        ? target[0]
        : typeof target === 'string'
          ? target.split('.')[0]
          : undefined;
      if (typeof resource !== 'string' || !names.resources.has(resource)) {
        problems.push(`GetAtt ${JSON.stringify(target)}`);
      }
    }
    if ('Fn::Sub' in node) {
      const sub = node['Fn::Sub'];
      const [text, variables] = Array.isArray(sub) ? [sub[0], sub[1]] : [sub, {}];
      const local = new Set(isObject(variables) ? Object.keys(variables) : []);
      for (const variable of typeof text === 'string' ? subVariables(text) : []) {
        const name = variable.includes('.') && !variable.startsWith('AWS::') ? variable.split('.')[0]! : variable;
        const ok =
          local.has(name) ||
          (variable.includes('.') && !variable.startsWith('AWS::') ? names.resources : names.parameters).has(name) ||
          known(name);
        if (!ok) problems.push(`Sub variable \${${variable}}`);
      }
    }
    if ('Fn::If' in node) {
      const condition = Array.isArray(node['Fn::If']) ? node['Fn::If'][0] : undefined;
      if (typeof condition !== 'string' || !names.conditions.has(condition)) problems.push(`If ${String(condition)}`);
    }
    if ('Condition' in node && typeof node.Condition === 'string' && !names.conditions.has(node.Condition)) {
      problems.push(`Condition ${node.Condition}`);
    }
  };
  walk(template.Resources as unknown as Json, check);
  walk((template.Outputs ?? {}) as Json, check);
  walk((template.Conditions ?? {}) as Json, check);
  for (const [name, resource] of Object.entries(template.Resources)) {
    for (const dependency of [resource.DependsOn ?? []].flat()) {
      if (!names.resources.has(dependency)) problems.push(`${name} DependsOn ${dependency}`);
    }
  }
  return problems;
}

/** Values to evaluate a template with: its parameters and pseudo parameters, and the imports. */
interface Context {
  values: Record<string, string>;
  imports: Record<string, string>;
}

/** Enough of CloudFormation's evaluator for names, ARNs and user data: Ref, Sub, ImportValue, Join. */
function evaluate(value: Json | undefined, context: Context, local: Record<string, string> = {}): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (!isObject(value)) throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
  if ('Ref' in value) return lookup(String(value.Ref), context, local);
  if ('Fn::ImportValue' in value) {
    const name = evaluate(value['Fn::ImportValue'], context);
    const imported = context.imports[name];
    if (imported === undefined) throw new Error(`no export named ${name}`);
    return imported;
  }
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((part) => evaluate(part, context, local)).join(separator);
  }
  if ('Fn::Base64' in value) return evaluate(value['Fn::Base64'], context, local);
  if ('Fn::GetAtt' in value) return `<${(value['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Sub' in value) {
    const sub = value['Fn::Sub'];
    const [text, variables] = Array.isArray(sub) ? [sub[0] as string, sub[1] as JsonObject] : [sub as string, {}];
    const scope = { ...local };
    for (const [name, expression] of Object.entries(variables)) scope[name] = evaluate(expression, context);
    return text
      .replace(/\$\{([^!}][^}]*)\}/g, (_, name: string) => lookup(name.trim(), context, scope))
      .replace(/\$\{!/g, '${');
  }
  throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
}

function lookup(name: string, context: Context, local: Record<string, string>): string {
  const value = local[name] ?? context.values[name];
  if (value === undefined) throw new Error(`no value for ${name}`);
  return value;
}

function resourcesOfType(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const STATIC_STACK = 'phoenix-static';
const CLUSTER_STACK = 'phoenix-prod';
const clusterKeys = generateCurveKeyPair();

/** The static stack's exports as they would be in eu-west-1, for evaluating the cluster template. */
function staticExports(template: Template): Record<string, string> {
  const fake: Record<string, string> = {
    TablePrefix: 'phoenix',
    LifecycleQueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/phoenix-static-LifecycleQueue-AbC123`,
    LifecycleQueueArn: `arn:aws:sqs:${REGION}:${ACCOUNT}:phoenix-static-LifecycleQueue-AbC123`,
    LifecycleDeadLetterQueueUrl: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/phoenix-static-Dlq-AbC123`,
    MastersTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:phoenix-static-MastersTopic-AbC123`,
    MinionsTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:phoenix-static-MinionsTopic-AbC123`,
    LifecycleHookRoleArn: `arn:aws:iam::${ACCOUNT}:role/phoenix-static-LifecycleHookRole-AbC123`,
    ClusterKeysSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:phoenix-static/cluster-keys-AbCdEf`,
    ApiTokensSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:phoenix-static/api-tokens-GhIjKl`,
  };
  for (const kind of TABLE_KINDS) {
    const name = `${kind[0]!.toUpperCase()}${kind.slice(1)}TableArn`;
    fake[name] = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/phoenix-${kind}`;
  }
  const exports: Record<string, string> = {};
  for (const [output, definition] of Object.entries(template.Outputs ?? {})) {
    if (!isObject(definition.Export)) continue;
    const name = evaluate(definition.Export.Name, {
      values: { 'AWS::StackName': STATIC_STACK },
      imports: {},
    });
    const value = fake[output];
    if (value === undefined) throw new Error(`the test has no fake value for export ${output}`);
    exports[name] = value;
  }
  return exports;
}

const IDENTITY_CERTIFICATE = [
  '-----BEGIN CERTIFICATE-----',
  ...(randomBytes(300)
    .toString('base64')
    .match(/.{1,64}/g) ?? []),
  '-----END CERTIFICATE-----',
].join('\n');

function clusterContext(cluster: Template, exports: Record<string, string>): Context {
  const values: Record<string, string> = {
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    'AWS::Partition': 'aws',
    'AWS::StackName': CLUSTER_STACK,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  for (const [name, parameter] of Object.entries(cluster.Parameters ?? {})) {
    if (typeof parameter.Default === 'string' || typeof parameter.Default === 'number') {
      values[name] = String(parameter.Default);
    }
  }
  Object.assign(values, {
    StaticStackName: STATIC_STACK,
    ClusterPublicKey: clusterKeys.publicKey,
    // Pasted into a one-line parameter: the line breaks are gone.
    IdentityCertificate: IDENTITY_CERTIFICATE.replace(/\n/g, ' '),
    VpcId: 'vpc-0123456789abcdef0',
    AdminCidr: '10.0.0.0/16',
    ReleaseBucket: 'phoenix-releases',
    StatesRepositoryUrl: 'https://git.example.com/ops/states.git',
    StatesRepositorySecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:phoenix/states-token-AbCdEf`,
    PillarRepositoryUrl: 'git@git.example.com:ops/pillar-prod.git',
    PillarRepositoryRef: 'release',
    PillarRepositorySecretArn: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/phoenix/pillar-deploy-key`,
    // Refs to the groups are their names.
    MasterGroup: `${CLUSTER_STACK}-masters`,
    MinionGroup: `web-prod-${REGION}`,
  });
  return { values, imports: exports };
}

// ---- the templates --------------------------------------------------------------------------

test('both templates parse with CloudFormation intrinsic tags and every reference resolves', async () => {
  for (const path of [STATIC, CLUSTER]) {
    const template = await loadTemplate(path);
    assert.equal(template.AWSTemplateFormatVersion, '2010-09-09');
    assert.ok(Object.keys(template.Resources).length > 0);
    assert.deepEqual(unresolved(template), [], `${path}: every Ref, GetAtt, Sub variable and condition resolves`);
  }
  // The checker itself: a dangling reference is found.
  const broken: Template = {
    AWSTemplateFormatVersion: '2010-09-09',
    Resources: { A: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::Sub': '${Nope}-${B.Arn}' } } } },
  };
  assert.deepEqual(unresolved(broken), ['Sub variable ${Nope}', 'Sub variable ${B.Arn}']);
});

test("the cluster template imports only what the static template exports, by the static stack's name", async () => {
  const staticTemplate = await loadTemplate(STATIC);
  const cluster = await loadTemplate(CLUSTER);
  const exported = new Set<string>();
  for (const output of Object.values(staticTemplate.Outputs ?? {})) {
    const name = output.Export;
    if (isObject(name)) exported.add(String((name.Name as JsonObject)['Fn::Sub']).replace('${AWS::StackName}-', ''));
  }
  const imported = new Set<string>();
  walk(cluster.Resources as unknown as Json, (node) => {
    if (!('Fn::ImportValue' in node)) return;
    const name = node['Fn::ImportValue'];
    assert.ok(isObject(name) && typeof name['Fn::Sub'] === 'string', 'imports are Fn::Sub of the stack name');
    const match = /^\$\{StaticStackName\}-(\w+)$/.exec(name['Fn::Sub'] as string);
    assert.ok(match, `import ${JSON.stringify(name)} is \${StaticStackName}-<Export>`);
    imported.add(match[1]!);
  });
  for (const name of imported) assert.ok(exported.has(name), `the static template exports ${name}`);
  assert.ok(imported.size >= 10, 'the cluster uses the static resources');
});

test('the DynamoDB tables are exactly tableDefinitions() of @phoenix/store, with TTL, PITR and SSE', async () => {
  const template = await loadTemplate(STATIC);
  const prefix = 'phoenix-test';
  const definitions = tableDefinitions(prefix);
  const context: Context = { values: { TablePrefix: prefix }, imports: {} };
  const tables = resourcesOfType(template, 'AWS::DynamoDB::Table');
  assert.equal(tables.length, TABLE_KINDS.length);
  const sortBy = <T extends Record<string, unknown>>(list: readonly T[] | undefined, key: string) =>
    [...(list ?? [])].sort((a, b) => String(a[key]).localeCompare(String(b[key])));
  const seen = new Set<string>();
  for (const [name, table] of tables) {
    const properties = table.Properties ?? {};
    const tableName = evaluate(properties.TableName, context);
    const kind = TABLE_KINDS.find((k) => definitions[k].TableName === tableName);
    assert.ok(kind, `${name}: ${tableName} is one of the store's tables`);
    seen.add(kind);
    const definition = definitions[kind];
    assert.equal(properties.BillingMode, definition.BillingMode, `${name} billing`);
    assert.deepEqual(properties.KeySchema, definition.KeySchema, `${name} key schema`);
    assert.deepEqual(
      sortBy(properties.AttributeDefinitions as JsonObject[], 'AttributeName'),
      sortBy(definition.AttributeDefinitions as unknown as JsonObject[], 'AttributeName'),
      `${name} attribute definitions`,
    );
    assert.deepEqual(
      sortBy((properties.GlobalSecondaryIndexes ?? []) as JsonObject[], 'IndexName'),
      sortBy((definition.GlobalSecondaryIndexes ?? []) as unknown as JsonObject[], 'IndexName'),
      `${name} global secondary indexes`,
    );
    assert.equal(properties.LocalSecondaryIndexes, definition.LocalSecondaryIndexes, `${name} local indexes`);
    assert.deepEqual(properties.TimeToLiveSpecification, definition.TimeToLiveSpecification, `${name} TTL`);
    assert.deepEqual(properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
    assert.deepEqual(properties.SSESpecification, { SSEEnabled: true });
    assert.equal(table.DeletionPolicy, 'Retain', `${name} outlives its stack`);
  }
  assert.equal(seen.size, TABLE_KINDS.length);
});

test('the lifecycle queue has a dead-letter queue, and only the topics and the hook role may send to it', async () => {
  const template = await loadTemplate(STATIC);
  const queue = template.Resources.LifecycleQueue?.Properties ?? {};
  assert.deepEqual((queue.RedrivePolicy as JsonObject).deadLetterTargetArn, {
    'Fn::GetAtt': ['LifecycleDeadLetterQueue', 'Arn'],
  });
  const policy = template.Resources.LifecycleQueuePolicy?.Properties?.PolicyDocument as JsonObject;
  const statements = policy.Statement as JsonObject[];
  const principals = statements.map((s) => JSON.stringify(s.Principal));
  assert.deepEqual(principals, [
    JSON.stringify({ Service: 'sns.amazonaws.com' }),
    JSON.stringify({ AWS: { 'Fn::GetAtt': ['LifecycleHookRole', 'Arn'] } }),
  ]);
  assert.deepEqual(((statements[0]!.Condition as JsonObject).ArnEquals as JsonObject)['aws:SourceArn'], [
    { Ref: 'MastersTopic' },
    { Ref: 'MinionsTopic' },
  ]);
  for (const topic of ['MastersTopic', 'MinionsTopic']) {
    const subscription = Object.values(template.Resources).find(
      (r) =>
        r.Type === 'AWS::SNS::Subscription' &&
        JSON.stringify(r.Properties?.TopicArn) === JSON.stringify({ Ref: topic }),
    );
    assert.equal(subscription?.Properties?.Protocol, 'sqs', `${topic} delivers to the queue`);
  }
  for (const secret of ['ClusterKeysSecret', 'ApiTokensSecret']) {
    assert.equal(template.Resources[secret]?.Type, 'AWS::SecretsManager::Secret');
  }
});

// ---- IAM: what the code calls, what the roles allow ----------------------------------------

const SERVICES: Record<string, string> = {
  '@aws-sdk/client-dynamodb': 'dynamodb',
  '@aws-sdk/lib-dynamodb': 'dynamodb',
  '@aws-sdk/client-sqs': 'sqs',
  '@aws-sdk/client-sns': 'sns',
  '@aws-sdk/client-auto-scaling': 'autoscaling',
  '@aws-sdk/client-secrets-manager': 'secretsmanager',
  '@aws-sdk/client-s3': 's3',
  '@aws-sdk/client-ec2': 'ec2',
  '@aws-sdk/client-ssm': 'ssm',
  '@aws-sdk/client-cloudwatch': 'cloudwatch',
  '@aws-sdk/client-iam': 'iam',
  '@aws-sdk/client-elastic-load-balancing': 'elasticloadbalancing',
  '@aws-sdk/client-route-53': 'route53',
};

/** The document client's commands are named after what they wrap. */
const DOCUMENT_CLIENT: Record<string, string> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  Query: 'Query',
  Scan: 'Scan',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactGet: 'TransactGetItems',
  TransactWrite: 'TransactWriteItems',
};

interface Call {
  action: string;
  file: string;
}

async function sourceFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const files = await Promise.all(
    entries.map((entry) => {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) return sourceFiles(path);
      return Promise.resolve(entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []);
    }),
  );
  return files.flat();
}

/** Every `new XxxCommand(` in a package's sources, as the IAM action it needs. */
async function awsCalls(pkg: string): Promise<Call[]> {
  const calls: Call[] = [];
  for (const file of await sourceFiles(join(ROOT, 'packages', pkg, 'src'))) {
    const text = await readFile(file, 'utf8');
    const origin = new Map<string, string>();
    for (const match of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(@aws-sdk\/[^']+)'/g)) {
      for (const item of match[1]!.split(',')) {
        const [imported, local] = item
          .replace(/\btype\b/, '')
          .trim()
          .split(/\s+as\s+/);
        if (imported) origin.set((local ?? imported).trim(), `${match[2]}#${imported.trim()}`);
      }
    }
    for (const match of text.matchAll(/new\s+(\w+Command)\s*\(/g)) {
      const source = origin.get(match[1]!);
      if (source === undefined) continue; // not an AWS SDK command
      const [module, imported] = source.split('#') as [string, string];
      const service = SERVICES[module];
      assert.ok(service, `${file}: ${module} needs an entry in this test's service map`);
      const operation = imported.replace(/Command$/, '');
      const action = module === '@aws-sdk/lib-dynamodb' ? DOCUMENT_CLIENT[operation] : operation;
      assert.ok(action, `${file}: ${imported} needs an entry in this test's document-client map`);
      calls.push({ action: `${service}:${action}`, file: file.slice(ROOT.length) });
    }
  }
  return calls;
}

interface Statement {
  role: string;
  actions: string[];
  resources: Json[];
}

function policyStatements(template: Template): Statement[] {
  const statements: Statement[] = [];
  for (const [name, resource] of Object.entries(template.Resources)) {
    const documents: Json[] = [];
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of (resource.Properties?.Policies ?? []) as JsonObject[])
        documents.push(policy.PolicyDocument!);
    }
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      documents.push(resource.Properties?.PolicyDocument ?? null);
    }
    if (resource.Type === 'AWS::SQS::QueuePolicy' || resource.Type === 'AWS::SNS::TopicPolicy') {
      documents.push(resource.Properties?.PolicyDocument ?? null);
    }
    for (const document of documents) {
      // A statement or a resource under a condition counts as if the condition held.
      for (const statement of (((document as JsonObject).Statement ?? []) as Json[]).map(whenTrue) as JsonObject[]) {
        if (statement.Effect !== 'Allow') continue;
        statements.push({
          role: name,
          actions: [statement.Action ?? []].flat() as string[],
          resources: [statement.Resource ?? []].flat().map(whenTrue),
        });
      }
    }
  }
  return statements;
}

/** `Fn::If [condition, then, else]` as its `then`. */
function whenTrue(value: Json): Json {
  return isObject(value) && Array.isArray(value['Fn::If']) ? (value['Fn::If'][1] ?? null) : value;
}

const allowed = (statements: Statement[], role: string) =>
  new Set(statements.filter((s) => s.role === role).flatMap((s) => s.actions));

/** The calls the reactor makes (issue 8): required even before its code lands. */
const REACTOR_CALLS = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
  'autoscaling:CompleteLifecycleAction',
  'autoscaling:RecordLifecycleActionHeartbeat',
  'autoscaling:DescribeAutoScalingInstances',
];

/**
 * Store calls made only by createTables(), which the devstack runs; on AWS CloudFormation owns the
 * tables. Checked below: masters and minions never call it.
 */
const TABLE_ADMINISTRATION = [
  'dynamodb:CreateTable',
  'dynamodb:DescribeTable',
  'dynamodb:DescribeTimeToLive',
  'dynamodb:UpdateTimeToLive',
];

test('the master role allows every AWS call of phoenix-master and the store, and the reactor', async () => {
  const cluster = await loadTemplate(CLUSTER);
  const statements = policyStatements(cluster);
  const master = allowed(statements, 'MasterRole');
  const calls = [...(await awsCalls('master')), ...(await awsCalls('store'))].filter(
    (call) => !TABLE_ADMINISTRATION.includes(call.action),
  );
  assert.ok(
    calls.some((c) => c.action === 'dynamodb:PutItem'),
    'the scan finds the store calls',
  );
  const missing = [...new Set([...calls.map((c) => c.action), ...REACTOR_CALLS])].filter((a) => !master.has(a));
  assert.deepEqual(missing, [], `MasterRole lacks: ${missing.join(', ')} (${calls.map((c) => c.file).join(', ')})`);
  const needed = new Set([
    ...calls.map((c) => c.action),
    ...REACTOR_CALLS,
    'secretsmanager:GetSecretValue',
    's3:GetObject',
  ]);
  const unused = [...master].filter((action) => !needed.has(action));
  assert.deepEqual(unused, [], 'MasterRole allows nothing the code does not call');

  for (const pkg of ['master', 'minion']) {
    for (const file of await sourceFiles(join(ROOT, 'packages', pkg, 'src'))) {
      assert.doesNotMatch(await readFile(file, 'utf8'), /createTables\s*\(/, `${file}: CloudFormation owns the tables`);
    }
  }
});

test('the minion role reads the masters table and nothing else', async () => {
  const cluster = await loadTemplate(CLUSTER);
  const statements = policyStatements(cluster).filter((s) => s.role === 'MinionRole');
  // The boto_* states act with the credentials of the profile an SLS names, granted by the
  // operator from the calls docs/aws-states.md lists for each module: not by every minion's role.
  const all = await awsCalls('minion');
  const awsStates = all.filter((c) => /\/state\/functions\/(boto|aws)-/.test(c.file));
  const minionCalls = all.filter((c) => !awsStates.includes(c));
  assert.ok(awsStates.length > 0, 'the AWS states are found');
  const documented = await readFile(join(ROOT, 'docs', 'aws-states.md'), 'utf8');
  for (const call of awsStates) {
    const operation = call.action.split(':')[1] ?? '';
    assert.ok(documented.includes(`\`${operation}\``), `docs/aws-states.md lists ${operation} (${call.file})`);
  }
  const granted = new Set(statements.flatMap((s) => s.actions));
  for (const call of minionCalls)
    assert.ok(granted.has(call.action), `MinionRole allows ${call.action} (${call.file})`);
  // The minion reaches DynamoDB only through the store's masters table (MastersTable: get, list).
  for (const file of await sourceFiles(join(ROOT, 'packages', 'minion', 'src'))) {
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/new Store\([^)]*\)(\.\w+)?/g)) {
      assert.equal(match[1], '.masters', `${file}: a minion uses only the masters table`);
    }
  }
  const dynamo = statements.filter((s) => s.actions.some((a) => a.startsWith('dynamodb:')));
  assert.deepEqual(dynamo.flatMap((s) => s.actions).sort(), ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan']);
  assert.deepEqual(
    dynamo.flatMap((s) => s.resources),
    [{ 'Fn::ImportValue': { 'Fn::Sub': '${StaticStackName}-MastersTableArn' } }],
  );
  assert.deepEqual(
    [...granted].filter((a) => !a.startsWith('dynamodb:')),
    ['s3:GetObject'],
    'besides the table, only the release download',
  );
});

const READ = /^(Get|Describe|List|Query|Scan|BatchGet|Receive)/;
/** An Auto Scaling group's ARN holds its id, unknown before it exists; its name pins it. */
const GROUP_ARN =
  /^arn:\$\{AWS::Partition\}:autoscaling:\$\{AWS::Region\}:\$\{AWS::AccountId\}:autoScalingGroup:\*:autoScalingGroupName\/[^*]+$/;

test("the masters may read the git repositories' secrets, exactly those", async () => {
  const cluster = await loadTemplate(CLUSTER);
  const statement = policyStatements(cluster).find((s) => s.actions.includes('ssm:GetParameter'));
  assert.equal(statement?.role, 'MasterRole');
  assert.deepEqual(statement?.actions, ['secretsmanager:GetSecretValue', 'ssm:GetParameter']);
  assert.deepEqual(statement?.resources, [{ Ref: 'StatesRepositorySecretArn' }, { Ref: 'PillarRepositorySecretArn' }]);
});

test('no write action is granted on a wildcard resource', async () => {
  for (const path of [STATIC, CLUSTER]) {
    const template = await loadTemplate(path);
    for (const statement of policyStatements(template)) {
      const writes = statement.actions.filter((action) => !READ.test(action.split(':')[1] ?? ''));
      if (writes.length === 0) continue;
      for (const action of writes) assert.doesNotMatch(action, /\*/, `${statement.role}: ${action} is no wildcard`);
      for (const resource of statement.resources) {
        const text =
          typeof resource === 'string'
            ? resource
            : isObject(resource) && typeof resource['Fn::Sub'] === 'string'
              ? resource['Fn::Sub']
              : '';
        if (!text.includes('*')) continue;
        assert.match(text, GROUP_ARN, `${statement.role}: ${writes.join(', ')} on ${text}`);
      }
    }
  }
});

test('the lifecycle actions are scoped to exactly the two groups the stack creates', async () => {
  const cluster = await loadTemplate(CLUSTER);
  const context = clusterContext(cluster, staticExports(await loadTemplate(STATIC)));
  const groups = resourcesOfType(cluster, 'AWS::AutoScaling::AutoScalingGroup').map(([, group]) =>
    evaluate(group.Properties?.AutoScalingGroupName, context),
  );
  assert.deepEqual(groups.sort(), [`${CLUSTER_STACK}-masters`, `web-prod-${REGION}`]);
  const statement = policyStatements(cluster).find((s) => s.actions.includes('autoscaling:CompleteLifecycleAction'));
  const arns = (statement?.resources ?? []).map((r) => evaluate(r, context)).sort();
  assert.deepEqual(
    arns,
    groups.map((g) => `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/${g}`).sort(),
  );
});

// ---- network, groups, region ----------------------------------------------------------------

test('security groups: minion ports only from minions, peer port only between masters, API only from AdminCidr', async () => {
  const cluster = await loadTemplate(CLUSTER);
  const masterSchema = await masterConfigSchema();
  const { ports } = masterSchema.parse({ pkiDir: '/etc/phoenix/pki' }) as { ports: Record<string, number> };
  const rules: Array<{ group: string; from: number; to: number; source: string }> = [];
  const sourceOf = (rule: JsonObject) =>
    rule.CidrIp !== undefined ? JSON.stringify(rule.CidrIp) : JSON.stringify(rule.SourceSecurityGroupId);
  for (const [name, resource] of Object.entries(cluster.Resources)) {
    if (resource.Type === 'AWS::EC2::SecurityGroup') {
      const ingress = resource.Properties?.SecurityGroupIngress;
      walk(ingress ?? null, (rule) => {
        if (rule.IpProtocol !== undefined) {
          rules.push({ group: name, from: Number(rule.FromPort), to: Number(rule.ToPort), source: sourceOf(rule) });
        }
      });
    }
    if (resource.Type === 'AWS::EC2::SecurityGroupIngress') {
      const rule = resource.Properties ?? {};
      const group = ((rule.GroupId as JsonObject)['Fn::GetAtt'] as string[])[0]!;
      rules.push({ group, from: Number(rule.FromPort), to: Number(rule.ToPort), source: sourceOf(rule) });
    }
  }
  const admin = JSON.stringify({ Ref: 'AdminCidr' });
  const minions = JSON.stringify({ 'Fn::GetAtt': ['MinionSecurityGroup', 'GroupId'] });
  const masters = JSON.stringify({ 'Fn::GetAtt': ['MasterSecurityGroup', 'GroupId'] });
  const reaching = (group: string, port: number) =>
    rules.filter((r) => r.group === group && r.from <= port && port <= r.to).map((r) => r.source);
  assert.deepEqual(reaching('MasterSecurityGroup', ports.enrol!), [minions]);
  assert.deepEqual(reaching('MasterSecurityGroup', ports.minion!), [minions]);
  assert.deepEqual(reaching('MasterSecurityGroup', ports.peer!), [masters]);
  assert.deepEqual(reaching('MasterSecurityGroup', ports.api!), [admin]);
  // Everything else (SSH, only with a key pair) comes from the admin network too.
  for (const rule of rules.filter((r) => ![minions, masters].includes(r.source))) assert.equal(rule.source, admin);
  for (const rule of rules.filter((r) => r.group === 'MinionSecurityGroup')) assert.equal(rule.from, 22);
});

test('both groups hold instances with LAUNCHING and TERMINATING hooks on the queue and notify their topic', async () => {
  const cluster = await loadTemplate(CLUSTER);
  const queue = { 'Fn::ImportValue': { 'Fn::Sub': '${StaticStackName}-LifecycleQueueArn' } };
  const role = { 'Fn::ImportValue': { 'Fn::Sub': '${StaticStackName}-LifecycleHookRoleArn' } };
  const topics: Record<string, string> = { MasterGroup: 'MastersTopicArn', MinionGroup: 'MinionsTopicArn' };
  for (const [name, group] of resourcesOfType(cluster, 'AWS::AutoScaling::AutoScalingGroup')) {
    const properties = group.Properties ?? {};
    const hooks = properties.LifecycleHookSpecificationList as JsonObject[];
    assert.deepEqual(hooks.map((h) => h.LifecycleTransition).sort(), [
      'autoscaling:EC2_INSTANCE_LAUNCHING',
      'autoscaling:EC2_INSTANCE_TERMINATING',
    ]);
    for (const hook of hooks) {
      assert.deepEqual(
        hook.NotificationTargetARN,
        queue,
        `${name} ${String(hook.LifecycleHookName)} targets the queue`,
      );
      assert.deepEqual(hook.RoleARN, role);
    }
    const [notification] = properties.NotificationConfigurations as JsonObject[];
    assert.deepEqual(notification?.TopicARN, {
      'Fn::ImportValue': { 'Fn::Sub': `\${StaticStackName}-${topics[name]}` },
    });
    assert.ok((notification?.NotificationTypes as string[]).includes('autoscaling:EC2_INSTANCE_LAUNCH'));
    assert.ok((notification?.NotificationTypes as string[]).includes('autoscaling:EC2_INSTANCE_TERMINATE'));
    assert.deepEqual(properties.VPCZoneIdentifier, { Ref: 'SubnetIds' });
  }
  const minionLaunch = (cluster.Resources.MinionGroup?.Properties?.LifecycleHookSpecificationList as JsonObject[]).find(
    (h) => h.LifecycleTransition === 'autoscaling:EC2_INSTANCE_LAUNCHING',
  );
  assert.equal(minionLaunch?.DefaultResult, 'ABANDON', 'an unconfigured minion never goes into service');
});

test("the masters span the subnets' zones and outlive the loss of one: at least two, replaced in the zones left", async () => {
  const cluster = await loadTemplate(CLUSTER);
  assert.equal(cluster.Parameters?.MasterCount?.MinValue, 2, 'a lost zone leaves a master');
  for (const name of ['MasterGroup', 'MinionGroup']) {
    const properties = cluster.Resources[name]?.Properties ?? {};
    assert.deepEqual(properties.VPCZoneIdentifier, { Ref: 'SubnetIds' }, `${name} spans every subnet's zone`);
    assert.deepEqual(
      properties.AvailabilityZoneDistribution,
      { CapacityDistributionStrategy: 'balanced-best-effort' },
      `${name} launches in the other zones when one cannot`,
    );
    assert.deepEqual(properties.AvailabilityZoneImpairmentPolicy, {
      ZonalShiftEnabled: true,
      ImpairedZoneHealthCheckBehavior: 'ReplaceUnhealthy',
    });
  }
  assert.deepEqual(cluster.Resources.MasterGroup?.Properties?.MinSize, { Ref: 'MasterCount' });
  const rule = JSON.stringify((cluster as unknown as { Rules?: Json }).Rules ?? {});
  assert.match(
    rule,
    /Fn::EachMemberEquals.*Fn::ValueOfAll.*AWS::EC2::Subnet::Id.*VpcId/,
    'the subnets are checked to be in the VPC',
  );
  const docs = await readFile(join(ROOT, 'docs', 'deploy-aws.md'), 'utf8');
  assert.match(docs, /## Losing an Availability Zone/, 'the deployment guide says what happens when a zone goes');
});

test('the templates are region-aware: no Region, zone or partition is written into them', async () => {
  for (const path of [STATIC, CLUSTER]) {
    const text = await readFile(path, 'utf8');
    assert.doesNotMatch(
      text,
      /\b(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-(?:gov-)?[a-z]+-\d[a-z]?\b/,
      `${path}: no region or zone`,
    );
    assert.doesNotMatch(text, /arn:aws:/, `${path}: ARNs use \${AWS::Partition}`);
  }
  const cluster = await loadTemplate(CLUSTER);
  assert.equal(cluster.Parameters?.SubnetIds?.Type, 'List<AWS::EC2::Subnet::Id>');
  assert.equal(cluster.Parameters?.ImageId?.Type, 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
});

// ---- a real validator, where one is installed ----------------------------------------------

test('cfn-lint (AWS CloudFormation Linter) finds nothing in either template', (t) => {
  const candidates: Array<[string, string[]]> = [
    ['cfn-lint', []],
    ['python3', ['-m', 'cfnlint']],
  ];
  for (const [command, prefix] of candidates) {
    const version = spawnSync(command, [...prefix, '--version'], { encoding: 'utf8', timeout: 60_000 });
    if (version.status !== 0) continue;
    const result = spawnSync(command, [...prefix, '--', STATIC, CLUSTER], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(result.status, 0, `${command} ${prefix.join(' ')} reports:\n${result.stdout}${result.stderr}`);
    return;
  }
  t.skip('cfn-lint is not installed (pip install cfn-lint): the structural checks above still ran');
});

// ---- user data → phoenix-bootstrap → configs the programs accept -----------------------------

interface MasterSchema {
  parse(value: unknown): unknown;
  safeParse(value: unknown): { success: boolean; error?: { message: string }; data?: unknown };
}

/** The master's own schema, loaded at run time (the test project does not reference the master's types). */
async function masterConfigSchema(): Promise<MasterSchema> {
  const specifier = '@phoenix/master';
  const master = (await import(specifier)) as { MasterConfigSchema: MasterSchema };
  return master.MasterConfigSchema;
}

interface FakeInstance {
  instanceId: string;
  privateIp: string;
  group?: string;
}

/** An IMDSv2 metadata service on loopback: token first, then the instance's facts. */
async function fakeMetadataService(instance: FakeInstance): Promise<{ url: string; server: Server; document: string }> {
  const token = randomBytes(16).toString('hex');
  const document = JSON.stringify(
    {
      accountId: ACCOUNT,
      architecture: 'x86_64',
      availabilityZone: `${REGION}a`,
      imageId: 'ami-0123456789abcdef0',
      instanceId: instance.instanceId,
      instanceType: 't3.small',
      pendingTime: '2026-11-24T12:00:00Z',
      privateIp: instance.privateIp,
      region: REGION,
      version: '2017-09-30',
    },
    null,
    2,
  );
  const paths: Record<string, string | undefined> = {
    '/latest/meta-data/instance-id': instance.instanceId,
    '/latest/meta-data/local-ipv4': instance.privateIp,
    '/latest/dynamic/instance-identity/document': document,
    '/latest/dynamic/instance-identity/signature': randomBytes(256)
      .toString('base64')
      .replace(/(.{64})/g, '$1\n'),
    '/latest/meta-data/tags/instance/aws:autoscaling:groupName': instance.group,
  };
  const server = createServer((request, response) => {
    if (request.method === 'PUT' && request.url === '/latest/api/token') {
      response.end(token);
      return;
    }
    if (request.headers['x-aws-ec2-metadata-token'] !== token) {
      response.statusCode = 401;
      response.end();
      return;
    }
    const body = paths[request.url ?? ''];
    response.statusCode = body === undefined ? 404 : 200;
    response.end(body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, document };
}

/** `aws secretsmanager get-secret-value … --query SecretString` answered from a map, calls logged. */
async function fakeAwsCli(home: string, secrets: Record<string, string>): Promise<string> {
  const path = join(home, 'aws');
  await writeFile(join(home, 'secrets.json'), JSON.stringify(secrets));
  await writeFile(
    path,
    `#!${process.execPath}
const { appendFileSync, readFileSync } = require('node:fs');
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(join(home, 'aws.log'))}, JSON.stringify(args) + '\\n');
const secrets = JSON.parse(readFileSync(${JSON.stringify(join(home, 'secrets.json'))}, 'utf8'));
const id = args[args.indexOf('--secret-id') + 1];
if (args[0] !== 'secretsmanager' || args[1] !== 'get-secret-value' || !(id in secrets)) {
  process.stderr.write('An error occurred (ResourceNotFoundException)\\n');
  process.exit(254);
}
process.stdout.write(JSON.stringify(secrets[id]) + '\\n');
`,
  );
  await chmod(path, 0o755);
  return path;
}

/** systemctl that only records what it was asked to do. */
async function fakeSystemctl(home: string): Promise<{ path: string; calls: () => Promise<string[]> }> {
  const path = join(home, 'systemctl');
  const log = join(home, 'systemctl.log');
  await writeFile(path, `#!/bin/sh\necho "$*" >> '${log}'\n`);
  await chmod(path, 0o755);
  return { path, calls: async () => (await readFile(log, 'utf8')).trim().split('\n') };
}

/**
 * The launch template's user data, evaluated for eu-west-1, with the steps that need the internet
 * (installing Node.js and downloading the release) left out: what remains runs phoenix-bootstrap
 * exactly as the instance would, into a scratch root instead of /.
 */
function runnableUserData(userData: string): string {
  const lines = userData.split('\n');
  const dropped = [
    'exec >>/var/log/phoenix-bootstrap.log 2>&1',
    'install_node',
    'install_release',
    'command -v xz >/dev/null || dnf install -y xz',
  ];
  for (const line of dropped) assert.ok(lines.includes(line), `the user data has the line \`${line}\``);
  const bootstrap = '/usr/local/bin/node /opt/phoenix/current/deploy/bootstrap/phoenix-bootstrap.mjs';
  assert.ok(userData.includes(bootstrap), 'the user data runs phoenix-bootstrap from the release');
  return lines
    .filter((line) => !dropped.includes(line))
    .join('\n')
    .replace(bootstrap, '"$PHOENIX_TEST_NODE" "$PHOENIX_TEST_BOOTSTRAP"');
}

function runBash(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'bash',
      ['-s'],
      { env: { ...process.env, ...env }, timeout: 60_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, output: stdout + stderr }),
    );
    child.stdin?.end(script);
  });
}

async function launchTemplateUserData(name: string): Promise<{ userData: string; context: Context }> {
  const cluster = await loadTemplate(CLUSTER);
  const context = clusterContext(cluster, staticExports(await loadTemplate(STATIC)));
  const data = cluster.Resources[name]?.Properties?.LaunchTemplateData as JsonObject;
  const userData = evaluate(data.UserData, context);
  return { userData, context };
}

test('the user data is valid bash, fits EC2 limits and leaves no ${…} unresolved', async () => {
  for (const name of ['MasterLaunchTemplate', 'MinionLaunchTemplate']) {
    const { userData, context } = await launchTemplateUserData(name);
    assert.ok(userData.startsWith('#!/bin/bash\n'));
    assert.ok(Buffer.byteLength(userData) < 16 * 1024, 'EC2 takes at most 16 KB of user data');
    const syntax = spawnSync('bash', ['-n'], { input: userData, encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
    // A substituted value may hold `${` itself (a Z85 key does now and then): only the script's own
    // text is checked.
    const script = Object.values(context.values).reduce((text, value) => text.split(value).join('<value>'), userData);
    assert.doesNotMatch(script, /\$\{/, 'bash variables are written $NAME: ${…} belongs to Fn::Sub');
    assert.match(userData, /sha256sum --check/, 'Node.js is checked against its published checksums');
  }
});

test('a master launched from the template writes a master config its schema accepts', async () => {
  const { userData, context } = await launchTemplateUserData('MasterLaunchTemplate');
  const home = join(dir(), 'master-host');
  const root = join(home, 'root');
  await mkdir(root, { recursive: true });
  const adminToken = randomBytes(24).toString('hex');
  const exportsByName = context.imports;
  const secretArn = (name: string) => exportsByName[`${STATIC_STACK}-${name}`]!;
  const aws = await fakeAwsCli(home, {
    [secretArn('ClusterKeysSecretArn')]: JSON.stringify(clusterKeys),
    [secretArn('ApiTokensSecretArn')]: JSON.stringify({ name: 'admin', role: 'admin', token: adminToken }),
  });
  const systemctl = await fakeSystemctl(home);
  const imds = await fakeMetadataService({ instanceId: 'i-0abc1234def567890', privateIp: '10.0.1.23' });
  try {
    const env = {
      PHOENIX_TEST_NODE: process.execPath,
      PHOENIX_TEST_BOOTSTRAP: BOOTSTRAP,
      PHOENIX_BOOTSTRAP_ROOT: root,
      PHOENIX_BOOTSTRAP_IMDS: imds.url,
      PHOENIX_BOOTSTRAP_AWS: aws,
      PHOENIX_BOOTSTRAP_SYSTEMCTL: systemctl.path,
    };
    const run = await runBash(runnableUserData(userData), env);
    assert.equal(run.code, 0, run.output);
    assert.deepEqual(await systemctl.calls(), ['daemon-reload', 'enable --now phoenix-master.service']);

    const text = await readFile(join(root, 'etc/phoenix/master.yaml'), 'utf8');
    const parsed = (await masterConfigSchema()).safeParse(parse(text));
    assert.ok(parsed.success, `the master's schema accepts the config: ${parsed.error?.message}\n${text}`);
    const config = parsed.data as {
      id: string;
      advertise: string;
      aws: { region: string; endpoints: object };
      tablePrefix: string;
      pkiDir: string;
      api: { tokens: Array<{ sha256: string; role: string }> };
      reactor: { queueUrl: string; groups: Record<string, { role: string }>; attestation: Record<string, unknown> };
      drainTimeoutMs: number;
    };
    assert.equal(config.id, 'i-0abc1234def567890');
    assert.equal(config.advertise, '10.0.1.23');
    // Each master completes its own launch, by the hook's name in the cluster template.
    const masterLaunch = (
      (await loadTemplate(CLUSTER)).Resources.MasterGroup?.Properties?.LifecycleHookSpecificationList as JsonObject[]
    ).find((h) => h.LifecycleTransition === 'autoscaling:EC2_INSTANCE_LAUNCHING');
    const mastersGroup = Object.values(config.reactor.groups).find((g) => g.role === 'masters') as
      { launchingHook?: string } | undefined;
    assert.equal(mastersGroup?.launchingHook, masterLaunch?.LifecycleHookName);
    assert.deepEqual(config.aws, { region: REGION, endpoints: {} }, 'on AWS only the region');
    assert.equal(config.tablePrefix, 'phoenix');
    // The states and pillar repositories, their secrets by reference (a token for HTTPS, a key for SSH).
    assert.deepEqual((config as unknown as { fileRoots: unknown }).fileRoots, {
      base: [
        {
          git: 'https://git.example.com/ops/states.git',
          auth: {
            token: { secretsManager: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:phoenix/states-token-AbCdEf` },
            username: 'x-access-token',
          },
        },
      ],
    });
    assert.deepEqual((config as unknown as { pillarRoots: unknown }).pillarRoots, {
      base: [
        {
          git: 'git@git.example.com:ops/pillar-prod.git',
          ref: 'release',
          auth: {
            sshKey: { ssm: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/phoenix/pillar-deploy-key` },
            username: 'x-access-token',
          },
        },
      ],
    });
    assert.deepEqual(config.api.tokens, [
      { name: 'admin', role: 'admin', sha256: createHash('sha256').update(adminToken).digest('hex') },
    ]);
    assert.doesNotMatch(text, new RegExp(adminToken), 'the token itself is never written');
    assert.equal(config.reactor.queueUrl, secretArn('LifecycleQueueUrl'));
    assert.deepEqual(config.reactor.groups, {
      [`${CLUSTER_STACK}-masters`]: {
        role: 'masters',
        onHighstateFailure: 'ABANDON',
        warmPoolHighstate: false,
        launchingHook: 'phoenix-master-launching',
      },
      [`web-prod-${REGION}`]: { role: 'minions', onHighstateFailure: 'ABANDON', warmPoolHighstate: false },
    });
    assert.deepEqual(config.reactor.attestation, {
      enabled: true,
      certificate: '/etc/phoenix/identity-certificate.pem',
      accountId: ACCOUNT,
      region: REGION,
      maxDocumentAgeSeconds: 900,
      contestWindowMs: 1000,
    });
    assert.equal(
      await readFile(join(root, 'etc/phoenix/identity-certificate.pem'), 'utf8'),
      `${IDENTITY_CERTIFICATE}\n`,
      'the certificate gets its line breaks back',
    );
    const pki = join(root, config.pkiDir);
    assert.equal((await readFile(join(pki, 'cluster.key'), 'utf8')).trim(), clusterKeys.secretKey);
    assert.equal((await readFile(join(pki, 'cluster.pub'), 'utf8')).trim(), clusterKeys.publicKey);
    assert.equal((await stat(join(pki, 'cluster.key'))).mode & 0o777, 0o640);
    assert.equal((await stat(join(root, 'etc/phoenix/master.yaml'))).mode & 0o777, 0o640);

    // The unit it enabled stops the master only after its drain has had time to finish.
    const unit = await readFile(join(root, 'etc/systemd/system/phoenix-master.service'), 'utf8');
    assert.equal(unit, await readFile(join(UNITS, 'phoenix-master.service'), 'utf8'));
    const stopSeconds = Number(/^TimeoutStopSec=(\d+)s$/m.exec(unit)?.[1]);
    assert.ok(stopSeconds * 1000 >= config.drainTimeoutMs + 15_000, `TimeoutStopSec ${stopSeconds}s > drain`);
    assert.match(unit, /^KillSignal=SIGTERM$/m);

    const calls = (await readFile(join(home, 'aws.log'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string[]);
    assert.equal(calls.length, 2);
    for (const call of calls) assert.equal(call[call.indexOf('--region') + 1], REGION);
  } finally {
    imds.server.close();
  }
});

test('a master refuses to start on an empty cluster key secret, saying how to fill it', async () => {
  const home = join(dir(), 'master-no-keys');
  await mkdir(home, { recursive: true });
  const aws = await fakeAwsCli(home, {
    keys: '{"publicKey": "", "secretKey": ""}',
    tokens: JSON.stringify({ name: 'admin', role: 'admin', token: randomBytes(24).toString('hex') }),
  });
  const imds = await fakeMetadataService({ instanceId: 'i-0abc1234def567891', privateIp: '10.0.1.24' });
  try {
    const run = await runBash(
      `"$PHOENIX_TEST_NODE" "$PHOENIX_TEST_BOOTSTRAP" master --region ${REGION} --table-prefix phoenix \\
        --cluster-keys-secret keys --api-tokens-secret tokens --queue-url https://sqs.example/q \\
        --master-group m --minion-group n --no-start`,
      {
        PHOENIX_TEST_NODE: process.execPath,
        PHOENIX_TEST_BOOTSTRAP: BOOTSTRAP,
        PHOENIX_BOOTSTRAP_ROOT: join(home, 'root'),
        PHOENIX_BOOTSTRAP_IMDS: imds.url,
        PHOENIX_BOOTSTRAP_AWS: aws,
      },
    );
    assert.equal(run.code, 1, run.output);
    assert.match(run.output, /phoenix keys init-cluster/);
    assert.match(run.output, /put-secret-value/);
  } finally {
    imds.server.close();
  }
});

test('a minion launched from the template writes a minion config its schema accepts', async () => {
  const { userData } = await launchTemplateUserData('MinionLaunchTemplate');
  const home = join(dir(), 'minion-host');
  const root = join(home, 'root');
  await mkdir(root, { recursive: true });
  // Minions read no secret: a call to the AWS CLI would fail.
  const aws = await fakeAwsCli(home, {});
  const systemctl = await fakeSystemctl(home);
  const imds = await fakeMetadataService({
    instanceId: 'i-0fedcba9876543210',
    privateIp: '10.0.2.7',
    group: `web-prod-${REGION}`,
  });
  try {
    const run = await runBash(runnableUserData(userData), {
      PHOENIX_TEST_NODE: process.execPath,
      PHOENIX_TEST_BOOTSTRAP: BOOTSTRAP,
      PHOENIX_BOOTSTRAP_ROOT: root,
      PHOENIX_BOOTSTRAP_IMDS: imds.url,
      PHOENIX_BOOTSTRAP_AWS: aws,
      PHOENIX_BOOTSTRAP_SYSTEMCTL: systemctl.path,
    });
    assert.equal(run.code, 0, run.output);
    assert.deepEqual(await systemctl.calls(), ['daemon-reload', 'enable --now phoenix-minion.service']);
    const text = await readFile(join(root, 'etc/phoenix/minion.yaml'), 'utf8');
    const parsed = MinionConfigSchema.safeParse(parse(text));
    assert.ok(parsed.success, `the minion's schema accepts the config: ${parsed.error?.message}\n${text}`);
    const config = parsed.data;
    assert.equal(config.id, 'i-0fedcba9876543210');
    assert.equal(config.instanceId, 'i-0fedcba9876543210');
    assert.equal(config.autoscalingGroup, `web-prod-${REGION}`);
    assert.equal(config.clusterPublicKey, clusterKeys.publicKey);
    assert.deepEqual(config.masters, [], 'the master-list manager fills them from the table');
    assert.deepEqual(config.aws, { region: REGION, endpoints: {} });
    assert.equal(config.identityDocument?.document, imds.document, 'the signed document, byte for byte');
    assert.match(config.identityDocument?.signature ?? '', /^[A-Za-z0-9+/]+=*$/);
    assert.equal((await stat(join(root, 'etc/phoenix/minion.yaml'))).mode & 0o777, 0o600);
    assert.ok((await stat(join(root, 'etc/systemd/system/phoenix-minion.service'))).isFile());
  } finally {
    imds.server.close();
  }
});

test('the Salt-mode master-list manager gets a config its command accepts, and its unit', async () => {
  const home = join(dir(), 'salt-host');
  const root = join(home, 'root');
  const imds = await fakeMetadataService({ instanceId: 'i-0123456789abcdef0', privateIp: '10.0.3.9' });
  try {
    const run = await runBash(
      `"$PHOENIX_TEST_NODE" "$PHOENIX_TEST_BOOTSTRAP" master-list --region ${REGION} --table-prefix phoenix --salt-port 4606`,
      {
        PHOENIX_TEST_NODE: process.execPath,
        PHOENIX_TEST_BOOTSTRAP: BOOTSTRAP,
        PHOENIX_BOOTSTRAP_ROOT: root,
        PHOENIX_BOOTSTRAP_IMDS: imds.url,
        PHOENIX_BOOTSTRAP_SYSTEMCTL: 'true',
      },
    );
    assert.equal(run.code, 0, run.output);
    const text = await readFile(join(root, 'etc/phoenix/master-list.yaml'), 'utf8');
    // What `phoenix-minion master-list` checks: the agent's schema without the agent-only keys.
    const schema = MinionConfigSchema.partial({ clusterPublicKey: true, pkiDir: true, cacheDir: true });
    const parsed = schema.safeParse(parse(text));
    assert.ok(parsed.success, `${parsed.error?.message}\n${text}`);
    assert.equal(parsed.data.masterList.mode, 'salt');
    assert.equal(parsed.data.masterList.salt.port, 4606);
    const unit = await readFile(join(root, 'etc/systemd/system/phoenix-master-list.service'), 'utf8');
    assert.match(
      unit,
      /^ExecStart=\/opt\/phoenix\/current\/bin\/phoenix-minion master-list --watch --config \/etc\/phoenix\/master-list.yaml$/m,
    );
  } finally {
    imds.server.close();
  }
});
