import { useEffect, useState } from 'preact/hooks';
import type { RouteOutput } from '@phoenix/api';
import { client } from './api.js';
import { ago, errorText } from './format.js';
import { duration, jobOutcome } from './job-outcome.js';
import { ReturnsTable } from './returns.js';

type Shown = RouteOutput<'getJob'>;
const POLL_MS = 1_000;

/** One job at its own URL (`#/jobs/JID`): what was run, by whom, its outcome and every minion's result. */
export function JobPage({ jid }: { jid: string }) {
  const [shown, setShown] = useState<Shown | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const read = (): void => {
      client
        .call('getJob', { params: { jid } })
        .then((answer) => {
          if (stopped) return;
          setShown(answer);
          setError(undefined);
          // Read again while minions are still answering.
          const outcome = jobOutcome(answer.job, answer.returns, answer.missing, answer.notConnected, Date.now());
          if (outcome.result === 'running') timer = setTimeout(read, POLL_MS);
        })
        .catch((err: unknown) => !stopped && setError(errorText(err)));
    };
    read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [jid]);

  const outcome =
    shown === undefined
      ? undefined
      : jobOutcome(shown.job, shown.returns, shown.missing, shown.notConnected, Date.now());
  return (
    <main>
      <section class="wide" id="job-detail" data-jid={jid} data-result={outcome?.result ?? ''}>
        <p>
          <a href="#/">← Dashboard</a>
        </p>
        <h2>
          Job <code>{jid}</code>
        </h2>
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        {shown !== undefined && outcome !== undefined && (
          <>
            <dl class="facts">
              <dt>Function</dt>
              <dd>
                <code>{shown.job.fun}</code>
              </dd>
              <dt>Arguments</dt>
              <dd>
                <code>
                  {JSON.stringify(shown.job.args)} {JSON.stringify(shown.job.kwargs)}
                </code>
              </dd>
              <dt>Target</dt>
              <dd>
                {shown.job.target} <span class="muted">({shown.job.targetType})</span>
              </dd>
              <dt>Submitted</dt>
              <dd>
                by {shown.job.submitter} on {shown.job.originMaster}, {ago(shown.job.createdAt)}
              </dd>
              <dt>Result</dt>
              <dd id="job-outcome">
                <span class={`badge ${outcome.result}`}>{outcome.result}</span> {outcome.returned} of {outcome.expected}{' '}
                returned
                {(shown.job.skipped ?? []).length > 0 && `, ${(shown.job.skipped ?? []).length} skipped`}
                {outcome.failed > 0 && `, ${outcome.failed} failed`} in {duration(outcome.durationMs)}
              </dd>
            </dl>
            <ReturnsTable
              expected={shown.job.expected}
              returns={new Map(shown.returns.map((r) => [r.minionId, r]))}
              finished={outcome.result !== 'running'}
              skipped={shown.job.skipped ?? []}
              notConnected={shown.notConnected}
            />
          </>
        )}
      </section>
    </main>
  );
}
