import { chunkTag } from '../compile/chunk.js';
import type { LowChunk, RequisiteRef } from '../compile/chunk.js';
import type { CheckedKind, PlannedChunk } from '../compile/requisites.js';
import { CHECKED_KINDS, runsBefore } from '../compile/requisites.js';
import type { CallOutcome, StateOutcome, StateResult, StateResults } from './result.js';
import { hasChanges, startTime } from './result.js';

/**
 * How the engine asks for one state call:
 * - `run`: the state function, with `test` as the run has it;
 * - `mod_watch`: a watched state changed and this one did not (a service restart, cmd.wait), or a
 *   listened-to state changed (at the end of the run);
 * - `predict`: the target of a prereq, always with test=True, to see whether it would change.
 */
export interface StateCall {
  readonly chunk: LowChunk;
  readonly mode: 'run' | 'mod_watch' | 'predict';
  readonly test: boolean;
  /** The states this one requires (its `require` and the `require_in` that name it), resolved. */
  readonly required: readonly LowChunk[];
}

export interface EngineOptions {
  readonly test: boolean;
  /** Stop at the first failure (a state's own `failhard` wins). Never with test=True, as in Salt. */
  readonly failhard: boolean;
  call(call: StateCall): Promise<CallOutcome>;
  /** Whether the chunk's module turns a watch into mod_watch (else a watch is a require). */
  hasModWatch(chunk: LowChunk): boolean;
  /**
   * Why this state cannot be called (an unknown function, a bad argument), checked once its
   * requisites are met: the state fails with that comment and the rest of the run goes on.
   */
  verify?(chunk: LowChunk): string | undefined;
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

type Status = 'met' | 'fail' | 'change' | 'onfail' | 'onchanges';

/**
 * Runs a plan the way Salt's state engine does: states in order, each first pulling in what it
 * requires; requisite results decide whether a state runs, fails without running, or is skipped;
 * at the end, the mod_watch of every state listening to a state that changed, once each, in
 * definition order. Pure: every effect goes through `options.call`.
 */
export async function runPlan(plan: readonly PlannedChunk[], options: EngineOptions): Promise<EngineRun> {
  const recorded = new Map<number, Recorded>();
  const results: StateResults = {};
  let runNum = 0;
  let haltedBy: string | undefined;

  const addResult = (
    tag: string,
    chunk: Pick<LowChunk, 'name' | 'id' | 'sls'>,
    outcome: StateOutcome,
    started: number,
  ) => {
    results[tag] = {
      name: chunk.name,
      result: outcome.result,
      comment: outcome.comment,
      changes: outcome.changes,
      duration: Math.max(0, options.now() - started),
      start_time: startTime(started),
      __run_num__: runNum++,
      __id__: chunk.id,
      __sls__: chunk.sls,
    } satisfies StateResult;
  };

  const record = (index: number, outcome: StateOutcome, ran: boolean, started: number): void => {
    const planned = plan[index] as PlannedChunk;
    recorded.set(index, { outcome, ran });
    addResult(planned.tag, planned.chunk, outcome, started);
    const failhard = planned.chunk.failhard ?? options.failhard;
    if (outcome.result === false && failhard && !options.test) haltedBy = planned.tag;
  };

  const ensure = async (index: number): Promise<void> => {
    if (recorded.has(index) || haltedBy !== undefined) return;
    options.signal?.throwIfAborted();
    const planned = plan[index] as PlannedChunk;
    if (planned.deps.lost.length > 0) {
      record(index, { result: false, comment: notFound(planned), changes: {} }, false, options.now());
      return;
    }
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
    if (planned.deps.lost.length > 0) return { result: false, comment: notFound(planned), changes: {} };
    const status = requisiteStatus(planned, recorded, options, true);
    if (status !== 'met' && status !== 'change') return skipped(planned, status, recorded, plan).outcome;
    const refused = options.verify?.(planned.chunk);
    if (refused !== undefined) return { result: false, comment: refused, changes: {} };
    return options.call({ chunk: planned.chunk, mode: 'predict', test: true, required: requiredOf(planned) });
  };

  const requiredOf = (planned: PlannedChunk): LowChunk[] =>
    planned.deps.require.map((dep) => (plan[dep] as PlannedChunk).chunk);

  const decide = async (
    planned: PlannedChunk,
    predictions: readonly { index: number; outcome: CallOutcome }[],
  ): Promise<Recorded> => {
    const status = requisiteStatus(planned, recorded, options, false);
    if (status !== 'met' && status !== 'change') return skipped(planned, status, recorded, plan);
    if (predictions.length > 0) {
      const failed = predictions.filter((p) => p.outcome.result === false);
      if (failed.length > 0) return requisiteFailed(failed.map((p) => plan[p.index] as PlannedChunk));
      const wouldChange = predictions.some((p) => p.outcome.result === null || hasChanges(p.outcome));
      if (!wouldChange) return { outcome: { result: true, comment: 'No changes detected', changes: {} }, ran: false };
    }
    const { chunk } = planned;
    const refused = options.verify?.(chunk);
    if (refused !== undefined) return { outcome: { result: false, comment: refused, changes: {} }, ran: true };
    const required = requiredOf(planned);
    let outcome = await options.call({ chunk, mode: 'run', test: options.test, required });
    if (status === 'change' && !hasChanges(outcome) && !outcome.skipWatch && outcome.result !== false) {
      outcome = await options.call({ chunk, mode: 'mod_watch', test: options.test, required });
    }
    return { outcome: { result: outcome.result, comment: outcome.comment, changes: outcome.changes }, ran: true };
  };

  for (let index = 0; index < plan.length; index++) {
    if (options.select && !options.select(plan[index] as PlannedChunk)) continue;
    await ensure(index);
    if (haltedBy !== undefined) break;
  }
  options.signal?.throwIfAborted();
  await runListeners(plan, recorded, options, addResult);
  return { results, haltedBy };
}

/**
 * Salt's call_listen: for each listen (and listen_in) relationship in definition order, a listened
 * state that changed queues its listener's mod_watch; each listener runs once, as
 * `listener_<id>`. A listen that names no state is a `Listen_Error` result.
 */
async function runListeners(
  plan: readonly PlannedChunk[],
  recorded: ReadonlyMap<number, Recorded>,
  options: EngineOptions,
  addResult: (
    tag: string,
    chunk: Pick<LowChunk, 'name' | 'id' | 'sls'>,
    outcome: StateOutcome,
    started: number,
  ) => void,
): Promise<void> {
  const position = new Map<number, number>();
  const errors: { tag: string; ref: RequisiteRef; sls: string }[] = [];
  plan.forEach((planned, index) => {
    for (const { target, declaredBy } of planned.deps.listen) {
      const seen = recorded.get(target);
      if (seen && hasChanges(seen.outcome)) position.set(index, Math.min(position.get(index) ?? Infinity, declaredBy));
    }
    for (const ref of planned.deps.lostListen) {
      const module = ref.module ?? 'id';
      errors.push({
        tag: chunkTag({
          state: 'Listen_Error',
          id: `listen_${ref.target}`,
          name: `listen_${module}`,
          fun: 'Listen_Error',
        }),
        ref,
        sls: planned.chunk.sls,
      });
    }
  });
  const queued = [...position.keys()].sort((a, b) => (position.get(a) ?? a) - (position.get(b) ?? b) || a - b);
  for (const index of queued) {
    options.signal?.throwIfAborted();
    const planned = plan[index] as PlannedChunk;
    const { chunk } = planned;
    const listener = { ...chunk, id: `listener_${chunk.id}`, fun: 'mod_watch' };
    const started = options.now();
    let outcome: StateOutcome;
    if (!options.hasModWatch(chunk)) {
      outcome = {
        result: false,
        comment: `State '${chunk.state}.mod_watch' was not found in SLS '${chunk.sls}'`,
        changes: {},
      };
    } else {
      const called = await options.call({
        chunk,
        mode: 'mod_watch',
        test: options.test,
        required: planned.deps.require.map((dep) => (plan[dep] as PlannedChunk).chunk),
      });
      outcome = { result: called.result, comment: called.comment, changes: called.changes };
    }
    addResult(chunkTag(listener), listener, outcome, started);
  }
  for (const { tag, ref, sls } of errors) {
    const module = ref.module ?? 'id';
    addResult(
      tag,
      { name: `listen_${module}:${ref.target}`, id: `listen_${ref.target}`, sls },
      { result: false, comment: `Referenced state ${module}: ${ref.target} does not exist`, changes: {} },
      options.now(),
    );
  }
}

/** Salt's comment for requisites that name no state. */
function notFound(planned: PlannedChunk): string {
  let comment = 'The following requisites were not found:\n';
  const byKind = new Map<string, RequisiteRef[]>();
  for (const { kind, ref } of planned.deps.lost) byKind.set(kind, [...(byKind.get(kind) ?? []), ref]);
  for (const [kind, refs] of byKind) {
    comment += `${' '.repeat(19)}${kind}:\n`;
    for (const ref of refs)
      comment += `${' '.repeat(23)}${ref.kind === 'state' ? ref.module : ref.kind}: ${ref.target}\n`;
  }
  return comment;
}

/**
 * Salt's check_requisite: each requisite kind contributes what its targets did, the `_any` forms
 * need one target to qualify, `onfail_all` needs every target to have failed; then the first of
 * fail, onfail, onchanges, change, met decides.
 */
function requisiteStatus(
  planned: PlannedChunk,
  recorded: ReadonlyMap<number, Recorded>,
  options: Pick<EngineOptions, 'hasModWatch'>,
  predicting: boolean,
): Status {
  const { deps, chunk } = planned;
  const watches = options.hasModWatch(chunk);
  const all = new Set<string>();
  const kinds: [CheckedKind | 'prerequired', readonly number[]][] = CHECKED_KINDS.filter((k) => k !== 'prereq').map(
    (kind) => [kind, deps[kind]],
  );
  if (!predicting) kinds.push(['prerequired', deps.prerequired]);
  for (const [declared, targets] of kinds) {
    if (targets.length === 0) continue;
    // Without a mod_watch, watch is require (and watch_any require_any).
    const kind = !watches && declared.startsWith('watch') ? declared.replace('watch', 'require') : declared;
    const stats = new Set<string>();
    for (const target of targets) {
      const seen = recorded.get(target);
      if (!seen) continue;
      const { outcome } = seen;
      if (kind.startsWith('onfail')) {
        if (outcome.result === true) {
          stats.add('onfail');
          continue;
        }
      } else if (outcome.result === false) {
        stats.add('fail');
        continue;
      }
      if (kind.startsWith('onchanges')) {
        stats.add(hasChanges(outcome) ? 'onchangesmet' : 'onchanges');
        continue;
      }
      if (kind.startsWith('watch') && hasChanges(outcome)) {
        stats.add('change');
        continue;
      }
      if (seen.ran) stats.add('met');
    }
    if (kind.endsWith('_any') || kind === 'onfail') {
      if ((stats.has('met') || stats.has('change')) && stats.has('fail')) stats.delete('fail');
      if (stats.has('onchangesmet')) {
        stats.delete('onchanges');
        stats.delete('fail');
      }
      if (stats.has('onfail') && stats.has('met')) stats.delete('onfail');
    }
    if (kind.endsWith('_all') && stats.has('onfail') && stats.has('met')) stats.delete('met');
    for (const stat of stats) all.add(stat);
  }
  if (all.has('fail')) return 'fail';
  if (all.has('onfail') && !all.has('onchangesmet')) return 'onfail';
  if (all.has('onchanges') && !all.has('onchangesmet')) return 'onchanges';
  if (all.has('change')) return 'change';
  if (all.has('onfail')) return 'onfail';
  return 'met';
}

function skipped(
  planned: PlannedChunk,
  status: Exclude<Status, 'met' | 'change'>,
  recorded: ReadonlyMap<number, Recorded>,
  plan: readonly PlannedChunk[],
): Recorded {
  if (status === 'onfail') {
    return {
      outcome: { result: true, comment: 'State was not run because onfail req did not change', changes: {} },
      ran: false,
    };
  }
  if (status === 'onchanges') {
    return {
      outcome: { result: true, comment: 'State was not run because none of the onchanges reqs changed', changes: {} },
      ran: false,
    };
  }
  const { deps } = planned;
  const failed = [...new Set(CHECKED_KINDS.flatMap((kind) => deps[kind]).concat(deps.prerequired))]
    .sort((a, b) => a - b)
    .filter((dep) => recorded.get(dep)?.outcome.result === false);
  return requisiteFailed(failed.map((dep) => plan[dep] as PlannedChunk));
}

function requisiteFailed(failed: readonly PlannedChunk[]): Recorded {
  const names = failed.map(({ chunk }) => `${chunk.sls}.${chunk.id}`);
  return {
    outcome: { result: false, comment: `One or more requisite failed: ${[...new Set(names)].join(', ')}`, changes: {} },
    ran: false,
  };
}
