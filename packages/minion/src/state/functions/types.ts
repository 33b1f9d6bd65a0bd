import type { z } from 'zod';
import type { StateOutcome, StateFiles } from '@phoenix/state';
import type { Commands } from '../../modules/commands.js';

/**
 * Everything a state function may touch. Each is a seam: tests run the same functions against a
 * throwaway root, fake commands first on PATH, and their own file roots.
 */
export interface StateRuntime {
  /**
   * The file system the states manage, like a chroot for paths: `/etc/motd` in an SLS means
   * `<root>/etc/motd` (file names, `creates`, `cwd`). `/` on a real minion. Commands themselves are
   * not confined; they run on the host.
   */
  readonly root: string;
  readonly commands: Commands;
  /** The file server, for `source: salt://...`. */
  readonly files: StateFiles;
  /** The run's environment (`base`). */
  readonly saltenv: string;
  /** Jinja for `template: jinja`, with the run's grains, pillar and opts plus `context`. */
  renderTemplate(source: string, file: string, context: Record<string, unknown>): Promise<string>;
  readonly pillar: Readonly<Record<string, unknown>>;
  readonly minionId: string;
  /** The minion's cache directory: `backup: minion` copies, cached sources, archives. */
  readonly cacheDir: string;
  /** The minion's grains, live: grains.present writes here, and later runs and the masters see it. */
  readonly grains: StateGrains;
  /** An execution module through the minion's registry (module.run). */
  call(fun: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Promise<unknown>;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The grain store as grains.* states use it (the minion's GrainStore). */
export interface StateGrains {
  items(): Readonly<Record<string, unknown>>;
  /** The grains set by hand (grains.setval, grains.present), which states may change. */
  custom(): Readonly<Record<string, unknown>>;
  setval(key: string, value: unknown): Promise<unknown>;
  delval(key: string): Promise<unknown>;
}

/** A state this one requires (by `require` or a `require_in` naming it), as the run resolved it. */
export interface RequiredState {
  readonly state: string;
  readonly fun: string;
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface StateCallContext {
  readonly test: boolean;
  readonly rt: StateRuntime;
  readonly id: string;
  readonly sls: string;
  /** What the state requires (file.directory `clean` keeps the files of required file states). */
  readonly requires: readonly RequiredState[];
}

export interface StateFunction {
  readonly schema: z.ZodType<Record<string, unknown>>;
  run(args: Record<string, unknown>, call: StateCallContext): Promise<StateOutcome>;
}

export interface StateFunctionDefinition<S extends z.ZodType<Record<string, unknown>>> {
  schema: S;
  run(args: z.output<S>, call: StateCallContext): Promise<StateOutcome>;
}

/** Types `run`'s arguments from the schema; the engine validates them before the run starts. */
export function defineState<S extends z.ZodType<Record<string, unknown>>>(
  definition: StateFunctionDefinition<S>,
): StateFunction {
  return Object.freeze({
    schema: definition.schema,
    run: (args: Record<string, unknown>, call: StateCallContext) => definition.run(definition.schema.parse(args), call),
  });
}

/** A state module: `file`, `pkg`... */
export interface StateModule {
  readonly name: string;
  readonly functions: Readonly<Record<string, StateFunction>>;
  /**
   * Why this host cannot run the module's states (`dpkg-query not found on PATH`), or undefined
   * when it can. Checked once per run, and only if a state of the module is called.
   */
  available?(rt: StateRuntime): Promise<string | undefined>;
  /** Called when a watched state changed and this one did not: `args` as its own function got them. */
  modWatch?(args: Record<string, unknown>, sfun: string, call: StateCallContext): Promise<StateOutcome>;
}

export function outcome(result: boolean | null, comment: string, changes: Record<string, unknown> = {}): StateOutcome {
  return { result, comment, changes };
}
