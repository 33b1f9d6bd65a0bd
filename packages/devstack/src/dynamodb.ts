import type { IncomingMessage, ServerResponse } from 'node:http';
import dynalite from 'dynalite';
import { close, listen, urlFor } from './listen.js';

export interface LocalDynamoDb {
  readonly endpoint: string;
  stop(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** How long stop() lets requests already being handled finish before it closes the database anyway. */
const DRAIN_MS = 5_000;

/** DynamoDB's protocol on loopback, in memory unless a data directory is given. */
export async function startDynamoDb(host: string, port: number, dataDir?: string): Promise<LocalDynamoDb> {
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir === undefined ? {} : { path: dataDir }),
  });
  // dynalite reads and writes its database on later turns of a request, and a request it is still
  // handling when the database closes throws "Database is closed" out of a callback. Requests are
  // counted until answered; stop() refuses new ones and closes the database once none is left.
  const handlers = server.listeners('request') as Handler[];
  server.removeAllListeners('request');
  let active = 0;
  let stopping = false;
  let drained: (() => void) | undefined;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (stopping) {
      res.writeHead(503, { connection: 'close' }).end();
      return;
    }
    active++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      if (--active === 0) drained?.();
    };
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    res.end = ((...args: unknown[]) => {
      settle();
      return end(...args);
    }) as ServerResponse['end'];
    for (const handler of handlers) handler(req, res);
  });
  const bound = await listen(server, host, port, 'DynamoDB (dynalite)');
  const stop = async (): Promise<void> => {
    stopping = true;
    if (active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_MS);
        drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await close(server);
  };
  return { endpoint: urlFor(host, bound), stop };
}
