import { PhoenixError } from '@phoenix/protocol';
import type { ExecutionModule, ModuleFunction, ModuleLookup } from './types.js';
import { MinionErrors } from '../errors.js';

/**
 * Maps 'mod.fun' to its function. Immutable: `with` returns a new registry, so a registry shared by
 * many executors (the benchmark hosts hundreds of minions in one process) can never change under them.
 */
export class ModuleRegistry implements ModuleLookup {
  readonly #functions: ReadonlyMap<string, ModuleFunction>;
  readonly #modules: readonly ExecutionModule[];

  constructor(modules: readonly ExecutionModule[]) {
    const seen = new Set<string>();
    const functions = new Map<string, ModuleFunction>();
    for (const module of modules) {
      if (seen.has(module.name)) {
        throw new PhoenixError(
          MinionErrors.PHX_EXEC_DUPLICATE_MODULE,
          `execution module '${module.name}' is registered twice`,
          {
            details: { module: module.name },
          },
        );
      }
      seen.add(module.name);
      for (const [name, fn] of Object.entries(module.functions)) functions.set(`${module.name}.${name}`, fn);
    }
    this.#modules = Object.freeze([...modules]);
    this.#functions = functions;
  }

  get(fun: string): ModuleFunction | undefined {
    return this.#functions.get(fun);
  }

  /** Every 'mod.fun', sorted. */
  functionNames(): string[] {
    return [...this.#functions.keys()].sort();
  }

  /** Every module name, sorted. */
  moduleNames(): string[] {
    return this.#modules.map((module) => module.name).sort();
  }

  /** A new registry with these modules added (a state or file module, or a test's own). */
  with(...modules: ExecutionModule[]): ModuleRegistry {
    return new ModuleRegistry([...this.#modules, ...modules]);
  }
}
