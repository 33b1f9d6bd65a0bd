/**
 * The state engine: SLS files (Jinja rendering YAML) from a file server, top files, pillar, high and
 * low data, requisites, the engine that runs a plan through the caller's state functions, and Salt's
 * outputters. Pure of sockets: the minion runs states with it, the master renders pillar with it and
 * the CLI formats state runs with it. See README.md.
 */
export { StateErrors, StateCompileError, CompileErrors } from './errors.js';
export { isMapping, traverse, deepMerge } from './data.js';

export type { StateFile, StateFiles, FileLocation } from './files/state-files.js';
export { parseFileUrl, sha256, DEFAULT_ENV, RunFiles } from './files/state-files.js';
export { LocalRoots } from './files/local-roots.js';
export { pathOnHost, ownDirectories } from './files/host-path.js';
export type { RootsConfig } from './files/local-roots.js';
export { CachedFiles, FILE_CACHE_DIR } from './files/cached-files.js';

export { RenderWorkers, TemplateRenderer, TemplateRenderError } from './render/template-renderer.js';
export type {
  RenderIsolation,
  TemplateServices,
  TemplateRendererOptions,
  TemplateSource,
} from './render/template-renderer.js';
export { RenderProcess, renderProcessFlags } from './render/render-process.js';
export type { RenderProcessOptions } from './render/render-process.js';
export { SlsLoader, SlsLoadError } from './render/sls-loader.js';
export type { ModuleCaller, RenderVars, LoadedSls } from './render/sls-loader.js';
export { parseYaml, YamlError } from './render/yaml.js';
export type { ParsedYaml } from './render/yaml.js';

export type { Pillar, PillarRequest, PillarSource } from './pillar/pillar.js';
export { LocalPillar, compilePillar, emptyPillar } from './pillar/pillar.js';
export type { TopTarget, TopMatch } from './top/top-file.js';
export { parseTop, matchTop } from './top/top-file.js';

export type { StateDecl, IdDecl, HighState, SlsTarget, RequisiteKind } from './compile/high.js';
export { buildHighState, toSaltHigh, REQUISITE_KINDS } from './compile/high.js';
export type { ExcludeEntry } from './compile/high.js';
export type { LowChunk, RequisiteRef } from './compile/chunk.js';
export { chunkTag } from './compile/chunk.js';
export { compileLow, toSaltLow } from './compile/low.js';
export type { PlannedChunk, ChunkDeps } from './compile/requisites.js';
export { planRun } from './compile/requisites.js';
export { isValidSlsName } from './files/sls-names.js';

export type { StateOutcome, CallOutcome, StateResult, StateResults } from './engine/result.js';
export { startTime, hasChanges, runRetcode } from './engine/result.js';
export type { StateCall, EngineOptions, EngineRun } from './engine/runner.js';
export { runPlan } from './engine/runner.js';

export type { HighstateOutputOptions } from './output/highstate.js';
export { formatHighstate, useColour } from './output/highstate.js';
export type { NestedOutputOptions } from './output/nested.js';
export { formatNested } from './output/nested.js';
export { yamlDump as pyyamlDump } from './render/jinja/salt-filters.js';
export { pythonJson as pythonJsonDump } from './render/jinja/builtins.js';
