import pino, { type Logger } from 'pino';
import type { Context } from 'zeromq';
import { startComponents, type Clock } from '@phoenix/protocol';
import type { RenderWorkers } from '@phoenix/state';
import type { MinionConfig } from './config.js';
import { MinionConnection, type ConnectionState } from './connection/connection.js';
import { createMinionExecutor, MINION_VERSION } from './executor/minion-executor.js';
import { localStateOptions } from './state/state-module.js';
import { remoteStateOptions } from './file-client/index.js';
import { resolveMinionId } from './identity.js';
import { createMasterListManager } from './master-list/index.js';
import { loadOrCreateKeyPair } from './pki.js';

export { MINION_VERSION };

export interface Minion {
  readonly id: string;
  readonly publicKey: string;
  readonly state: ConnectionState;
  /** The id (else host:port) of the master this minion is connected to, if any. */
  readonly master: string | undefined;
  /** Reads of the masters table this minion's master-list manager made. */
  readonly mastersTableReads: number;
  stop(): Promise<void>;
}

/**
 * Starts one minion. Everything it holds hangs off this call (keys, grains, executor, connection),
 * and the ZeroMQ context is passed in, so many minions can share one process. Its parts start in
 * order and stop in reverse; one that fails to start stops those already started.
 */
export async function startMinion(
  config: MinionConfig,
  options: {
    log?: Logger;
    context?: Context;
    configPath?: string;
    /** The connection's timers and time, and its jitter: the system's unless a test gives its own. */
    clock?: Clock;
    random?: () => number;
    /** Template workers shared with the other minions of this process (a swarm). */
    renderWorkers?: RenderWorkers;
  } = {},
): Promise<Minion> {
  const { id, instanceId } = await resolveMinionId(config);
  const log = (options.log ?? pino({ level: config.logLevel })).child({ minionId: id });
  const keyPair = await loadOrCreateKeyPair(config.pkiDir);
  const { grains, executor } = await createMinionExecutor(config, {
    id,
    ...(instanceId === undefined ? {} : { instanceId }),
    log,
    ...(options.renderWorkers === undefined ? {} : { renderWorkers: options.renderWorkers }),
    // The connection is made below; an event is only sent once a job runs, by then it exists.
    sendEvent: (tag, data) => connection.sendEvent(tag, data),
    files:
      config.fileClient === 'local'
        ? localStateOptions({ fileRoots: config.fileRoots, pillarRoots: config.pillarRoots })
        : remoteStateOptions((body, timeoutMs) => connection.request(body, timeoutMs), {
            cacheDir: config.cacheDir,
            timeoutMs: config.state.masterRequestTimeoutMs,
          }),
  });
  // The failover-ordered master list: pushed by masters, read from the table when none answers,
  // written back to the config file; a change re-orders the live connection in place.
  const masterList = createMasterListManager(config, {
    minionId: id,
    ...(options.configPath === undefined ? {} : { configPath: options.configPath }),
    log,
    onChange: () => connection.reorder(),
  });
  const connection: MinionConnection = new MinionConnection({
    id,
    masters: () => masterList.current(),
    onMasters: (masters) => void masterList.applyPushed(masters),
    // Every listed master failed: the table may know live ones (it is read only then, and while none is connected).
    onExhausted: () => void masterList.refreshFromTable(),
    // A minion whose key is pending has a master answering it (on its enrol port): the table
    // cannot tell it more, and a fleet enrolling at once would otherwise read it every pollMs each.
    onState: (state) => masterList.setConnected(state === 'connected' || state === 'pending'),
    clusterPublicKey: config.clusterPublicKey,
    keyPair,
    ...(options.context === undefined ? {} : { context: options.context }),
    heartbeatMs: config.heartbeatMs,
    missedHeartbeats: config.missedHeartbeats,
    aliveIntervalMs: config.aliveIntervalMs,
    enrolRetryMs: config.enrolRetryMs,
    backoffMaxMs: config.backoffMaxMs,
    grains: () => ({ ...grains.items() }),
    ...(config.identityDocument === undefined ? {} : { identity: config.identityDocument }),
    runJob: (job) => executor.run(job),
    returnAfterMs: config.failover.returnAfterMs,
    moveSpreadMs: config.failover.moveSpreadMs,
    reconnectSpreadMs: config.failover.reconnectSpreadMs,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
    log,
  });
  let unsubscribe: (() => void) | undefined;
  const started = await startComponents(
    [
      // Commands run detached (their own process group): stop them rather than leave them behind.
      { name: 'executor', stop: () => executor.killAll() },
      { name: 'master list', start: () => masterList.start(), stop: () => masterList.stop() },
      { name: 'connection', start: () => connection.start(), stop: () => connection.stop() },
      {
        name: 'grains changes',
        start: () => {
          unsubscribe = grains.onChange(() => connection.grainsChanged());
        },
        stop: () => unsubscribe?.(),
      },
    ],
    log,
  );
  log.info({ masters: config.masters.length }, 'minion started');
  return {
    id,
    publicKey: keyPair.publicKey,
    get state() {
      return connection.state;
    },
    get mastersTableReads() {
      return masterList.tableReads;
    },
    get master() {
      const master = connection.master;
      return master === undefined ? undefined : (master.id ?? `${master.host}:${master.port}`);
    },
    async stop() {
      await started.stop();
      log.info('minion stopped');
    },
  };
}
