export { Executor } from './executor.js';
export type { ExecutorOptions } from './executor.js';
export type { Job, JobOutcome } from './types.js';
export { systemClock } from '../modules/types.js';
export type { Clock, JobControl, RunningJob } from '../modules/types.js';
export { ArgumentError, ExecutionError, JobKilledError, JobTimeoutError } from '../modules/errors.js';
