import type { Logger } from 'pino';
import type { GrainStore } from '../grains/grain-store.js';
import { createModuleRegistry } from '../modules/index.js';
import type { ModuleRegistry } from '../modules/registry.js';
import type { JobContext } from '../modules/types.js';
import { bindArguments } from '../modules/bind-arguments.js';
import { ArgumentError, JobKilledError, JobTimeoutError } from '../modules/errors.js';
import { failureMessage, reportsFailure, unavailableMessage } from './failure-message.js';
import { systemClock } from '../modules/types.js';
import type { Clock, JobControl, RunningJob } from '../modules/types.js';
import type { Job, JobOutcome } from './types.js';
import { untilAborted } from './until-aborted.js';
import { splayDelay } from './splay.js';
import { abortableDelay } from '../modules/abortable-delay.js';

export interface ExecutorOptions {
  minionId: string;
  grains: GrainStore;
  logger: Logger;
  /** The minion's cache directory (custom grains live there too). */
  cacheDir: string;
  /** Phoenix's version, for test.version. */
  version: string;
  clock?: Clock;
  /** Default: the built-in modules. */
  modules?: ModuleRegistry;
  /** Chooses each job's splay delay; [0, 1) like Math.random (the default). */
  random?: () => number;
  /** Where event.send goes: the minion's master connection. Default: nowhere (masterless). */
  sendEvent?: (tag: string, data: Record<string, unknown>) => boolean;
}

interface ActiveJob {
  readonly job: Job;
  readonly startedAt: number;
  readonly controller: AbortController;
  /** Children the job waits on, oldest first. */
  readonly pids: number[];
  outcome?: Promise<JobOutcome>;
}

/**
 * Runs one minion's jobs. Everything a job touches hangs off this instance (running jobs, grains,
 * logger, clock), so hundreds of minions can share one process without sharing any state. Jobs
 * run concurrently; `run` never rejects: every failure is a failed outcome.
 */
