import type { RouteOutput } from '@phoenix/api';
import { isPhoenixError } from '@phoenix/protocol/errors';
import { apiClient, resolveApi } from '../api-client.js';
import { CliErrors } from '../errors.js';
import { emit, type OutputFormat } from '../output.js';

export interface JobsOptions {
  limit?: number;
  out?: OutputFormat;
  api?: string;
  token?: string;
  ca?: string;
}

/** `phoenix jobs list`: the job cache, readable from any master. */
export async function list(options: JobsOptions): Promise<number> {
  const page = await apiClient(await resolveApi(options)).call('listJobs', { query: { limit: options.limit ?? 50 } });
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
  const client = apiClient(await resolveApi(options));
  let shown: RouteOutput<'getJob'>;
  try {
    shown = await client.call('getJob', { params: { jid } });
  } catch (err) {
    // A batch rollout's id (phoenix run -b --async prints it): shown as the run it is.
    if (!isPhoenixError(err, CliErrors.PHX_CLI_API_ERROR) || err.details.apiCode !== 'PHX_API_NOT_FOUND') throw err;
    const { showRun } = await import('./runs.js');
    return showRun(client, jid, options.out ?? 'text', err);
  }
  await emit(options.out ?? 'text', shown, () =>
    [
      `${shown.job.jid}  ${shown.job.fun}  ${shown.job.target}`,
      ...shown.returns.map((r) => `  ${r.minionId}: ${r.success ? 'ok' : 'failed'}  ${JSON.stringify(r.ret)}`),
      ...shown.missing.map((id) => `  ${id}: no return`),
      ...shown.notConnected.map((id) => `  ${id}: not connected`),
      ...(shown.job.skipped ?? []).map((s) => `  ${s.minionId}: skipped: ${s.reason}`),
    ].join('\n'),
  );
  return 0;
}
