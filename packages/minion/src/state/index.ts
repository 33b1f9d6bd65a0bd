/**
 * The minion's side of the state system: the state modules that act on the host (functions/, which
 * reach it through modules/), and the run service (run/: one run at a time, the killswitch). The
 * engine itself (render, compile, requisites, top, pillar) is `@phoenix/state`. See README.md.
 */
export { createStateModule, localStateOptions } from './state-module.js';
export type { StateModuleOptions } from './state-module.js';
export type { StateModule, StateRuntime, StateFunction, StateCallContext } from './functions/types.js';
export { defineState } from './functions/types.js';
export type { Commands, CommandSpec, CommandOutput } from '../modules/commands.js';
export { builtinStateModules } from './functions/registry.js';
export type { StateSystemOptions } from './run/state-run.js';
export { StateService } from './run/state-service.js';
export type { StateJob, StateReturn, RunRequest } from './run/state-service.js';
export type { Killswitch } from './run/killswitch.js';
export { KILLSWITCH_FILE } from './run/killswitch.js';
