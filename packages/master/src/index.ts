export { startMaster, masterComponents, type Master, type MasterComponents, MASTER_VERSION } from './master.js';
export { loadMasterConfig, MasterConfigSchema, type MasterConfig, type MasterConfigInput } from './config.js';
export { hashToken } from './api/auth.js';
