import type { ApiClient } from '@phoenix/api/client';
import type { RunView } from '@phoenix/api';
import { apiClient, resolveApi } from '../api-client.js';
import { isPhoenixError, type PhoenixError } from '@phoenix/protocol/errors';
import { emit, type OutputFormat } from '../output.js';

export interface RunsOptions {
  limit?: number;
  out?: OutputFormat;
  api?: string;
  token?: string;
  ca?: string;
}

/** `phoenix orchestrations list`: recent runs (orchestrations and batch rollouts), newest first. */
export async function list(options: RunsOptions): Promise<number> {
  const page = await apiClient(await resolveApi(options)).call('listRuns', { query: { limit: options.limit ?? 50 } });
  await emit(options.out ?? 'text', page, () =>
    page.runs.length === 0
      ? 'No runs.'
      : page.runs
          .map(
            (r) =>
              `${r.runId}  ${r.kind}  ${r.status}  ${r.title}  (by ${r.submitter}, driven by ${r.drivers.join(' then ')})`,
          )
          .join('\n'),
  );
  return 0;
}

/** `phoenix orchestrations show ID`: a run as it stands, from any master. */
export async function show(runId: string, options: RunsOptions): Promise<number> {
  return showRun(apiClient(await resolveApi(options)), runId, options.out ?? 'text');
}

/**
 * A run as it stands now: its status, who drives it, and each step with the jobs it sent and their
 * minions' outcomes. `notFound` is the error to raise when there is no such run either.
 */
export async function showRun(
  client: ApiClient,
  runId: string,
  out: OutputFormat,
  notFound?: PhoenixError,
): Promise<number> {
  let view: RunView;
  try {
    view = await client.call('getRun', { params: { runId } });
  } catch (err) {
    if (
      notFound !== undefined &&
      isPhoenixError(err, 'PHX_CLI_API_ERROR') &&
      err.details.apiCode === 'PHX_API_NOT_FOUND'
    )
      throw notFound;
    throw err;
  }
  const { run } = view;
  await emit(out, view, () => {
    const lines = [
      `${run.runId}  ${run.kind}  ${run.title}`,
      `  status: ${run.status}${run.summary === undefined ? '' : ` (${run.summary})`}`,
      `  driven by: ${run.drivers.join(', then ')}${run.lease === undefined ? '' : ` (now ${run.lease.holder})`}`,
    ];
    for (const [index, step] of Object.entries(run.steps)) {
      const result =
        step.result === undefined ? '' : `, result ${step.result === null ? 'None' : step.result ? 'True' : 'False'}`;
      lines.push(
        `  step ${index}: ${step.status}${result}${step.comment === undefined ? '' : `: ${step.comment.split('\n')[0]}`}`,
      );
    }
    for (const item of view.items) {
      lines.push(`  step ${item.step}: ${item.minions.length} minions`);
      for (const job of item.jobs) {
        const states = job.minions.map((id) => {
          const o = job.outcomes[id];
          if (o === undefined) return `${id} running`;
          if (o.missed !== undefined) return `${id} never ran (${o.missed})`;
          if (o.timedOut === true) return `${id} did not return`;
          return o.ok ? `${id} ok` : `${id} failed (retcode ${o.retcode})`;
        });
        lines.push(`    ${job.jid} (sent by ${job.sentBy}): ${states.join(', ')}`);
      }
      const sent = new Set(item.jobs.flatMap((j) => j.minions));
      const never = [...item.notConnected, ...item.minions.filter((id) => !sent.has(id))];
      if (run.status !== 'running' && never.length > 0) lines.push(`    never ran: ${never.join(', ')}`);
    }
    return lines.join('\n');
  });
  return run.status === 'running' || run.status === 'succeeded' ? 0 : 1;
}
