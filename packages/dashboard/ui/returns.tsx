import type { JobReturn } from '@phoenix/api';

/** One row per expected minion: its return as it arrived, or that it is still awaited (or never came). */
export function ReturnsTable({
  expected,
  returns,
  finished,
}: {
  expected: readonly string[];
  returns: ReadonlyMap<string, JobReturn>;
  finished: boolean;
}) {
  const ids = [...new Set([...expected, ...returns.keys()])].sort();
  return (
    <table class="returns">
      <thead>
        <tr>
          <th>Minion</th>
          <th>Result</th>
          <th>Return</th>
        </tr>
      </thead>
      <tbody>
        {ids.map((id) => {
          const answer = returns.get(id);
          return (
            <tr key={id} data-return-minion={id} data-state={answer === undefined ? 'waiting' : 'returned'}>
              <td>{id}</td>
              <td>
                {answer === undefined ? (
                  <span class={finished ? 'badge bad' : 'badge waiting'}>{finished ? 'no return' : 'waiting…'}</span>
                ) : (
                  <span class={answer.success ? 'badge success' : 'badge failure'}>
                    {answer.success ? 'ok' : `failed (${answer.retcode})`}
                  </span>
                )}
              </td>
              <td>{answer === undefined ? '' : <pre>{JSON.stringify(answer.ret, null, 2)}</pre>}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
