import type { LowChunk } from '../compile/chunk.js';
import type { PlannedChunk } from '../compile/requisites.js';
import { runsBefore } from '../compile/requisites.js';
import type { CallOutcome, StateOutcome, StateResult, StateResults } from './result.js';
import { hasChanges, startTime } from './result.js';

/**
 * How the engine asks for one state call:
 * - `run`: the state function, with `test` as the run has it;
 * - `mod_watch`: a watched state changed and this one did not (a service restart, cmd.wait);
 * - `predict`: the target of a prereq, always with test=True, to see whether it would change.
 */
export interface StateCall {
  readonly chunk: LowChunk;
  readonly mode: 'run' | 'mod_watch' | 'predict';
  readonly test: boolean;
}

export interface EngineOptions {
  readonly test: boolean;
  /** Stop at the first failure (a state's own `failhard` wins). */
  readonly failhard: boolean;
  call(call: StateCall): Promise<CallOutcome>;
  /** Whether the chunk's module turns a watch into mod_watch (else a watch is a require). */
  hasModWatch(chunk: LowChunk): boolean;
  /** Milliseconds since the epoch (a parameter, so tests control time). */
  now(): number;
  /** Checked between states: an aborted run stops there and the abort reason is thrown. */
  signal?: AbortSignal;
  /** Only these states (and what their requisites pull in) run: state.sls_id. Default all. */
  select?(planned: PlannedChunk): boolean;
}

export interface EngineRun {
  readonly results: StateResults;
  /** A failhard failure stopped the run: the states after it did not run and are not reported. */
  readonly haltedBy: string | undefined;
}

interface Recorded {
  readonly outcome: StateOutcome;
  /** False for a state skipped by its requisites (onchanges, onfail, prereq): it did not act. */
  readonly ran: boolean;
}

/**
 * Runs a plan the way Salt's state engine does: states in order, each first pulling in what it
 * requires; requisite results decide whether a state runs, fails without running, or is skipped.
 * Pure: every effect goes through `options.call`.
 */
export async function runPlan(plan: readonly PlannedChunk[], options: EngineOptions): Promise<EngineRun> {
  const recorded = new Map<number, Recorded>();
  const results: StateResults = {};
  let runNum = 0;
  let haltedBy: string | undefined;

  const record = (index: number, outcome: StateOutcome, ran: boolean, started: number): void => {
    const planned = plan[index] as PlannedChunk;
    recorded.set(index, { outcome, ran });
    const result: StateResult = {
      name: planned.chunk.name,
      result: outcome.result,
      comment: outcome.comment,
      changes: outcome.changes,
      duration: Math.max(0, options.now() - started),
      start_time: startTime(started),
      __run_num__: runNum++,
      __id__: planned.chunk.id,
      __sls__: planned.chunk.sls,
    };
    results[planned.tag] = result;
    const failhard = planned.chunk.failhard ?? options.failhard;
    if (outcome.result === false && failhard) haltedBy = planned.tag;
  };

  const ensure = async (index: number): Promise<void> => {
    if (recorded.has(index) || haltedBy !== undefined) return;
    options.signal?.throwIfAborted();
    const planned = plan[index] as PlannedChunk;
    for (const dep of runsBefore(planned.deps)) {
      await ensure(dep);
      if (haltedBy !== undefined) return;
    }
    // A prereq looks at its targets after their own requisites ran, before they do.
    const predictions: { index: number; outcome: CallOutcome }[] = [];
    for (const target of planned.deps.prereq) {
      const targetDeps = (plan[target] as PlannedChunk).deps;
      for (const dep of runsBefore(targetDeps)) {
        if (dep === index || targetDeps.prerequired.includes(dep)) continue;
        await ensure(dep);
        if (haltedBy !== undefined) return;
      }
      predictions.push({ index: target, outcome: await predict(target) });
    }
    const started = options.now();
    const { outcome, ran } = await decide(planned, predictions);
    record(index, outcome, ran, started);
  };

  /** What a prereq target would do: its requisites decide first, then a test=True call. */
  const predict = async (index: number): Promise<CallOutcome> => {
    const planned = plan[index] as PlannedChunk;
    const blocked = blockedByRequisites(planned, recorded, options.test, plan, true);
    if (blocked) return blocked.outcome;
    return options.call({ chunk: planned.chunk, mode: 'predict', test: true });
  };

  const decide = async (
    planned: PlannedChunk,
    predictions: readonly { index: number; outcome: CallOutcome }[],
  ): Promise<Recorded> => {
    const blocked = blockedByRequisites(planned, recorded, options.test, plan, false);
    if (blocked) return blocked;
    if (predictions.length > 0) {
      const failed = predictions.filter((p) => p.outcome.result === false);
      if (failed.length > 0) return requisiteFailed(failed.map((p) => plan[p.index] as PlannedChunk));
      const wouldChange = predictions.some((p) => p.outcome.result === null || hasChanges(p.outcome));
      if (!wouldChange) return { outcome: { result: true, comment: 'No changes detected', changes: {} }, ran: false };
    }
    const { chunk } = planned;
    let outcome = await options.call({ chunk, mode: 'run', test: options.test });
    const watchedChanged = planned.deps.watch.some((dep) => {
      const seen = recorded.get(dep);
      return seen !== undefined && seen.ran && hasChanges(seen.outcome);
    });
    if (
      watchedChanged &&
      outcome.result !== false &&
      !outcome.skipWatch &&
      !hasChanges(outcome) &&
      options.hasModWatch(chunk)
    ) {
      outcome = await options.call({ chunk, mode: 'mod_watch', test: options.test });
    }
    return { outcome: { result: outcome.result, comment: outcome.comment, changes: outcome.changes }, ran: true };
  };

  for (let index = 0; index < plan.length; index++) {
    if (options.select && !options.select(plan[index] as PlannedChunk)) continue;
    await ensure(index);
    if (haltedBy !== undefined) break;
  }
  options.signal?.throwIfAborted();
  return { results, haltedBy };
}

