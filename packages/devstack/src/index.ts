export * from './errors.js';
export { AwsRequestError } from './aws-request-error.js';
export * from './options.js';
export * from './devstack.js';
export type { LifecycleChannels } from './messaging.js';
export * from './autoscaling/index.js';
export * from './resources/index.js';
export { descendantPids, isRunning, stopProcess } from './processes.js';
