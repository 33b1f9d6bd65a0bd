/** What one state function reports: Salt's ret dict without the bookkeeping. */
export interface StateOutcome {
  /** true: in the right state (changed or not); false: failed; null: test=True and it would change. */
  readonly result: boolean | null;
  readonly comment: string;
  readonly changes: Readonly<Record<string, unknown>>;
}

/** How the engine treats an outcome beyond the Salt-visible fields. */
export interface CallOutcome extends StateOutcome {
  /** An unless/onlyif skip: a watch must not turn into mod_watch. */
  readonly skipWatch?: boolean;
}

/** One entry of a state run's return, keyed by `module_|-id_|-name_|-function`. */
export interface StateResult extends StateOutcome {
  readonly name: string;
  /** Milliseconds. */
  readonly duration: number;
  /** Local wall-clock time the state started, `HH:MM:SS.ffffff` as Salt prints it. */
  readonly start_time: string;
  readonly __run_num__: number;
  readonly __id__: string;
  readonly __sls__: string;
}

export type StateResults = Record<string, StateResult>;

export function startTime(epochMs: number): string {
  const date = new Date(epochMs);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}000`;
}

export function hasChanges(outcome: Pick<StateOutcome, 'changes'> | undefined): boolean {
  return outcome !== undefined && Object.keys(outcome.changes).length > 0;
}

/** Salt's retcode for a state run: 0 all good (or test=True predictions), 2 a state failed. */
export function runRetcode(results: StateResults): number {
  return Object.values(results).some((result) => result.result === false) ? 2 : 0;
}
