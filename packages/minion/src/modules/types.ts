import type { Logger } from 'pino';
import type { z } from 'zod';
import type { GrainStore } from '../grains/grain-store.js';

/** What a module function may use: everything per minion and per job, nothing process-wide. */
export interface JobContext {
  readonly jid: string;
  readonly fun: string;
  readonly minionId: string;
  /** Phoenix's version (test.version). */
  readonly version: string;
  readonly cacheDir: string;
  readonly grains: GrainStore;
  /** Carries jid and fun. */
  readonly logger: Logger;
  readonly clock: Clock;
  /** Aborted by saltutil.kill_job or the job's timeout; a function must stop its work when it fires. */
  readonly signal: AbortSignal;
  readonly modules: ModuleLookup;
  readonly jobs: JobControl;
  /** Salt's `__context__['retcode']`: the job's retcode (and so its success) without an exception. */
  setRetcode(code: number): void;
  /** Shows the child in saltutil.running; call the returned function once it has exited. */
  trackChild(pid: number): () => void;
  /** Sends an event to the connected master (event.send); false when there is none to send it to. */
  sendEvent(tag: string, data: Record<string, unknown>): boolean;
}

/** The arguments of a function: a strict zod object whose keys, in order, are its positional parameters. */
export type ArgsSchema = z.ZodObject<z.ZodRawShape, z.core.$strict>;

/** One entry of the registry ('mod.fun'). */
export interface ModuleFunction {
  readonly doc: string;
  readonly schema: ArgsSchema;
  /** Parameter names in positional order. */
  readonly params: readonly string[];
  /** Keyword arguments beyond `params` are taken (as Salt's `**kwargs`) instead of refused. */
  readonly extraKeywords: boolean;
  /** The parameter that collects extra positional arguments (Salt's `*args`), if any. */
  readonly varargs?: string;
  /** Parameters after `varargs`, given by name only. */
  readonly keywordOnly?: readonly string[];
  /** Validates `args` against the schema (ArgumentError naming the argument) and runs the function. */
  run(args: Readonly<Record<string, unknown>>, ctx: JobContext): Promise<unknown>;
}

/** An execution module: `name` is the part before the dot. */
export interface ExecutionModule {
  readonly name: string;
  readonly functions: Readonly<Record<string, ModuleFunction>>;
}

/** One entry of saltutil.running; a frozen copy. */
export interface RunningJob {
  readonly jid: string;
  readonly fun: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly startedAt: number;
  /** The child process the job is waiting on, if any. */
  readonly pid: number | null;
}

/** Time is a parameter: tests and the benchmark may pass their own. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** The executor's running-job table as module functions see it (saltutil.*). */
export interface JobControl {
  running(): readonly RunningJob[];
  /** Aborts a running job; false when no job with that jid is running. */
  kill(jid: string): boolean;
}

/** The functions a job can see and call (`sys.*`, `salt[...]` in templates): its ModuleRegistry. */
export interface ModuleLookup {
  get(fun: string): ModuleFunction | undefined;
  /** Every 'mod.fun', sorted. */
  functionNames(): string[];
  /** Every module name, sorted. */
  moduleNames(): string[];
}
