export * from './errors.js';
export * from './config.js';
export * from './aws.js';
export * from './z85.js';
export * from './keys.js';
export * from './wire.js';
