import { useState } from 'preact/hooks';
import type { JobReturn } from '@phoenix/api';
import { ResultFilters, ReturnView, stateResults, summarise, type ResultFilter } from './results.js';

export interface Skipped {
  minionId: string;
  reason: string;
}

/**
 * One row per minion the target selected, as `phoenix jobs show` lists them: its return as it
 * arrived, that it is still awaited (or never came), that it was skipped and why, or that it was
 * connected to no master when the job was sent.
 */
export function ReturnsTable({
  expected,
  returns,
  finished,
  skipped = [],
  notConnected = [],
}: {
  expected: readonly string[];
  returns: ReadonlyMap<string, JobReturn>;
  finished: boolean;
  skipped?: readonly Skipped[];
  notConnected?: readonly string[];
}) {
  const [filter, setFilter] = useState<ResultFilter>({ onlyFailures: false, onlyChanges: false });
  const offline = new Set(notConnected);
  const skips = new Map(skipped.map((s) => [s.minionId, s.reason]));
  const ids = [...new Set([...expected, ...returns.keys(), ...skips.keys(), ...offline])].sort();
  // "Only failures" leaves out the minions that returned and failed nothing.
  const failedNothing = (answer: JobReturn | undefined): boolean => {
    if (answer === undefined || !answer.success) return false;
    const states = stateResults(answer.ret);
    return states === undefined || summarise(states).failed === 0;
  };
  const shown = filter.onlyFailures ? ids.filter((id) => !failedNothing(returns.get(id))) : ids;
  return (
    <>
      <ResultFilters filter={filter} onChange={setFilter} />
      <table class="returns">
        <thead>
          <tr>
            <th scope="col">Minion</th>
            <th scope="col">Result</th>
            <th scope="col">Return</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((id) => {
            const answer = returns.get(id);
            const reason = skips.get(id);
            const state =
              answer !== undefined
                ? 'returned'
                : reason !== undefined
                  ? 'skipped'
                  : offline.has(id)
                    ? 'offline'
                    : 'waiting';
            return (
              <tr key={id} data-return-minion={id} data-state={state}>
                <td>{id}</td>
                <td>
                  {answer !== undefined ? (
                    <span class={answer.success ? 'badge success' : 'badge failure'}>
                      {answer.success ? 'ok' : `failed (${answer.retcode})`}
                    </span>
                  ) : reason !== undefined ? (
                    <span class="badge warn">skipped</span>
                  ) : offline.has(id) ? (
                    <span class="badge bad">not connected</span>
                  ) : (
                    <span class={finished ? 'badge bad' : 'badge waiting'}>{finished ? 'no return' : 'waiting…'}</span>
                  )}
                </td>
                <td>
                  {answer !== undefined ? (
                    <ReturnView ret={answer.ret} filter={filter} />
                  ) : reason !== undefined ? (
                    <span class="reason">skipped: {reason}</span>
                  ) : offline.has(id) ? (
                    <span class="reason">connected to no master when the job was sent</span>
                  ) : (
                    ''
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}
