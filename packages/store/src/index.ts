export {
  ConditionFailedError,
  CorruptItemError,
  StoreErrors,
  TableNotReadyError,
  UnprocessedWriteError,
} from './errors.js';
export type { ItemKey } from './errors.js';
export * from './tables.js';
export * from './records.js';
export { StoreOptionsSchema } from './options.js';
export type { StoreOptions, StoreOptionsInput } from './options.js';
export type { Page, PageRequest } from './pagination.js';
export type { ReadCount } from './table.js';
export { MastersTable, isLive } from './masters-table.js';
export type { NewMaster } from './masters-table.js';
export { MinionsTable } from './minions-table.js';
export type { HighstateClaim } from './minions-table.js';
export { JobsTable, dayOf } from './jobs-table.js';
export type { NewJob } from './jobs-table.js';
export { ReturnsTable } from './returns-table.js';
export type { NewReturn } from './returns-table.js';
export { ScheduleClaims, scheduleClaimKey } from './schedule-claims.js';
export type { ScheduleClaim } from './schedule-claims.js';
export { Store } from './store.js';
export { ApiTokensTable } from './api-tokens.js';
export type { ApiTokenRecord } from './api-tokens.js';
export { RunsTable, RunStepSchema, RunOutcomeSchema, RUN_KINDS, RUN_STATUSES } from './runs-table.js';
export type {
  LoadedRun,
  NewRun,
  RunDispatch,
  RunKind,
  RunLease,
  RunOutcome,
  RunRecord,
  RunStatus,
  RunStep,
  RunTargets,
} from './runs-table.js';
export { ReactionClaims, reactionClaimKey } from './reaction-claims.js';
export type { ReactionClaim } from './reaction-claims.js';
