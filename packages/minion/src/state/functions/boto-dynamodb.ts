import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTagsOfResourceCommand,
  ResourceNotFoundException,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { AttributeDefinition, KeySchemaElement, TableDescription } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { systemClock, type Clock } from '@phoenix/protocol';
import { connectionArgs } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { AwsStateFailure, awsErrorCode, converge, remove, runAwsState, stepIf, tagDiff } from './aws-state.js';
import type { Step } from './aws-state.js';
import { defineState } from './types.js';
import type { StateModule } from './types.js';

const DataType = z.enum(['S', 'N', 'B']);
const Capacity = z.int().min(1).max(40_000);
const Index = z.strictObject({
  name: z.string().min(3).max(255),
  hash_key: z.string().min(1),
  hash_key_data_type: DataType.default('S'),
  range_key: z.string().min(1).optional(),
  range_key_data_type: DataType.default('S'),
  projection: z.enum(['ALL', 'KEYS_ONLY']).default('ALL'),
  read_capacity_units: Capacity.optional(),
  write_capacity_units: Capacity.optional(),
});
type IndexArgs = z.output<typeof Index>;

const Present = z
  .strictObject({
    name: z.string().min(1),
    hash_key: z.string().min(1),
    hash_key_data_type: DataType.default('S'),
    range_key: z.string().min(1).optional(),
    range_key_data_type: DataType.default('S'),
    billing_mode: z.enum(['PROVISIONED', 'PAY_PER_REQUEST']).optional(),
    read_capacity_units: Capacity.optional(),
    write_capacity_units: Capacity.optional(),
    global_indexes: z.array(Index).max(20).optional(),
    local_indexes: z.array(Index).max(5).optional(),
    /** The attribute DynamoDB expires items by; `null` turns TTL off. Unmanaged when absent. */
    ttl_attribute: z.string().min(1).nullable().optional(),
    tags: z.record(z.string().min(1), z.union([z.string(), z.number()]).transform(String)).optional(),
    ...connectionArgs,
  })
  .transform((args) => ({
    ...args,
    // Salt's states always give capacity; without it the table is on-demand.
    billing_mode: args.billing_mode ?? (args.read_capacity_units === undefined ? 'PAY_PER_REQUEST' : 'PROVISIONED'),
  }))
  .refine(
    (args) =>
      args.billing_mode === 'PAY_PER_REQUEST' ||
      (args.read_capacity_units !== undefined && args.write_capacity_units !== undefined),
    { message: 'billing_mode PROVISIONED needs read_capacity_units and write_capacity_units' },
  );
type PresentArgs = z.output<typeof Present>;
const Absent = z.strictObject({ name: z.string().min(1), ...connectionArgs });

/** How long a new table or index may take to become ACTIVE, asked once a second. */
const ACTIVE_WAIT_MS = 300_000;
const ACTIVE_POLL_MS = 1_000;

/**
 * Salt's boto_dynamodb.present/absent: keys, provisioned or on-demand capacity, global and local
 * indexes, TTL and tags. Keys and local indexes cannot change after creation (DynamoDB's rule): a
 * difference fails the state and changes nothing. A global index the SLS adds is created; one it
 * does not list is left alone. AWS calls: DescribeTable, DescribeTimeToLive, ListTagsOfResource
 * (describe); CreateTable, UpdateTable, UpdateTimeToLive, TagResource, UntagResource, DeleteTable.
 */
