export { startMaster, type Master, MASTER_VERSION } from './master.js';
export { loadMasterConfig, MasterConfigSchema, type MasterConfig, type MasterConfigInput } from './config.js';
export { hashToken } from './api/auth.js';
