export { startMinion, MINION_VERSION, type Minion } from './minion.js';
export { loadMinionConfig, MinionConfigSchema, type MinionConfig, type MinionConfigInput } from './config.js';
export { MasterAddressSchema, type MasterAddress } from './connection/master-address.js';
