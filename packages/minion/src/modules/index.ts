import { cmdModule } from './cmd.js';
import { grainsModule } from './grains.js';
import { ModuleRegistry } from './registry.js';
import { saltutilModule } from './saltutil.js';
import { sysModule } from './sys.js';
import { testModule } from './test.js';
import { eventModule } from './event.js';
import type { ExecutionModule } from './types.js';

/** The modules every minion has. Frozen definitions only: each function's state comes from its JobContext. */
export const builtinModules: readonly ExecutionModule[] = Object.freeze([
  testModule,
  cmdModule,
  grainsModule,
  saltutilModule,
  sysModule,
  eventModule,
]);

/** The built-in modules plus `extra` (state.*, file.*, a test's own). */
export function createModuleRegistry(extra: readonly ExecutionModule[] = []): ModuleRegistry {
  return new ModuleRegistry([...builtinModules, ...extra]);
}

export { ModuleRegistry } from './registry.js';
export { defineFunction } from './define-function.js';
export type { FunctionDefinition } from './define-function.js';
export type { ArgsSchema, ExecutionModule, JobContext, ModuleFunction } from './types.js';
export { runCommand } from './command-runner.js';
export type { CommandOptions, CommandResult } from './command-runner.js';
export { abortableDelay } from './abortable-delay.js';
export { globMatcher, selectFunctions } from './glob.js';
export { cmdModule, eventModule, grainsModule, saltutilModule, sysModule, testModule };
export { createFileModule } from './file.js';
export { createPkgModule } from './pkg.js';
export { createServiceModule } from './service.js';
export { createCpModule } from './cp.js';
export { createPillarModule } from './pillar.js';
export { networkModule } from './network.js';
export { statusModule } from './status.js';
export { createHostModules } from './host-modules.js';
export type { HostOptions } from './host-context.js';