export class Executor {
  readonly minionId: string;
  readonly modules: ModuleRegistry;
  readonly #grains: GrainStore;
  readonly #logger: Logger;
  readonly #cacheDir: string;
  readonly #version: string;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #active = new Map<string, ActiveJob>();
  readonly #sendEvent: (tag: string, data: Record<string, unknown>) => boolean;
  readonly #control: JobControl = Object.freeze({
    running: () => this.running(),
    kill: (jid: string) => this.kill(jid),
  });

  constructor(options: ExecutorOptions) {
    this.minionId = options.minionId;
    this.modules = options.modules ?? createModuleRegistry();
    this.#grains = options.grains;
    this.#logger = options.logger;
    this.#cacheDir = options.cacheDir;
    this.#version = options.version;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#sendEvent = options.sendEvent ?? (() => false);
  }

  /**
   * Runs a job to its outcome. A jid that is already running joins that run instead of starting a
   * second one: a master re-sends a job after a failover, and it must not run twice at once.
   */
  run(job: Job): Promise<JobOutcome> {
    const running = this.#active.get(job.jid)?.outcome;
    if (running) return running;
    const entry: ActiveJob = { job, startedAt: this.#clock.now(), controller: new AbortController(), pids: [] };
    this.#active.set(job.jid, entry);
    entry.outcome = this.#execute(entry).finally(() => {
      if (this.#active.get(job.jid) === entry) this.#active.delete(job.jid);
    });
    return entry.outcome;
  }

  /** The running jobs, oldest first; frozen copies. */
  running(): readonly RunningJob[] {
    return Object.freeze(
      [...this.#active.values()].map(({ job, startedAt, pids }) =>
        Object.freeze({
          jid: job.jid,
          fun: job.fun,
          args: Object.freeze([...job.args]),
          kwargs: Object.freeze({ ...job.kwargs }),
          startedAt,
          pid: pids.at(-1) ?? null,
        }),
      ),
    );
  }

  isRunning(jid: string): boolean {
    return this.#active.has(jid);
  }

  /** Aborts a running job (its child process group is stopped); it returns failed at once. */
  kill(jid: string): boolean {
    const entry = this.#active.get(jid);
    if (!entry) return false;
    entry.controller.abort(new JobKilledError(jid));
    return true;
  }

  /** Kills every running job and waits for their outcomes: the minion is shutting down. */
  async killAll(): Promise<void> {
    const outcomes = [...this.#active.values()].map((entry) => {
      entry.controller.abort(new JobKilledError(entry.job.jid));
      return entry.outcome;
    });
    await Promise.all(outcomes);
  }

  async #execute(entry: ActiveJob): Promise<JobOutcome> {
    const { job, controller } = entry;
    const fn = this.modules.get(job.fun);
    if (!fn) {
      this.#logger.info({ jid: job.jid, fun: job.fun }, 'job asks for a function this minion does not have');
      return this.#outcome(entry, 1, unavailableMessage(job.fun));
    }
    let retcode = 0;
    const ctx = this.#context(entry, (code) => {
      retcode = code;
    });
    const { timeoutMs } = job;
    let timer: NodeJS.Timeout | undefined;
    try {
      const args = bindArguments(fn.params, job.args, job.kwargs, fn.extraKeywords, fn.varargs, fn.keywordOnly);
      // A splayed job waits first (killable like any job); its timeout then starts, so the wait
      // never eats into the time the function has.
      const delayMs = splayDelay(job.splayMs ?? 0, this.#random);
      if (delayMs > 0) {
        this.#logger.info({ jid: job.jid, fun: job.fun, delayMs }, 'job splayed');
        await abortableDelay(delayMs, controller.signal);
      }
      this.#logger.info({ jid: job.jid, fun: job.fun }, 'job started');
      if (timeoutMs !== undefined)
        timer = setTimeout(() => controller.abort(new JobTimeoutError(job.jid, timeoutMs)), timeoutMs);
      const ret = (await untilAborted(fn.run(args, ctx), controller.signal)) ?? null;
      const code = retcode !== 0 ? retcode : reportsFailure(ret) ? 1 : 0;
      return this.#outcome(entry, code, ret);
    } catch (err) {
      this.#logFailure(job, err);
      return this.#outcome(entry, 1, failureMessage(job.fun, err));
    } finally {
      clearTimeout(timer);
    }
  }

  #context(entry: ActiveJob, setRetcode: (code: number) => void): JobContext {
    const { jid, fun } = entry.job;
    const parent = this.#logger;
    let logger: Logger | undefined;
    return {
      jid,
      fun,
      minionId: this.minionId,
      version: this.#version,
      cacheDir: this.#cacheDir,
      grains: this.#grains,
      // Made on first use: test.ping should not pay for a child logger it never writes to.
      get logger() {
        return (logger ??= parent.child({ jid, fun }));
      },
      clock: this.#clock,
      signal: entry.controller.signal,
      modules: this.modules,
      jobs: this.#control,
      setRetcode,
      sendEvent: this.#sendEvent,
      trackChild: (pid) => {
        entry.pids.push(pid);
        return () => {
          const index = entry.pids.indexOf(pid);
          if (index !== -1) entry.pids.splice(index, 1);
        };
      },
    };
  }

  #outcome(entry: ActiveJob, retcode: number, ret: unknown): JobOutcome {
    const outcome = { success: retcode === 0, retcode, ret, startedAt: entry.startedAt, finishedAt: this.#clock.now() };
    this.#logger.info({ jid: entry.job.jid, fun: entry.job.fun, retcode }, 'job finished');
    return outcome;
  }

  #logFailure(job: Job, err: unknown): void {
    const ids = { jid: job.jid, fun: job.fun };
    if (err instanceof ArgumentError) this.#logger.info({ ...ids, err }, 'job has invalid arguments');
    else if (err instanceof JobKilledError || err instanceof JobTimeoutError)
      this.#logger.info({ ...ids, err }, 'job stopped');
    else this.#logger.warn({ ...ids, err }, 'job function failed');
  }
}