export function botoDynamodbStates(env: AwsStateEnvironment): StateModule {
  return Object.freeze({
    name: 'boto_dynamodb',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('dynamodb', args, call, env, async (aws) => {
            const ddb = new DynamoDBClient(aws.clientConfig);
            env.onClient?.(ddb);
            try {
              const what = `DynamoDB table ${args.name}`;
              const table = await describe(ddb, args.name);
              const steps: Step[] = [];
              if (table === undefined) {
                const input = createInput(args);
                steps.push({
                  key: 'table',
                  old: null,
                  new: summary(args),
                  apply: async () => {
                    const made = await ddb.send(new CreateTableCommand(input));
                    await waitActive(ddb, args.name, env.clock ?? systemClock);
                    // Tagged after creation: the local DynamoDB ignores CreateTable's Tags, AWS takes either.
                    const arn = made.TableDescription?.TableArn;
                    if (args.tags !== undefined && Object.keys(args.tags).length > 0 && arn !== undefined)
                      await ddb.send(
                        new TagResourceCommand({
                          ResourceArn: arn,
                          Tags: Object.entries(args.tags).map(([Key, Value]) => ({ Key, Value })),
                        }),
                      );
                  },
                });
                if (args.ttl_attribute !== undefined && args.ttl_attribute !== null) {
                  const attribute = args.ttl_attribute;
                  steps.push({
                    key: 'ttl',
                    old: null,
                    new: attribute,
                    apply: () =>
                      ddb.send(
                        new UpdateTimeToLiveCommand({
                          TableName: args.name,
                          TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
                        }),
                      ),
                  });
                }
                return converge(steps, { what, test: aws.test, secrets: aws.connection.secrets, creating: true });
              }
              const keys = keySchema(args.hash_key, args.range_key);
              if (JSON.stringify(table.KeySchema ?? []) !== JSON.stringify(keys))
                throw new AwsStateFailure(
                  `${what} has the keys ${describeKeys(table.KeySchema)}, not ${describeKeys(keys)}; DynamoDB cannot change a table's keys`,
                );
              const currentMode = table.BillingModeSummary?.BillingMode ?? 'PROVISIONED';
              const currentCapacity =
                currentMode === 'PROVISIONED'
                  ? {
                      read: table.ProvisionedThroughput?.ReadCapacityUnits,
                      write: table.ProvisionedThroughput?.WriteCapacityUnits,
                    }
                  : undefined;
              const desiredCapacity =
                args.billing_mode === 'PROVISIONED'
                  ? { read: args.read_capacity_units, write: args.write_capacity_units }
                  : undefined;
              steps.push(
                ...stepIf(
                  'capacity',
                  { billing_mode: currentMode, ...(currentCapacity ?? {}) },
                  { billing_mode: args.billing_mode, ...(desiredCapacity ?? {}) },
                  () =>
                    ddb.send(
                      new UpdateTableCommand({
                        TableName: args.name,
                        BillingMode: args.billing_mode,
                        ...(desiredCapacity === undefined
                          ? {}
                          : {
                              ProvisionedThroughput: {
                                ReadCapacityUnits: desiredCapacity.read,
                                WriteCapacityUnits: desiredCapacity.write,
                              },
                            }),
                        // Leaving on-demand, every existing global index needs its own capacity (DynamoDB's rule).
                        ...(desiredCapacity === undefined || currentMode === 'PROVISIONED'
                          ? {}
                          : {
                              GlobalSecondaryIndexUpdates: (table.GlobalSecondaryIndexes ?? []).map((index) => {
                                const sls = args.global_indexes?.find((i) => i.name === index.IndexName);
                                return {
                                  Update: {
                                    IndexName: index.IndexName,
                                    ProvisionedThroughput: {
                                      ReadCapacityUnits: sls?.read_capacity_units ?? 1,
                                      WriteCapacityUnits: sls?.write_capacity_units ?? 1,
                                    },
                                  },
                                };
                              }),
                            }),
                      }),
                    ),
                ),
              );
              const existing = new Set((table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
              const added = (args.global_indexes ?? []).filter((index) => !existing.has(index.name));
              if (added.length > 0) {
                steps.push({
                  key: 'global_indexes',
                  old: [...existing],
                  new: [...existing, ...added.map((index) => index.name)],
                  apply: async () => {
                    // DynamoDB creates one global index per UpdateTable call.
                    for (const index of added) {
                      await ddb.send(
                        new UpdateTableCommand({
                          TableName: args.name,
                          AttributeDefinitions: attributeDefinitions(args),
                          GlobalSecondaryIndexUpdates: [{ Create: globalIndex(index, args.billing_mode) }],
                        }),
                      );
                      await waitActive(ddb, args.name, env.clock ?? systemClock, index.name);
                    }
                  },
                });
              }
              const locals = (table.LocalSecondaryIndexes ?? []).map((index) => index.IndexName).sort();
              const wantedLocals = (args.local_indexes ?? []).map((index) => index.name).sort();
              if (args.local_indexes !== undefined && JSON.stringify(locals) !== JSON.stringify(wantedLocals))
                throw new AwsStateFailure(
                  `${what} has the local indexes [${locals.join(', ')}], not [${wantedLocals.join(', ')}]; DynamoDB makes local indexes only with the table`,
                );
              if (args.ttl_attribute !== undefined) {
                const ttl = (await ddb.send(new DescribeTimeToLiveCommand({ TableName: args.name })))
                  .TimeToLiveDescription;
                const on = ttl?.TimeToLiveStatus === 'ENABLED' || ttl?.TimeToLiveStatus === 'ENABLING';
                const current = on ? (ttl?.AttributeName ?? null) : null;
                const desired = args.ttl_attribute;
                steps.push(
                  ...stepIf('ttl', current, desired, () =>
                    ddb.send(
                      new UpdateTimeToLiveCommand({
                        TableName: args.name,
                        TimeToLiveSpecification: {
                          AttributeName: desired ?? current ?? '',
                          Enabled: desired !== null,
                        },
                      }),
                    ),
                  ),
                );
              }
              if (args.tags !== undefined && table.TableArn !== undefined) {
                const arn = table.TableArn;
                const listed = (await ddb.send(new ListTagsOfResourceCommand({ ResourceArn: arn }))).Tags ?? [];
                const now = Object.fromEntries(listed.map((tag) => [tag.Key ?? '', tag.Value ?? '']));
                const { set, remove: gone } = tagDiff(now, args.tags);
                steps.push(
                  ...stepIf('tags', now, args.tags, async () => {
                    if (Object.keys(set).length > 0)
                      await ddb.send(
                        new TagResourceCommand({
                          ResourceArn: arn,
                          Tags: Object.entries(set).map(([Key, Value]) => ({ Key, Value })),
                        }),
                      );
                    if (gone.length > 0) await ddb.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: gone }));
                  }),
                );
              }
              return converge(steps, { what, test: aws.test, secrets: aws.connection.secrets });
            } finally {
              ddb.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('dynamodb', args, call, env, async (aws) => {
            const ddb = new DynamoDBClient(aws.clientConfig);
            env.onClient?.(ddb);
            try {
              const table = await describe(ddb, args.name);
              return remove(table !== undefined, {
                what: `DynamoDB table ${args.name}`,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'table',
                name: args.name,
                apply: () => ddb.send(new DeleteTableCommand({ TableName: args.name })),
              });
            } finally {
              ddb.destroy();
            }
          }),
      }),
    }),
  });
}

