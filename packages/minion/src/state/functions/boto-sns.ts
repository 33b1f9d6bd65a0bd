import {
  CreateTopicCommand,
  DeleteTopicCommand,
  ListSubscriptionsCommand,
  ListTopicsCommand,
  SNSClient,
  SubscribeCommand,
  UnsubscribeCommand,
} from '@aws-sdk/client-sns';
import { z } from 'zod';
import { connectionArgs } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { converge, remove, runAwsState } from './aws-state.js';
import type { Step } from './aws-state.js';
import { defineState } from './types.js';
import type { StateModule } from './types.js';

const Subscription = z.strictObject({ protocol: z.string().min(1), endpoint: z.string().min(1) });
const Present = z.strictObject({
  name: z.string().min(1),
  subscriptions: z.array(Subscription).max(100).optional(),
  ...connectionArgs,
});
const Absent = z.strictObject({ name: z.string().min(1), unsubscribe: z.boolean().default(false), ...connectionArgs });

/** Pages read at most: 100 topics or subscriptions a page, as AWS answers. */
const MAX_PAGES = 100;

interface Subscribed {
  readonly arn: string;
  readonly protocol: string;
  readonly endpoint: string;
}

/**
 * Salt's boto_sns.present/absent. `present` creates the topic and adds the subscriptions it lacks
 * (as Salt's, it never removes one the SLS does not list); `absent` with `unsubscribe: True` first
 * removes the topic's subscriptions. AWS calls: ListTopics, ListSubscriptions (describe);
 * CreateTopic, Subscribe, Unsubscribe, DeleteTopic.
 */
export function botoSnsStates(env: AwsStateEnvironment): StateModule {
  return Object.freeze({
    name: 'boto_sns',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('sns', args, call, env, async (aws) => {
            const sns = new SNSClient(aws.clientConfig);
            env.onClient?.(sns);
            try {
              const what = `SNS topic ${args.name}`;
              const wanted = (args.subscriptions ?? []).map(({ protocol, endpoint }) => ({ protocol, endpoint }));
              const arn = await topicArn(sns, args.name);
              const current = arn === undefined ? [] : await subscriptions(sns, arn);
              const missing = wanted.filter(
                (w) => !current.some((c) => c.protocol === w.protocol && c.endpoint === w.endpoint),
              );
              const steps: Step[] = [];
              let created = arn;
              if (arn === undefined) {
                steps.push({
                  key: 'topic',
                  old: null,
                  new: args.name,
                  apply: async () => {
                    created = (await sns.send(new CreateTopicCommand({ Name: args.name }))).TopicArn;
                  },
                });
              }
              if (missing.length > 0) {
                steps.push({
                  key: 'subscriptions',
                  old: current.map(({ protocol, endpoint }) => ({ protocol, endpoint })),
                  new: [...current.map(({ protocol, endpoint }) => ({ protocol, endpoint })), ...missing],
                  apply: async () => {
                    for (const { protocol, endpoint } of missing)
                      await sns.send(
                        new SubscribeCommand({ TopicArn: created, Protocol: protocol, Endpoint: endpoint }),
                      );
                  },
                });
              }
              return converge(steps, {
                what,
                test: aws.test,
                secrets: aws.connection.secrets,
                creating: arn === undefined,
              });
            } finally {
              sns.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('sns', args, call, env, async (aws) => {
            const sns = new SNSClient(aws.clientConfig);
            env.onClient?.(sns);
            try {
              const arn = await topicArn(sns, args.name);
              const subscribed = arn !== undefined && args.unsubscribe ? await subscriptions(sns, arn) : [];
              return remove(arn !== undefined, {
                what: `SNS topic ${args.name}`,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'topic',
                name: args.name,
                apply: async () => {
                  for (const sub of subscribed)
                    if (sub.arn.startsWith('arn:'))
                      await sns.send(new UnsubscribeCommand({ SubscriptionArn: sub.arn }));
                  await sns.send(new DeleteTopicCommand({ TopicArn: arn }));
                },
              });
            } finally {
              sns.destroy();
            }
          }),
      }),
    }),
  });
}

async function topicArn(sns: SNSClient, name: string): Promise<string | undefined> {
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await sns.send(new ListTopicsCommand(token === undefined ? {} : { NextToken: token }));
    const found = (answer.Topics ?? []).find((topic) => topic.TopicArn?.split(':').at(-1) === name);
    if (found?.TopicArn !== undefined) return found.TopicArn;
    token = answer.NextToken;
    if (token === undefined || token === '') return undefined;
  }
  return undefined;
}

async function subscriptions(sns: SNSClient, arn: string): Promise<Subscribed[]> {
  const out: Subscribed[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await sns.send(new ListSubscriptionsCommand(token === undefined ? {} : { NextToken: token }));
    for (const sub of answer.Subscriptions ?? [])
      if (sub.TopicArn === arn)
        out.push({ arn: sub.SubscriptionArn ?? '', protocol: sub.Protocol ?? '', endpoint: sub.Endpoint ?? '' });
    token = answer.NextToken;
    if (token === undefined || token === '') break;
  }
  return out;
}
