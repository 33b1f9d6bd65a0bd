import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { awsClientConfig } from '@phoenix/protocol';
import { Store } from '@phoenix/store';
import type { MinionConfig } from '../config.js';
import type { MasterAddress } from '../connection/master-address.js';
import type { MasterListClock } from './clock.js';
import { MasterListManager, type MasterListManagerOptions } from './manager.js';

/** The part of the minion's config the manager reads. */
export type MasterListConfig = Pick<MinionConfig, 'masters' | 'aws' | 'tablePrefix' | 'masterList'>;

export interface MasterListDependencies {
  minionId: string;
  /** The config file the minion was started with; its `masters` key is kept (Phoenix mode). */
  configPath?: string;
  log: Logger;
  onChange?: (ordered: readonly MasterAddress[]) => void | Promise<void>;
  onOutcome?: MasterListManagerOptions['onOutcome'];
  clock?: MasterListClock;
  random?: () => number;
}

/**
 * A manager set up from the minion's config: the masters table when `aws` is set (a bounded SDK
 * client, so an unreachable endpoint costs seconds, not minutes), the config file or Salt drop-in
 * as configured. `stop()` releases the client.
 */
export function createMasterListManager(config: MasterListConfig, deps: MasterListDependencies): MasterListManager {
  const { masterList } = config;
  let table: Pick<MasterListManagerOptions, 'table' | 'closeTable'> = {};
  if (config.aws !== undefined) {
    const client = new DynamoDBClient({
      ...awsClientConfig(config.aws, 'dynamodb'),
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
    });
    table = { table: new Store(client, config.tablePrefix).masters, closeTable: () => client.destroy() };
  }
  return new MasterListManager({
    minionId: deps.minionId,
    initial: config.masters,
    ...(deps.configPath === undefined ? {} : { configPath: deps.configPath }),
    ...table,
    deadAfterMs: masterList.deadAfterMs,
    pollMs: masterList.pollMs,
    connectGraceMs: masterList.connectGraceMs,
    log: deps.log,
    mode: masterList.mode,
    salt: { ...masterList.salt },
    ...(deps.onChange === undefined ? {} : { onChange: deps.onChange }),
    ...(deps.onOutcome === undefined ? {} : { onOutcome: deps.onOutcome }),
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
  });
}
