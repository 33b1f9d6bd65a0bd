/**
 * The state system: SLS files (Jinja rendering YAML) from a file server, a top file, pillar,
 * requisites and the state modules that act on the host. Pure cores (compile/, engine/, top/,
 * data.ts) with thin shells (files/, render/, functions/, providers/, run/). See README.md.
 */
export { StateError, StateErrorCodes, StateCompileError } from './errors.js';
export type { StateErrorCode } from './errors.js';
export type { StateFile, StateFiles, FileLocation } from './files/state-files.js';
export { parseFileUrl, sha256, DEFAULT_ENV } from './files/state-files.js';
export { LocalRoots } from './files/local-roots.js';
export type { RootsConfig } from './files/local-roots.js';
export { CachedFiles, FILE_CACHE_DIR } from './files/cached-files.js';
export type { Pillar, PillarRequest, PillarSource } from './pillar/pillar.js';
export { LocalPillar, compilePillar, emptyPillar } from './pillar/pillar.js';
export { TemplateRenderer } from './render/template-renderer.js';
export type { StateOutcome, StateResult, StateResults } from './engine/result.js';
export type { StateModule, StateRuntime, StateFunction, StateCallContext } from './functions/types.js';
export { defineState } from './functions/types.js';
export type { Commands, CommandSpec, CommandOutput } from './functions/commands.js';
export { builtinStateModules } from './functions/registry.js';
export type { StateSystemOptions } from './run/state-run.js';
export { StateService } from './run/state-service.js';
export type { StateJob, StateReturn, RunRequest } from './run/state-service.js';
export type { Killswitch } from './run/killswitch.js';
export { KILLSWITCH_FILE } from './run/killswitch.js';
