import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '@phoenix/store';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import pino, { type Logger } from 'pino';
import { awsClientConfig, generateCurveKeyPair, type AwsSettings, type CurveKeyPair } from '@phoenix/protocol';
import {
  AutoScalingSimulator,
  IdentitySigner,
  PlaceholderLauncher,
  startAutoScalingServer,
  type GroupConfig,
  type InstanceLauncher,
} from './autoscaling/index.js';
import { AwsResources, startResourceServer } from './resources/index.js';
import { resolveDevstackOptions, type DevstackOptions, type ResolvedDevstackOptions } from './options.js';
import { startDynamoDb } from './dynamodb.js';
import { createLifecycleChannels, startMessaging, type LifecycleChannels } from './messaging.js';

/** Static credentials: the emulators accept any signature, and a fixed pair keeps config files stable. */
export const DEVSTACK_CREDENTIALS = Object.freeze({
  accessKeyId: 'phoenix-devstack',
  secretAccessKey: 'phoenix-devstack',
});

/** What the cloud hands to masters, minions and the CLI: the only things that differ from AWS. */
export interface DevstackInfo {
  readonly options: ResolvedDevstackOptions;
  readonly aws: AwsSettings;
  readonly tablePrefix: string;
  readonly lifecycle: LifecycleChannels;
  /** The certificate that verifies the simulated instances' identity documents. */
  readonly identityCertificate: string;
  /** The cluster CURVE key pair the devstack made for its masters. */
  readonly clusterKeys: CurveKeyPair;
}

export interface Devstack extends DevstackInfo {
  readonly simulator: AutoScalingSimulator;
  /** EC2 security groups, IAM roles and CloudWatch alarms, as the resource emulator holds them. */
  readonly resources: AwsResources;
  stop(): Promise<void>;
}

export interface DevstackDependencies {
  /** Starts the simulated instances; by default placeholder processes that only wait to be stopped. */
  launcher?: (info: DevstackInfo) => InstanceLauncher;
  logger?: Logger;
}

/**
 * Starts the embedded local cloud in this process: DynamoDB with Phoenix's tables, SQS and SNS
 * with the lifecycle queue and topics, Auto Scaling, and EC2 security groups, IAM roles and
 * CloudWatch alarms (the resource emulator). A failure part-way stops whatever had started, so nothing
 * half-started is left listening.
 */
export async function startDevstack(input: DevstackOptions = {}, deps: DevstackDependencies = {}): Promise<Devstack> {
  const options = resolveDevstackOptions(input);
  const logger = deps.logger ?? pino({ level: 'silent' });
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const dynamodb = await startDynamoDb(options.host, options.ports.dynamodb, options.dataDir);
    stops.push(dynamodb.stop);
    const messaging = await startMessaging(options.host, options.ports.messaging, options.region);
    stops.push(messaging.stop);

    const aws: AwsSettings = {
      region: options.region,
      endpoints: { dynamodb: dynamodb.endpoint, sqs: messaging.endpoint, sns: messaging.endpoint },
      credentials: { ...DEVSTACK_CREDENTIALS },
    };
    const ddb = new DynamoDBClient(awsClientConfig(aws, 'dynamodb'));
    try {
      await createTables(ddb, options.tablePrefix);
    } finally {
      ddb.destroy();
    }
    const groups = [options.groups.masters.name, options.groups.minions.name];
    const lifecycle = await createLifecycleChannels(
      awsClientConfig(aws, 'sqs'),
      options.queueName,
      groups,
      options.maxReceiveCount,
    );
    const signer = await IdentitySigner.generate();
    const info: DevstackInfo = {
      options,
      aws,
      tablePrefix: options.tablePrefix,
      lifecycle,
      identityCertificate: signer.certificatePem,
      clusterKeys: generateCurveKeyPair(),
    };
    const sqs = new SQSClient(awsClientConfig(aws, 'sqs'));
    const sns = new SNSClient(awsClientConfig(aws, 'sns'));
    stops.push(async () => {
      sqs.destroy();
      sns.destroy();
    });
    // Unattended hooks let instances proceed: the reactor completes each action explicitly, and only it abandons.
    const notifyQueue = options.lifecycleDelivery === 'queue';
    const hooks = (group: string): GroupConfig['hooks'] => [
      {
        name: `${group}-launching`,
        transition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        heartbeatTimeoutSeconds: options.hookTimeoutSeconds,
        defaultResult: 'CONTINUE',
        notifyQueue,
      },
      {
        name: `${group}-terminating`,
        transition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        heartbeatTimeoutSeconds: options.hookTimeoutSeconds,
        defaultResult: 'CONTINUE',
        notifyQueue,
      },
    ];
    const simulator = new AutoScalingSimulator({
      groups: Object.values(options.groups).map((group) => ({
        name: group.name,
        minSize: group.min,
        maxSize: group.max,
        desiredCapacity: group.desired,
        topicArn: lifecycle.topicArns[group.name],
        hooks: hooks(group.name),
        ...(group.warmPool === undefined ? {} : { warmPool: group.warmPool }),
      })),
      sqs,
      lifecycleQueueUrl: lifecycle.queueUrl,
      ...(notifyQueue ? {} : { eventBridgeQueueUrl: lifecycle.queueUrl }),
      sns,
      accountId: options.accountId,
      region: options.region,
      launcher: deps.launcher?.(info) ?? new PlaceholderLauncher(),
      signer,
      logger: logger.child({ component: 'autoscaling' }),
    });
    const server = await startAutoScalingServer({
      simulator,
      logger: logger.child({ component: 'autoscaling-api' }),
      host: options.host,
      port: options.ports.autoscaling,
    });
    stops.push(() => server.close());
    stops.push(() => simulator.stop());
    aws.endpoints.autoscaling = server.endpoint;
    const resources = new AwsResources({ accountId: options.accountId, region: options.region });
    const resourceServer = await startResourceServer({
      resources,
      logger,
      host: options.host,
      port: options.ports.resources,
    });
    stops.push(() => resourceServer.close());
    aws.endpoints.ec2 = resourceServer.endpoint;
    aws.endpoints.iam = resourceServer.endpoint;
    aws.endpoints.cloudwatch = resourceServer.endpoint;
    aws.endpoints.elb = resourceServer.endpoint;
    aws.endpoints.route53 = resourceServer.endpoint;
    await simulator.start();
    return Object.freeze({ ...info, simulator, resources, stop: stopAll });
  } catch (err) {
    await stopAll();
    throw err;
  }
}
