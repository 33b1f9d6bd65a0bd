import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { client } from './api.js';
import { ago, errorText } from './format.js';
import { duration, jobOutcome, listedOutcome, type JobOutcome } from './job-outcome.js';
import { coalesce, useClusterEvents, type ClusterEventFeed } from './live.js';
import { jobHref } from './route.js';
import type { Job } from '@phoenix/api';

const PAGE = 25;

interface Filters {
  fun: string;
  submitter: string;
  target: string;
  /** yyyy-mm-dd: jobs submitted that day or later. */
  since: string;
}

const matches = (job: Job, f: Filters): boolean =>
  job.fun.toLowerCase().includes(f.fun.trim().toLowerCase()) &&
  job.submitter.toLowerCase().includes(f.submitter.trim().toLowerCase()) &&
  job.target.toLowerCase().includes(f.target.trim().toLowerCase()) &&
  (f.since === '' || job.createdAt >= new Date(`${f.since}T00:00:00`).getTime());

/**
 * Recent jobs, newest first, each with its outcome (ok, failed, running), duration and how many of
 * its minions returned, from the summary on the job's row: one listing read, whatever the number
 * of jobs (a job whose row cannot tell has its returns read, once it can no longer change); filters by function, submitter, target and
 * date over the jobs loaded. A job opens at its own URL.
 */
export function JobHistory({ feed }: { feed: ClusterEventFeed }) {
  const [jobs, setJobs] = useState<Job[] | undefined>();
  const [cursor, setCursor] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [outcomes, setOutcomes] = useState<ReadonlyMap<string, JobOutcome>>(new Map());
  const [filters, setFilters] = useState<Filters>({ fun: '', submitter: '', target: '', since: '' });
  // Outcomes that can no longer change are read once.
  const final = useRef(new Set<string>());

  const readOutcomes = useCallback((list: readonly Job[]) => {
    const listed = new Map<string, JobOutcome>();
    for (const job of list) {
      const outcome = listedOutcome(job, Date.now());
      if (outcome !== undefined) {
        listed.set(job.jid, outcome);
        continue;
      }
      if (final.current.has(job.jid)) continue;
      client
        .call('getJob', { params: { jid: job.jid } })
        .then((answer) => {
          const outcome = jobOutcome(answer.job, answer.returns, answer.missing, answer.notConnected, Date.now());
          if (outcome.result !== 'running') final.current.add(job.jid);
          setOutcomes((old) => new Map(old).set(job.jid, outcome));
        })
        .catch(() => undefined);
    }
    if (listed.size > 0) setOutcomes((old) => new Map([...old, ...listed]));
  }, []);
  const reload = useCallback(() => {
    client
      .call('listJobs', { query: { limit: PAGE } })
      .then((page) => {
        setJobs(page.jobs);
        setCursor(page.cursor);
        setError(undefined);
        readOutcomes(page.jobs);
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, [readOutcomes]);
  useEffect(() => {
    reload();
    return feed.onReconnect(reload);
  }, [feed, reload]);
  const reloadSoon = useMemo(() => coalesce(reload, 300), [reload]);
  // A return, and the job's summary written on its row after it (what the listing reads): a reload
  // on the return alone could read the row before the summary lands, and show the job running.
  useClusterEvents(feed, ['job/submitted', 'job/return', 'job/summarized'], reloadSoon);

  const more = (): void => {
    if (cursor === undefined) return;
    client
      .call('listJobs', { query: { limit: PAGE, cursor } })
      .then((page) => {
        setJobs((old) => [...(old ?? []), ...page.jobs]);
        setCursor(page.cursor);
        readOutcomes(page.jobs);
      })
      .catch((err: unknown) => setError(errorText(err)));
  };
  const shown = (jobs ?? []).filter((job) => matches(job, filters));
  const filter = (name: keyof Filters, label: string) => (
    <input
      type="search"
      name={`filter-${name}`}
      aria-label={label}
      placeholder={label}
      value={filters[name]}
      onInput={(e) => setFilters({ ...filters, [name]: e.currentTarget.value })}
    />
  );

  return (
    <section class="wide" id="job-history" aria-labelledby="job-history-title">
      <h2 id="job-history-title">
        Job history <span class="count">{jobs === undefined ? 'loading…' : `${shown.length} of ${jobs.length}`}</span>
        <button type="button" name="refresh-jobs" onClick={reload}>
          Refresh
        </button>
      </h2>
      <div class="row">
        {filter('fun', 'function')}
        {filter('submitter', 'submitter')}
        {filter('target', 'target')}
        <label>
          since{' '}
          <input
            type="date"
            name="filter-since"
            value={filters.since}
            onInput={(e) => setFilters({ ...filters, since: e.currentTarget.value })}
          />
        </label>
      </div>
      {error !== undefined && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Function</th>
              <th scope="col">Target</th>
              <th scope="col">Result</th>
              <th scope="col">Returned</th>
              <th scope="col">Duration</th>
              <th scope="col">By</th>
              <th scope="col">When</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((job) => {
              const outcome = outcomes.get(job.jid);
              return (
                <tr key={job.jid} data-jid={job.jid} data-result={outcome?.result ?? ''}>
                  <td>
                    <a href={jobHref(job.jid)}>
                      <code>{job.jid}</code>
                    </a>
                  </td>
                  <td>{job.fun}</td>
                  <td>
                    {job.target} <span class="muted">({job.targetType})</span>
                  </td>
                  <td>
                    {outcome === undefined ? (
                      <span class="muted">…</span>
                    ) : (
                      <span class={`badge ${outcome.result}`}>{outcome.result}</span>
                    )}
                  </td>
                  <td>
                    {outcome === undefined ? job.expected.length : `${outcome.returned}/${outcome.expected}`}
                    {(job.skipped ?? []).length > 0 && (
                      <span class="muted"> +{(job.skipped ?? []).length} skipped</span>
                    )}
                  </td>
                  <td>{duration(outcome?.durationMs)}</td>
                  <td>{job.submitter}</td>
                  <td title={new Date(job.createdAt).toISOString()}>{ago(job.createdAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {cursor !== undefined && (
        <button type="button" name="more-jobs" onClick={more}>
          Older jobs
        </button>
      )}
    </section>
  );
}
