import type { Job, JobReturn } from '@phoenix/api';
import { stateResults, summarise } from './results.js';

/** How long a job with minions still to answer counts as running (the master's default job timeout). */
export const RUNNING_FOR_MS = 120_000;

export type JobResult = 'ok' | 'failed' | 'running' | 'incomplete';

/** A job's outcome, from its record and returns: what the history's Result column says. */
export interface JobOutcome {
  result: JobResult;
  returned: number;
  expected: number;
  failed: number;
  /** From submission to the last return; undefined before the first. */
  durationMs: number | undefined;
}

/**
 * ok: every expected minion returned and none failed (a state run: no state failed);
 * failed: one failed, or was skipped or connected to no master (as phoenix run exits non-zero);
 * running: some have yet to answer and the job is young; incomplete: they never did.
 */
export function jobOutcome(
  job: Job,
  returns: readonly JobReturn[],
  missing: readonly string[],
  notConnected: readonly string[],
  now: number,
): JobOutcome {
  const failed = returns.filter((r) => {
    if (!r.success) return true;
    const states = stateResults(r.ret);
    return states !== undefined && summarise(states).failed > 0;
  }).length;
  const last = returns.reduce((latest, r) => Math.max(latest, r.receivedAt), 0);
  const young = now - job.createdAt < RUNNING_FOR_MS;
  const result: JobResult =
    missing.length > 0 && young
      ? 'running'
      : failed > 0 || notConnected.length > 0 || (job.skipped ?? []).length > 0
        ? 'failed'
        : missing.length > 0
          ? 'incomplete'
          : 'ok';
  return {
    result,
    returned: returns.length,
    expected: job.expected.length,
    failed,
    durationMs: returns.length === 0 ? undefined : Math.max(0, last - job.createdAt),
  };
}

/**
 * The outcome from the job's row alone: the summary the master it was submitted on keeps there
 * (what a listing shows, with no read of the returns), or nothing to wait for (every selected
 * minion skipped). Undefined when the row cannot tell (a job whose master stopped before it wrote
 * a summary): then its returns are read.
 */
export function listedOutcome(job: Job, now: number): JobOutcome | undefined {
  const skippedOrOffline = (job.skipped ?? []).length > 0 || (job.notConnected ?? []).length > 0;
  const summary = job.summary;
  const young = now - job.createdAt < RUNNING_FOR_MS;
  if (summary === undefined) {
    if (job.expected.length > 0) return young ? running(job) : undefined;
    return { result: skippedOrOffline ? 'failed' : 'ok', returned: 0, expected: 0, failed: 0, durationMs: undefined };
  }
  const missing = summary.returned < job.expected.length;
  if (missing && summary.final !== true && !young) return undefined;
  const result: JobResult =
    missing && summary.final !== true
      ? 'running'
      : summary.failed > 0 || skippedOrOffline
        ? 'failed'
        : missing
          ? 'incomplete'
          : 'ok';
  return {
    result,
    returned: summary.returned,
    expected: job.expected.length,
    failed: summary.failed,
    durationMs: summary.lastReturnAt === undefined ? undefined : Math.max(0, summary.lastReturnAt - job.createdAt),
  };
}

function running(job: Job): JobOutcome {
  return { result: 'running', returned: 0, expected: job.expected.length, failed: 0, durationMs: undefined };
}

/** "850 ms", "12.3 s", "4 min 5 s". */
export function duration(ms: number | undefined): string {
  if (ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
