import { resolveApi, request } from '../api-client.js';
import { isPhoenixError } from '@phoenix/protocol/errors';
import { emit, type OutputFormat } from '../output.js';

export interface JobsOptions {
  limit?: number;
  out?: OutputFormat;
  api?: string;
  token?: string;
  ca?: string;
}

interface Job {
  jid: string;
  fun: string;
  target: string;
  submitter: string;
  expected: string[];
  skipped?: Array<{ minionId: string; reason: string }>;
  notConnected?: string[];
}

/** `phoenix jobs list`: the job cache, readable from any master. */
export async function list(options: JobsOptions): Promise<number> {
  const api = await resolveApi(options);
  const page = await request<{ jobs: Job[] }>(api, 'GET', `/jobs?limit=${options.limit ?? 50}`);
  await emit(options.out ?? 'text', page, () =>
    page.jobs.length === 0
      ? 'No jobs.'
      : page.jobs
          .map(
            (j) =>
              `${j.jid}  ${j.fun}  ${j.target}  (${j.expected.length} minions${j.skipped?.length ? `, ${j.skipped.length} skipped` : ''}, by ${j.submitter})`,
          )
          .join('\n'),
  );
  return 0;
}

/** `phoenix jobs show JID`: one job's returns, and who has not returned. */
export async function show(jid: string, options: JobsOptions): Promise<number> {
  const api = await resolveApi(options);
  let shown: {
    job: Job;
    returns: Array<{ minionId: string; success: boolean; ret: unknown }>;
    missing: string[];
    notConnected?: string[];
  };
  try {
    shown = await request<typeof shown>(api, 'GET', `/jobs/${encodeURIComponent(jid)}`);
  } catch (err) {
    // A batch rollout's id (phoenix run -b --async prints it): shown as the run it is.
    if (!isPhoenixError(err, 'PHX_CLI_API_ERROR') || err.details.apiCode !== 'PHX_API_NOT_FOUND') throw err;
    const { showRun } = await import('./runs.js');
    return showRun(api, jid, options.out ?? 'text', err);
  }
  await emit(options.out ?? 'text', shown, () =>
    [
      `${shown.job.jid}  ${shown.job.fun}  ${shown.job.target}`,
      ...shown.returns.map((r) => `  ${r.minionId}: ${r.success ? 'ok' : 'failed'}  ${JSON.stringify(r.ret)}`),
      ...shown.missing.map((id) => `  ${id}: no return`),
      ...(shown.notConnected ?? []).map((id) => `  ${id}: not connected`),
      ...(shown.job.skipped ?? []).map((s) => `  ${s.minionId}: skipped: ${s.reason}`),
    ].join('\n'),
  );
  return 0;
}
