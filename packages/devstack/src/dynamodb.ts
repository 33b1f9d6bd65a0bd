import dynalite from 'dynalite';
import { close, listen, urlFor } from './listen.js';

export interface LocalDynamoDb {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** DynamoDB's protocol on loopback, in memory unless a data directory is given. */
export async function startDynamoDb(host: string, port: number, dataDir?: string): Promise<LocalDynamoDb> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir === undefined ? {} : { path: dataDir }),
  });
  const bound = await listen(server, host, port, 'DynamoDB (dynalite)');
  return { endpoint: urlFor(host, bound), stop: () => close(server) };
}
