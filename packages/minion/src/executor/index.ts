export { Executor } from './executor.js';
export type { ExecutorOptions } from './executor.js';
export { systemClock } from './types.js';
export type { Clock, Job, JobControl, JobOutcome, RunningJob } from './types.js';
export { ArgumentError, ExecutionError, ExecutorErrorCodes, JobKilledError, JobTimeoutError } from './errors.js';
