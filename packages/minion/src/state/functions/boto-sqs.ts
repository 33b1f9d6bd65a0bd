import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  SQSClient,
  TagQueueCommand,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { connectionArgs } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { AwsStateFailure, awsErrorCode, converge, remove, runAwsState, stepIf, tagDiff } from './aws-state.js';
import type { Step } from './aws-state.js';
import { defineState } from './types.js';
import type { StateModule } from './types.js';

/** An attribute's value as an SLS writes it: text, a number, a boolean, or (Policy, RedrivePolicy) a mapping. */
const AttributeValue = z.union([z.string(), z.number(), z.boolean(), z.record(z.string(), z.unknown())]);
const Tags = z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]).transform(String));

const Present = z.strictObject({
  name: z.string().min(1),
  attributes: z.record(z.string().min(1), AttributeValue).optional(),
  tags: Tags.optional(),
  ...connectionArgs,
});
const Absent = z.strictObject({ name: z.string().min(1), ...connectionArgs });

/** Attributes whose value is a JSON document: compared as documents, not as text. */
const JSON_ATTRIBUTES = new Set(['Policy', 'RedrivePolicy', 'RedriveAllowPolicy']);

/** SQS's own attributes, which a queue reports and an SLS cannot set. */
const READ_ONLY = new Set([
  'QueueArn',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
]);

function attributeText(value: z.output<typeof AttributeValue>): string {
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** JSON documents compare with every leaf as text: SQS answers maxReceiveCount 5 for "5". */
function sameAttribute(name: string, current: string | undefined, desired: string): boolean {
  if (current === desired) return true;
  if (current === undefined || !JSON_ATTRIBUTES.has(name)) return false;
  try {
    return isDeepStrictEqual(leavesAsText(JSON.parse(current)), leavesAsText(JSON.parse(desired)));
  } catch {
    return false;
  }
}

function leavesAsText(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(leavesAsText);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, leavesAsText(v)]));
  return String(value);
}

/**
 * Salt's boto_sqs.present/absent, with tags. AWS calls: GetQueueUrl, GetQueueAttributes,
 * ListQueueTags (describe); CreateQueue, SetQueueAttributes, TagQueue, UntagQueue, DeleteQueue.
 * A RedrivePolicy's deadLetterTargetArn may name a queue instead of its ARN (GetQueueUrl and
 * GetQueueAttributes find the ARN).
 */
export function botoSqsStates(env: AwsStateEnvironment): StateModule {
  return Object.freeze({
    name: 'boto_sqs',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('sqs', args, call, env, async (aws) => {
            const sqs = new SQSClient(aws.clientConfig);
            env.onClient?.(sqs);
            try {
              const what = `SQS queue ${args.name}`;
              const url = await queueUrl(sqs, args.name);
              const desired = await desiredAttributes(sqs, args.attributes ?? {}, aws.test);
              const tags = args.tags;
              if (url === undefined) {
                const create: Step = {
                  key: 'queue',
                  old: null,
                  new: { name: args.name, attributes: desired, ...(tags === undefined ? {} : { tags }) },
                  apply: () =>
                    sqs.send(
                      new CreateQueueCommand({
                        QueueName: args.name,
                        Attributes: desired,
                        ...(tags === undefined ? {} : { tags }),
                      }),
                    ),
                };
                return converge([create], { what, test: aws.test, secrets: aws.connection.secrets, creating: true });
              }
              const current: Readonly<Record<string, string | undefined>> =
                (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] })))
                  .Attributes ?? {};
              const differing = Object.fromEntries(
                Object.entries(desired).filter(([name, value]) => !sameAttribute(name, current[name], value)),
              );
              const steps: Step[] = [];
              if (Object.keys(differing).length > 0) {
                steps.push(
                  ...stepIf(
                    'attributes',
                    Object.fromEntries(Object.keys(differing).map((name) => [name, current[name] ?? null])),
                    differing,
                    () => sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: differing })),
                  ),
                );
              }
              if (tags !== undefined) {
                const now = (await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags ?? {};
                const { set, remove: gone } = tagDiff(now, tags);
                steps.push(
                  ...stepIf(
                    'tags',
                    now,
                    { ...Object.fromEntries(Object.entries(now).filter(([k]) => !gone.includes(k))), ...set },
                    async () => {
                      if (Object.keys(set).length > 0)
                        await sqs.send(new TagQueueCommand({ QueueUrl: url, Tags: set }));
                      if (gone.length > 0) await sqs.send(new UntagQueueCommand({ QueueUrl: url, TagKeys: gone }));
                    },
                  ),
                );
              }
              return converge(steps, { what, test: aws.test, secrets: aws.connection.secrets });
            } finally {
              sqs.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('sqs', args, call, env, async (aws) => {
            const sqs = new SQSClient(aws.clientConfig);
            env.onClient?.(sqs);
            try {
              const url = await queueUrl(sqs, args.name);
              return remove(url !== undefined, {
                what: `SQS queue ${args.name}`,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'queue',
                name: args.name,
                apply: () => sqs.send(new DeleteQueueCommand({ QueueUrl: url })),
              });
            } finally {
              sqs.destroy();
            }
          }),
      }),
    }),
  });
}

async function queueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (err) {
    if (err instanceof QueueDoesNotExist || /NonExistentQueue|QueueDoesNotExist/.test(awsErrorCode(err)))
      return undefined;
    throw err;
  }
}

/**
 * The SLS's attributes as SQS's text. A RedrivePolicy naming its dead-letter queue by name gets
 * that queue's ARN; when the queue does not exist yet and this is a prediction, the name stays.
 */
async function desiredAttributes(
  sqs: SQSClient,
  attributes: Readonly<Record<string, z.output<typeof AttributeValue>>>,
  test: boolean,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (READ_ONLY.has(name)) continue;
    if (name === 'RedrivePolicy') {
      const policy = typeof value === 'string' ? parseJson(value, name) : value;
      if (policy !== null && typeof policy === 'object' && !Array.isArray(policy)) {
        const target = (policy as Record<string, unknown>).deadLetterTargetArn;
        if (typeof target === 'string' && !target.startsWith('arn:')) {
          const url = await queueUrl(sqs, target);
          const arn =
            url === undefined
              ? undefined
              : (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
                  .Attributes?.QueueArn;
          if (arn === undefined && !test)
            throw new AwsStateFailure(`the dead-letter queue ${target} of the RedrivePolicy does not exist`);
          out[name] = JSON.stringify({ ...policy, deadLetterTargetArn: arn ?? target });
          continue;
        }
      }
    }
    out[name] = attributeText(value);
  }
  return out;
}

function parseJson(text: string, attribute: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AwsStateFailure(`the ${attribute} attribute is not a JSON document`);
  }
}
