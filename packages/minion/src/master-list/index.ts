export { MasterListManager } from './manager.js';
export type { MasterListManagerOptions, MasterListOutcome, MasterListSource, MastersTableReader } from './manager.js';
export { createMasterListManager } from './from-config.js';
export type { MasterListConfig, MasterListDependencies } from './from-config.js';
export { systemClock, type MasterListClock } from './clock.js';
export type { SaltDropInOptions } from './salt-drop-in.js';
export type { RestartOutcome } from './restart-command.js';
