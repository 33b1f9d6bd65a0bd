import type { MasterAddress } from '../connection/master-address.js';
import type { RestartOutcome } from './restart-command.js';

/** What persisting a list did: nothing (already in place), a file written, a restart run. */
export interface PersistResult {
  written?: string;
  restart?: RestartOutcome;
}

/**
 * Where a master list is kept beyond the process: the minion's own config file, a salt-minion
 * drop-in, or nowhere. `persist` compares with what is there and writes only a real change.
 */
export interface MasterListSink {
  persist(ordered: readonly MasterAddress[]): Promise<PersistResult>;
}

/** No config file: the list lives in memory only (tests, minions started from code). */
export const inMemorySink: MasterListSink = { persist: () => Promise.resolve({}) };
