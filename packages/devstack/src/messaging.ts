import { buildApp } from 'fauxqs';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import type { AwsClientConfig } from '@phoenix/protocol';
import { urlFor } from './listen.js';
import { PhoenixError } from '@phoenix/protocol';
import { DevstackErrors } from './errors.js';

export interface LocalMessaging {
  /** One endpoint serves both SQS and SNS. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** SQS and SNS on loopback (fauxqs), in memory. */
export async function startMessaging(host: string, port: number, region: string): Promise<LocalMessaging> {
  // buildApp rather than startFauxqs: the latter always binds every interface, the devstack only loopback.
  const app = buildApp({ logger: false, defaultRegion: region });
  try {
    await app.listen({ port, host });
  } catch (err) {
    await app.close();
    const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
    throw new PhoenixError(
      inUse ? DevstackErrors.PHX_DEVSTACK_PORT_IN_USE : DevstackErrors.PHX_DEVSTACK_START_FAILED,
      `SQS/SNS (fauxqs) could not listen on ${host}:${port}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const address = app.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  return { endpoint: urlFor(host, bound), stop: () => app.close() };
}

export interface LifecycleChannels {
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
  /** The notification topic of each auto-scaling group, by group name. */
  topicArns: Record<string, string>;
}

/**
 * Creates what CloudFormation creates on AWS: the lifecycle queue with its dead-letter queue and
 * redrive policy, one notification topic per group, and the queue's subscription to each topic
 * (not raw delivery, so messages arrive in the SNS envelope exactly as on AWS). Uses the real
 * SDK clients, so the emulator is driven through the protocol Phoenix itself speaks.
 */
export async function createLifecycleChannels(
  client: AwsClientConfig,
  queueName: string,
  groupNames: readonly string[],
  maxReceiveCount: number,
): Promise<LifecycleChannels> {
  const sqs = new SQSClient(client);
  const sns = new SNSClient(client);
  try {
    const queueArnOf = async (url: string): Promise<string> => {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
      );
      const arn = Attributes?.QueueArn;
      if (arn === undefined) {
        throw new PhoenixError(DevstackErrors.PHX_DEVSTACK_START_FAILED, `queue ${url} has no ARN`);
      }
      return arn;
    };
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${queueName}-dlq` }));
    const deadLetterQueueUrl = dlq.QueueUrl ?? '';
    const deadLetterQueueArn = await queueArnOf(deadLetterQueueUrl);
    const queue = await sqs.send(
      new CreateQueueCommand({
        QueueName: queueName,
        Attributes: {
          VisibilityTimeout: '30',
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterQueueArn, maxReceiveCount }),
        },
      }),
    );
    const queueUrl = queue.QueueUrl ?? '';
    const queueArn = await queueArnOf(queueUrl);
    const topicArns: Record<string, string> = {};
    for (const group of groupNames) {
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `${group}-notifications` }));
      if (TopicArn === undefined) {
        throw new PhoenixError(DevstackErrors.PHX_DEVSTACK_START_FAILED, `no topic for ${group}`);
      }
      await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: queueArn }));
      topicArns[group] = TopicArn;
    }
    return { queueUrl, queueArn, deadLetterQueueUrl, deadLetterQueueArn, topicArns };
  } finally {
    sqs.destroy();
    sns.destroy();
  }
}
