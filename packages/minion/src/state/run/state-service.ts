import type { Logger } from 'pino';
import {
  toSaltHigh,
  toSaltLow,
  isValidSlsName,
  runRetcode,
  startTime,
  StateCompileError,
  StateErrors,
  RenderWorkers,
} from '@phoenix/state';
import type { SlsTarget, StateResults } from '@phoenix/state';
import type { Killswitch } from './killswitch.js';
import {
  clearKillswitch,
  disabledError,
  disabledMessages,
  readDisabledStates,
  readKillswitch,
  writeDisabledStates,
  writeKillswitch,
} from './killswitch.js';
import type { LockHolder, RunLockOptions } from './run-lock.js';
import { StateBusyError, StateRunLock } from './run-lock.js';
import type { RunContext, RunOptions, StateSystemOptions } from './state-run.js';
import { StateRun } from './state-run.js';
import { PhoenixError } from '@phoenix/protocol';

/** The job asking for a state function (built from the executor's JobContext). */
export interface StateJob extends RunContext {
  readonly jid: string;
  readonly fun: string;
  readonly cacheDir: string;
  readonly logger?: Logger;
  /** Told the killswitch as it now stands (undefined: lifted), to mirror it where masters see it. */
  readonly onKillswitch?: (record: Killswitch | undefined) => void;
}

export interface RunRequest extends RunOptions {
  /** Wait for a run in progress instead of being refused. */
  readonly queue: boolean;
}

/** The name in `state.disable` that stands for every state run (the whole-minion killswitch). */
export const ALL_STATES = '*';

/** What a state function returns: Salt's `ret` and the job's retcode. */
export interface StateReturn {
  readonly ret: unknown;
  /** 0 success, 1 nothing ran (compile error), 2 a state failed (Salt's codes). */
  readonly retcode: number;
}

/** Salt's answer when the top file gives a minion nothing. */
const NO_MATCH_TAG = 'no_|-states_|-states_|-None';

/**
 * The state functions of one minion (or of many in one process: locks are kept per minion id).
 * Each acting run takes the minion's run lock and checks the killswitch; show_* functions do neither.
 */
export class StateService {
  readonly #options: StateSystemOptions;
  readonly #lockOptions: RunLockOptions;
  readonly #locks = new Map<string, StateRunLock>();

  constructor(options: StateSystemOptions, lockOptions: RunLockOptions = {}) {
    // One run's template worker serves the next instead of each run starting its own.
    this.#options = { ...options, renderWorkers: options.renderWorkers ?? new RenderWorkers() };
    this.#lockOptions = lockOptions;
  }

