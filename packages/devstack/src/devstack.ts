import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '@phoenix/store';
import { awsClientConfig, type AwsSettings } from '@phoenix/protocol';
import { resolveDevstackOptions, type DevstackOptions, type ResolvedDevstackOptions } from './options.js';
import { startDynamoDb } from './dynamodb.js';
import { createLifecycleChannels, startMessaging, type LifecycleChannels } from './messaging.js';

/** Static credentials: the emulators accept any signature, and a fixed pair keeps config files stable. */
export const DEVSTACK_CREDENTIALS = Object.freeze({
  accessKeyId: 'phoenix-devstack',
  secretAccessKey: 'phoenix-devstack',
});

export interface Devstack {
  readonly options: ResolvedDevstackOptions;
  /** What masters, minions and the CLI need to reach this cloud: the only thing that differs from AWS. */
  readonly aws: AwsSettings;
  readonly tablePrefix: string;
  readonly lifecycle: LifecycleChannels;
  stop(): Promise<void>;
}

/**
 * Starts the embedded local cloud in this process: DynamoDB with Phoenix's tables, SQS and SNS
 * with the lifecycle queue and topics. A failure part-way stops whatever had started, so nothing
 * half-started is left listening.
 */
export async function startDevstack(input: DevstackOptions = {}): Promise<Devstack> {
  const options = resolveDevstackOptions(input);
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
    return Object.freeze({ options, aws, tablePrefix: options.tablePrefix, lifecycle, stop: stopAll });
  } catch (err) {
    await stopAll();
    throw err;
  }
}
