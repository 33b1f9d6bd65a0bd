import { z } from 'zod';
import { isStateRun } from './state-functions.js';

/**
 * The minion's killswitch as a grain (Salt's `state_runs_disabled`): set by `state.disable`, and at
 * start-up when the killswitch survives a restart; removed by `state.enable`. It travels with the
 * other grains, so every master knows which minions refuse state runs.
 */
export const STATE_RUNS_DISABLED_GRAIN = 'state_runs_disabled';

export const StateRunsDisabledSchema = z.object({
  by: z.string(),
  /** ISO 8601. */
  at: z.string(),
  reason: z.string(),
});
export type StateRunsDisabled = z.output<typeof StateRunsDisabledSchema>;

/** Who disabled state runs on a minion, from its grains; undefined when they are allowed. */
export function stateRunsDisabled(grains: Readonly<Record<string, unknown>>): StateRunsDisabled | undefined {
  const value = grains[STATE_RUNS_DISABLED_GRAIN];
  if (value === undefined || value === null) return undefined;
  const parsed = StateRunsDisabledSchema.safeParse(value);
  // A grain in another shape (set by hand, or by an older minion) still says "disabled".
  return parsed.success ? parsed.data : { by: 'unknown', at: 'unknown', reason: JSON.stringify(value) };
}

/** Salt's `test=True` as a job's keyword argument may carry it (a boolean, or text from a command line). */
function isTestRun(kwargs: Readonly<Record<string, unknown>>): boolean {
  const test = kwargs.test;
  return test === true || test === 'True' || test === 'true' || test === '1' || test === 'yes';
}

/**
 * Whether a job skips minions whose state runs are disabled: a state run that acts (test=True
 * only predicts, and is allowed). Anything else — test.ping, cmd.run, state.enable — goes to them.
 */
export function skipsDisabledMinions(fun: string, kwargs: Readonly<Record<string, unknown>>): boolean {
  return isStateRun(fun) && !isTestRun(kwargs);
}

/** The line an operator reads for a skipped minion: "state runs disabled by X at T: reason". */
export function disabledSkipReason(disabled: StateRunsDisabled): string {
  return `state runs disabled by ${disabled.by} at ${disabled.at}: ${disabled.reason}`;
}
