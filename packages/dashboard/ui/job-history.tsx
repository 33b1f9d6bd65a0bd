import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { client } from './api.js';
import { ago, errorText } from './format.js';
import { coalesce, useClusterEvents, type ClusterEventFeed } from './live.js';
import { ReturnsTable } from './returns.js';
import type { Job, JobReturn } from '@phoenix/api';

const PAGE = 25;

interface Detail {
  job: Job;
  returns: Map<string, JobReturn>;
  missing: string[];
  notConnected: string[];
}

/** Recent jobs, newest first; a click shows that job's returns. */
export function JobHistory({ feed }: { feed: ClusterEventFeed }) {
  const [jobs, setJobs] = useState<Job[] | undefined>();
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [detail, setDetail] = useState<Detail | undefined>();

  const reload = useCallback(() => {
    client
      .call('listJobs', { query: { limit: PAGE } })
      .then((page) => {
        setJobs(page.jobs);
        setCursor(page.cursor);
        setError(undefined);
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, []);
  useEffect(() => {
    reload();
    return feed.onReconnect(reload);
  }, [feed, reload]);
  const reloadSoon = useMemo(() => coalesce(reload, 300), [reload]);
  useClusterEvents(feed, ['job/submitted'], reloadSoon);

  const more = (): void => {
    if (cursor === undefined) return;
    client
      .call('listJobs', { query: { limit: PAGE, cursor } })
      .then((page) => {
        setJobs((old) => [...(old ?? []), ...page.jobs]);
        setCursor(page.cursor);
      })
      .catch((err: unknown) => setError(errorText(err)));
  };
  const show = (jid: string): void => {
    client
      .call('getJob', { params: { jid } })
      .then((answer) =>
        setDetail({
          job: answer.job,
          returns: new Map(answer.returns.map((r) => [r.minionId, r])),
          missing: answer.missing,
          notConnected: answer.notConnected,
        }),
      )
      .catch((err: unknown) => setError(errorText(err)));
  };

  return (
    <section class="wide" id="job-history">
      <h2>
        Job history{' '}
        <button type="button" name="refresh-jobs" onClick={reload}>
          Refresh
        </button>
      </h2>
      {error !== undefined && <p class="error">{error}</p>}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Job</th>
              <th>Function</th>
              <th>Target</th>
              <th>Minions</th>
              <th>By</th>
              <th>When</th>
            </tr>
          </thead>
          <tbody>
            {(jobs ?? []).map((job) => (
              <tr
                key={job.jid}
                data-jid={job.jid}
                class={detail?.job.jid === job.jid ? 'clickable selected' : 'clickable'}
                onClick={() => show(job.jid)}
              >
                <td>
                  <code>{job.jid}</code>
                </td>
                <td>{job.fun}</td>
                <td>
                  {job.target} <span class="muted">({job.targetType})</span>
                </td>
                <td>{job.expected.length}</td>
                <td>{job.submitter}</td>
                <td>{ago(job.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {cursor !== undefined && (
        <button type="button" name="more-jobs" onClick={more}>
          Older jobs
        </button>
      )}
      {detail !== undefined && (
        <div id="job-detail" data-jid={detail.job.jid}>
          <h2>
            {detail.job.fun} <code>{detail.job.jid}</code>{' '}
            <span class="count">
              {detail.returns.size} of {detail.job.expected.length} returned
              {(detail.job.skipped ?? []).length > 0 && `, ${(detail.job.skipped ?? []).length} skipped`}
            </span>
          </h2>
          <ReturnsTable
            expected={detail.job.expected}
            returns={detail.returns}
            finished={detail.missing.length === 0}
            skipped={detail.job.skipped ?? []}
            notConnected={detail.notConnected}
          />
        </div>
      )}
    </section>
  );
}
