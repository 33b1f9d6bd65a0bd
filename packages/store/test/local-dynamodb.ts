import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { Store } from '../src/index.js';
import type { StoreOptionsInput } from '../src/index.js';

/** A real dynalite on a free port and an SDK client pointed at it, as devstack runs them. */
export async function startDynamoDB(): Promise<{ client: DynamoDBClient; close: () => Promise<void> }> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  return {
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** A store with its tables created, and a raw document client for writing items the store never would. */
export async function startStore(prefix: string, options?: StoreOptionsInput) {
  const dynamo = await startDynamoDB();
  const store = new Store(dynamo.client, prefix, options);
  await store.createTables();
  const raw = DynamoDBDocumentClient.from(dynamo.client);
  return { ...dynamo, store, raw };
}