  async highstate(job: StateJob, request: RunRequest): Promise<StateReturn> {
    if (disabledMessages(await readDisabledStates(job.cacheDir), ['highstate']).length > 0) {
      // Salt's answer, with a boolean result and a retcode that says it did not run.
      return {
        ret: {
          name: 'Salt highstate run is disabled. To re-enable, run state.enable highstate',
          result: false,
          comment: 'Disabled',
        },
        retcode: 1,
      };
    }
    return this.#acting(job, request, async (run) => {
      const matches = await run.top();
      if (matches.length === 0) return noTopMatch(job);
      const high = await run.high(
        matches,
        new Set(matches.filter((m) => m.ignoreMissing).map((m) => `${m.env}:${m.name}`)),
      );
      return (await run.execute(run.plan(run.low(high)))).results;
    });
  }

  async sls(job: StateJob, request: RunRequest, mods: readonly string[]): Promise<StateReturn> {
    const disabled = disabledMessages(await readDisabledStates(job.cacheDir), mods);
    // Salt's retcode for a disabled SLS: EX_STATE_FAILURE.
    if (disabled.length > 0) return { ret: disabled, retcode: 2 };
    return this.#acting(job, request, async (run) => {
      const high = await run.high(targets(mods, request.saltenv));
      return (await run.execute(run.plan(run.low(high)))).results;
    });
  }

  async slsId(job: StateJob, request: RunRequest, id: string, mods: readonly string[]): Promise<StateReturn> {
    const disabled = disabledMessages(await readDisabledStates(job.cacheDir), mods);
    if (disabled.length > 0) return { ret: disabled, retcode: 1 };
    return this.#acting(job, request, async (run) => {
      const high = await run.high(targets(mods, request.saltenv));
      const plan = run.plan(run.low(high));
      if (!plan.some((planned) => planned.chunk.id === id)) {
        throw new StateCompileError([
          `No matches for ID '${id}' found in SLS '${mods.join(',')}' within saltenv '${request.saltenv}'`,
        ]);
      }
      return (await run.execute(plan, (planned) => planned.chunk.id === id)).results;
    });
  }

  single(
    job: StateJob,
    request: RunRequest,
    fun: string,
    name: string,
    args: Readonly<Record<string, unknown>>,
  ): Promise<StateReturn> {
    return this.#acting(job, request, async (run) => {
      const [module, func] = fun.split('.');
      if (!module || !func || fun.split('.').length !== 2)
        throw new StateCompileError([`'${fun}' is not a state function (module.function)`]);
      return (await run.execute(run.plan(run.low(run.singleHigh(module, func, name, args))))).results;
    });
  }

  showSls(job: StateJob, request: RunOptions, mods: readonly string[]): Promise<StateReturn> {
    return this.#reading(job, request, async (run) => toSaltHigh(await run.high(targets(mods, request.saltenv))));
  }

  showHighstate(job: StateJob, request: RunOptions): Promise<StateReturn> {
    return this.#reading(job, request, async (run) => toSaltHigh((await run.highstate()) ?? { ids: [] }));
  }

  showTop(job: StateJob, request: RunOptions): Promise<StateReturn> {
    return this.#reading(job, request, async (run) => {
      const top: Record<string, string[]> = {};
      for (const match of await run.top()) (top[match.env] ??= []).push(match.name);
      return top;
    });
  }

  showLowstate(job: StateJob, request: RunOptions, mods?: readonly string[]): Promise<StateReturn> {
    return this.#reading(job, request, async (run) => {
      const high =
        mods === undefined ? ((await run.highstate()) ?? { ids: [] }) : await run.high(targets(mods, request.saltenv));
      return run.plan(run.low(high)).map((planned) => toSaltLow(planned.chunk));
    });
  }

  showPillar(job: StateJob, request: RunOptions): Promise<StateReturn> {
    return this.#reading(job, request, (run) => run.pillar());
  }

  /**
   * Salt's state.disable: the named runs (`highstate`, an SLS, `web.*`) are refused until
   * state.enable names them. Without names (or with `*`), every state run on the minion is: the
   * killswitch, mirrored in the `state_runs_disabled` grain that masters read, with who and why.
   */
  async disable(
    job: StateJob,
    states: readonly string[],
    reason: string | undefined,
    by: string | undefined,
  ): Promise<StateReturn> {
    const named = states.filter((name) => name !== ALL_STATES);
    const messages: string[] = [];
    let whole: Record<string, unknown> = {};
    if (states.length === 0 || states.includes(ALL_STATES)) {
      const record: Killswitch = {
        reason: reason ?? 'disabled with state.disable',
        by: by ?? `job ${job.jid}`,
        at: new Date(job.now()).toISOString(),
        jid: job.jid,
      };
      await writeKillswitch(job.cacheDir, record);
      job.onKillswitch?.(record);
      job.logger?.warn({ by: record.by, reason: record.reason }, 'state runs disabled on this minion');
      messages.push('Info: all state runs disabled.');
      whole = { disabled: true, ...record };
    }
    if (named.length > 0) {
      const current = await readDisabledStates(job.cacheDir);
      for (const name of named) {
        if (current.includes(name)) messages.push(`Info: ${name} state already disabled.`);
        else {
          messages.push(`Info: ${name} state disabled.`);
          current.push(name);
        }
      }
      await writeDisabledStates(job.cacheDir, current);
      job.logger?.warn({ states: named }, 'state runs disabled by name');
    }
    return { ret: { res: true, msg: messages.join('\n'), ...whole }, retcode: 0 };
  }

  /** Salt's state.enable: names are allowed again; without names (or with `*`), the killswitch is lifted. */
  async enable(job: StateJob, states: readonly string[]): Promise<StateReturn> {
    const named = states.filter((name) => name !== ALL_STATES);
    const messages: string[] = [];
    let whole: Record<string, unknown> = {};
    if (states.length === 0 || states.includes(ALL_STATES)) {
      const previous = await readKillswitch(job.cacheDir);
      await clearKillswitch(job.cacheDir);
      job.onKillswitch?.(undefined);
      if (previous) job.logger?.warn({ was: previous.reason }, 'state runs enabled again on this minion');
      messages.push(previous ? 'Info: all state runs enabled.' : 'Info: state runs were not disabled.');
      whole = { disabled: false, ...(previous ? { was: previous } : {}) };
    }
    if (named.length > 0) {
      const current = await readDisabledStates(job.cacheDir);
      for (const name of named) {
        const at = current.indexOf(name);
        if (at === -1) messages.push(`Info: ${name} state already enabled.`);
        else {
          messages.push(`Info: ${name} state enabled.`);
          current.splice(at, 1);
        }
      }
      await writeDisabledStates(job.cacheDir, current);
    }
    return { ret: { res: true, msg: messages.join('\n'), ...whole }, retcode: 0 };
  }

  /** Salt's state.list_disabled: the disabled names; `*` first when every state run is disabled. */
  async listDisabled(job: StateJob): Promise<StateReturn> {
    const record = await readKillswitch(job.cacheDir);
    // The file may have been removed or restored by hand: the grain follows it from here.
    job.onKillswitch?.(record);
    const names = await readDisabledStates(job.cacheDir);
    return { ret: [...(record ? [ALL_STATES] : []), ...names], retcode: 0 };
  }

  /** The whole-minion killswitch record, if set (who, when, why). */
  async killswitch(job: StateJob): Promise<Killswitch | undefined> {
    return readKillswitch(job.cacheDir);
  }

  /** The run in progress on this minion, in this process or another (the lock file), if any. */
  running(job: Pick<StateJob, 'minionId' | 'cacheDir'>): Promise<LockHolder | undefined> {
    return this.#lock(job).holder();
  }

  #lock(job: Pick<StateJob, 'minionId' | 'cacheDir'>): StateRunLock {
    const key = `${job.minionId}\0${job.cacheDir}`;
    let lock = this.#locks.get(key);
    if (!lock) {
      lock = new StateRunLock(job.cacheDir, this.#lockOptions);
      this.#locks.set(key, lock);
    }
    return lock;
  }

  async #acting(
    job: StateJob,
    request: RunRequest,
    body: (run: StateRun) => Promise<StateResults>,
  ): Promise<StateReturn> {
    if (!request.test) {
      const killswitch = await readKillswitch(job.cacheDir);
      if (killswitch) throw disabledError(killswitch);
    }
    let release: () => Promise<void>;
    try {
      release = await this.#lock(job).acquire(
        { jid: job.jid, fun: job.fun, startedAt: job.now() },
        { queue: request.queue, signal: job.signal },
      );
    } catch (err) {
      // Salt's answer to a second run: the running one, as a list, retcode 1.
      if (err instanceof StateBusyError) {
        job.logger?.info({ holder: err.holder }, 'state run refused: another one is running');
        return { ret: [err.message], retcode: 1 };
      }
      throw err;
    }
    try {
      // The killswitch may have been thrown while this run waited in the queue.
      if (!request.test) {
        const killswitch = await readKillswitch(job.cacheDir);
        if (killswitch) throw disabledError(killswitch);
      }
      return await this.#reading(
        job,
        request,
        async (run) => {
          job.logger?.info({ test: request.test }, 'state run started');
          const results = await body(run);
          const values = Object.values(results);
          job.logger?.info(
            {
              test: request.test,
              states: values.length,
              failed: values.filter((r) => r.result === false).length,
              changed: values.filter((r) => Object.keys(r.changes).length > 0).length,
            },
            'state run finished',
          );
          return results;
        },
        runRetcode,
      );
    } finally {
      await release();
    }
  }

  /** A run without the lock (show_*): compile errors become Salt's list of messages, retcode 1. */
  async #reading<T>(
    job: StateJob,
    request: RunOptions,
    body: (run: StateRun) => Promise<T>,
    retcode: (ret: T) => number = () => 0,
  ): Promise<StateReturn> {
    const run = new StateRun(this.#options, job, request);
    try {
      const ret = await body(run);
      return { ret, retcode: retcode(ret) };
    } catch (err) {
      if (err instanceof StateCompileError) {
        job.logger?.info({ errors: err.errors.length }, 'state run did not compile; nothing ran');
        return { ret: [...err.errors], retcode: 1 };
      }
      throw err;
    } finally {
      await run.close();
    }
  }
}

function targets(mods: readonly string[], env: string): SlsTarget[] {
  for (const name of mods) {
    if (!isValidSlsName(name)) {
      throw new PhoenixError(StateErrors.PHX_STATE_BAD_REQUEST, `'${name}' is not a valid SLS name`);
    }
  }
  return mods.map((name) => ({ name, env }));
}

function noTopMatch(job: StateJob): StateResults {
  const comment = 'No Top file or master_tops data matches found. Please see master log for details.';
  return {
    [NO_MATCH_TAG]: {
      name: 'No States',
      result: false,
      comment,
      changes: {},
      duration: 0,
      start_time: startTime(job.now()),
      __run_num__: 0,
      __id__: 'states',
      __sls__: '',
    },
  };
}