/**
 * The requisite checks that come before calling a state, in Salt's priority: a failed
 * require/watch/onchanges/prerequired fails it; an unmet onfail or onchanges skips it.
 */
function blockedByRequisites(
  planned: PlannedChunk,
  recorded: ReadonlyMap<number, Recorded>,
  test: boolean,
  plan: readonly PlannedChunk[],
  predicting: boolean,
): Recorded | undefined {
  const { deps } = planned;
  const failing = [...deps.require, ...deps.watch, ...deps.onchanges, ...(predicting ? [] : deps.prerequired)].filter(
    (dep) => recorded.get(dep)?.outcome.result === false,
  );
  if (failing.length > 0) return requisiteFailed([...new Set(failing)].map((dep) => plan[dep] as PlannedChunk));
  if (deps.onfail.length > 0) {
    const failed = deps.onfail.filter((dep) => recorded.get(dep)?.outcome.result === false).length;
    const met = planned.chunk.onfailAll ? failed === deps.onfail.length : failed > 0;
    if (!met) {
      return {
        outcome: { result: true, comment: 'State was not run because onfail req did not change', changes: {} },
        ran: false,
      };
    }
  }
  if (deps.onchanges.length > 0) {
    const changed = deps.onchanges.some((dep) => {
      const seen = recorded.get(dep);
      // With test=True a target that would change reports its predicted changes, or at least None.
      return seen !== undefined && seen.ran && (hasChanges(seen.outcome) || (test && seen.outcome.result === null));
    });
    if (!changed) {
      return {
        outcome: { result: true, comment: 'State was not run because none of the onchanges reqs changed', changes: {} },
        ran: false,
      };
    }
  }
  return undefined;
}

function requisiteFailed(failed: readonly PlannedChunk[]): Recorded {
  const names = failed.map(({ chunk }) => `${chunk.sls}.${chunk.id}`);
  return {
    outcome: { result: false, comment: `One or more requisite failed: ${[...new Set(names)].join(', ')}`, changes: {} },
    ran: false,
  };
}
