import { hostname } from 'node:os';
import { Context } from 'zeromq';
import pino, { type Logger } from 'pino';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsClientConfig } from '@phoenix/protocol';
import { Store } from '@phoenix/store';
import type { FastifyInstance } from 'fastify';
import { buildApi } from './api/server.js';
import { readClusterKeys } from './cluster-keys.js';
import type { MasterConfig } from './config.js';
import { JobService } from './jobs.js';
import { KeyRegistry } from './keys.js';
import { MinionLink } from './minion-link.js';
import { ZapHandler } from './zap.js';

export const MASTER_VERSION = '0.1.0';

export interface Master {
  readonly id: string;
  readonly ports: { enrol: number; minion: number; api: number };
  stop(): Promise<void>;
}

/**
 * Starts one master: its ZeroMQ context with the ZAP handler, the minion link, the API, and its row
 * in the masters table. Stopping reverses it.
 */
export async function startMaster(
  config: MasterConfig,
  log: Logger = pino({ level: config.logLevel }),
): Promise<Master> {
  const id = config.id ?? `${hostname()}-${config.ports.api}`;
  log = log.child({ masterId: id });
  const clusterKeys = await readClusterKeys(config.pkiDir);
  const dynamodb = new DynamoDBClient(awsClientConfig(config.aws, 'dynamodb'));
  const store = new Store(dynamodb, config.tablePrefix);
  const keys = new KeyRegistry(store, clusterKeys.secretKey, log.child({ component: 'keys' }));
  await keys.refresh();
  // Each master owns its context: the ZAP endpoint is per context, and nothing is shared by accident.
  const context = new Context();
  const zap = new ZapHandler(
    context,
    (domain, publicKey) => {
      if (domain === 'enrol') return true;
      if (domain !== 'minion') return false;
      const accepted = keys.isAcceptedPublicKey(publicKey);
      if (!accepted) keys.refreshSoon();
      return accepted;
    },
    log.child({ component: 'zap' }),
  );
  await zap.start();

  // The job service sends through the link, and the link hands returns to the job service.
  const jobs = new JobService(store, keys, () => link, id, log.child({ component: 'jobs' }));
  await jobs.loadGrains();
  const link: MinionLink = new MinionLink({
    context,
    bind: config.bind,
    enrolPort: config.ports.enrol,
    minionPort: config.ports.minion,
    masterId: id,
    clusterSecretKey: clusterKeys.secretKey,
    keys,
    heartbeatMs: config.heartbeatIntervalMs,
    silenceMs: config.minionSilenceMs,
    log: log.child({ component: 'link' }),
    handlers: {
      hello: async (session, message) => {
        jobs.rememberGrains(session.minionId, message.grains);
        await store.minions.updateGrains(session.minionId, message.grains);
        await store.minions.setPresence(session.minionId, id);
        log.info({ minionId: session.minionId }, 'minion connected');
      },
      result: (session, message) => jobs.recordReturn(session, message),
      grains: async (session, message) => {
        jobs.rememberGrains(session.minionId, message.grains);
        await store.minions.updateGrains(session.minionId, message.grains);
      },
      gone: (session) => {
        log.info({ minionId: session.minionId }, 'minion disconnected');
        void store.minions.clearPresence(session.minionId, id).catch(() => undefined);
      },
    },
  });
  await link.start();

  const api: FastifyInstance = buildApi({
    masterId: id,
    tokens: config.api.tokens,
    keys,
    jobs,
    defaultJobTimeoutMs: config.jobTimeoutMs,
    log,
  });
  await api.listen({ host: config.bind, port: config.ports.api });
  const apiPort = (api.server.address() as { port: number }).port;
  const ports = { ...link.ports, api: apiPort };

  const startedAt = Date.now();
  const register = (): Promise<unknown> =>
    store.masters.put({
      masterId: id,
      host: config.advertise,
      ports: { enrol: ports.enrol, minion: ports.minion, peer: config.ports.peer, api: apiPort },
      status: 'active',
      heartbeatAt: Date.now(),
      startedAt,
      version: MASTER_VERSION,
      minionCount: link.connectedCount ?? 0,
    });
  await register();
  const heartbeat = setInterval(() => {
    store.masters
      .heartbeat(id, { minionCount: link.connectedCount ?? 0 })
      .catch(() => register())
      .catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
  }, config.heartbeatIntervalMs);
  log.info({ ports }, 'master ready');

  return {
    id,
    ports,
    async stop() {
      clearInterval(heartbeat);
      await api.close();
      link.close();
      zap.close();
      await store.masters.delete(id).catch(() => undefined);
      dynamodb.destroy();
      log.info('master stopped');
    },
  };
}