async function describe(ddb: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    return (await ddb.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (err) {
    if (err instanceof ResourceNotFoundException || awsErrorCode(err) === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

/** Until the table (and a new global index) is ACTIVE; an index DynamoDB accepted but does not list is a failure. */
async function waitActive(ddb: DynamoDBClient, name: string, clock: Clock, newIndex?: string): Promise<void> {
  const deadline = clock.now() + ACTIVE_WAIT_MS;
  for (let poll = 0; poll <= ACTIVE_WAIT_MS / ACTIVE_POLL_MS; poll++) {
    const table = await describe(ddb, name);
    const indexes = table?.GlobalSecondaryIndexes ?? [];
    if (newIndex !== undefined && !indexes.some((index) => index.IndexName === newIndex))
      throw new AwsStateFailure(
        `DynamoDB accepted the global index ${newIndex} of table ${name} but does not list it (the index was not created)`,
      );
    const indexesReady = indexes.every((index) => index.IndexStatus === 'ACTIVE');
    if (table?.TableStatus === 'ACTIVE' && indexesReady) return;
    if (clock.now() >= deadline) break;
    await new Promise<void>((resolve) => clock.setTimeout(resolve, ACTIVE_POLL_MS));
  }
  throw new AwsStateFailure(`DynamoDB table ${name} did not become ACTIVE within ${ACTIVE_WAIT_MS / 1000} s`);
}

function keySchema(hash: string, range: string | undefined): KeySchemaElement[] {
  return [
    { AttributeName: hash, KeyType: 'HASH' },
    ...(range === undefined ? [] : [{ AttributeName: range, KeyType: 'RANGE' as const }]),
  ];
}

function describeKeys(keys: readonly KeySchemaElement[] | undefined): string {
  return `(${(keys ?? []).map((key) => `${key.AttributeName} ${key.KeyType}`).join(', ')})`;
}

function attributeDefinitions(args: PresentArgs): AttributeDefinition[] {
  const types = new Map<string, string>();
  const add = (name: string | undefined, type: string) => {
    if (name !== undefined && !types.has(name)) types.set(name, type);
  };
  add(args.hash_key, args.hash_key_data_type);
  add(args.range_key, args.range_key_data_type);
  for (const index of [...(args.global_indexes ?? []), ...(args.local_indexes ?? [])]) {
    add(index.hash_key, index.hash_key_data_type);
    add(index.range_key, index.range_key_data_type);
  }
  return [...types].map(([AttributeName, AttributeType]) => ({
    AttributeName,
    AttributeType: AttributeType as AttributeDefinition['AttributeType'],
  }));
}

function globalIndex(index: IndexArgs, mode: PresentArgs['billing_mode']) {
  return {
    IndexName: index.name,
    KeySchema: keySchema(index.hash_key, index.range_key),
    Projection: { ProjectionType: index.projection },
    ...(mode === 'PROVISIONED'
      ? {
          ProvisionedThroughput: {
            ReadCapacityUnits: index.read_capacity_units ?? 1,
            WriteCapacityUnits: index.write_capacity_units ?? 1,
          },
        }
      : {}),
  };
}

function createInput(args: PresentArgs) {
  return {
    TableName: args.name,
    KeySchema: keySchema(args.hash_key, args.range_key),
    AttributeDefinitions: attributeDefinitions(args),
    BillingMode: args.billing_mode,
    ...(args.billing_mode === 'PROVISIONED'
      ? {
          ProvisionedThroughput: {
            ReadCapacityUnits: args.read_capacity_units,
            WriteCapacityUnits: args.write_capacity_units,
          },
        }
      : {}),
    ...(args.global_indexes === undefined || args.global_indexes.length === 0
      ? {}
      : { GlobalSecondaryIndexes: args.global_indexes.map((index) => globalIndex(index, args.billing_mode)) }),
    ...(args.local_indexes === undefined || args.local_indexes.length === 0
      ? {}
      : {
          LocalSecondaryIndexes: args.local_indexes.map((index) => ({
            IndexName: index.name,
            KeySchema: keySchema(args.hash_key, index.range_key ?? index.hash_key),
            Projection: { ProjectionType: index.projection },
          })),
        }),
  };
}

function summary(args: PresentArgs): Record<string, unknown> {
  return {
    keys: describeKeys(keySchema(args.hash_key, args.range_key)),
    billing_mode: args.billing_mode,
    ...(args.billing_mode === 'PROVISIONED'
      ? { read: args.read_capacity_units, write: args.write_capacity_units }
      : {}),
    ...(args.global_indexes === undefined ? {} : { global_indexes: args.global_indexes.map((i) => i.name) }),
    ...(args.local_indexes === undefined ? {} : { local_indexes: args.local_indexes.map((i) => i.name) }),
    ...(args.tags === undefined ? {} : { tags: args.tags }),
  };
}
