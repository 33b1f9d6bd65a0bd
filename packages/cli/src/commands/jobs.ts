import { resolveApi, request } from '../api-client.js';
import { USAGES } from '../usage.js';
import { parseCommand } from '../args.js';
import { CliError, CliErrorCodes } from '../errors.js';
import { emit, outputFormat } from '../output.js';

const JOBS_USAGE = USAGES.jobs;

interface Job {
  jid: string;
  fun: string;
  target: string;
  submitter: string;
  expected: string[];
  skipped?: Array<{ minionId: string; reason: string }>;
}

/** `phoenix jobs`: the job cache, readable from any master. */
export async function jobs(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand('jobs', argv, {
    limit: { type: 'string' },
    out: { type: 'string' },
    api: { type: 'string' },
    token: { type: 'string' },
  });
  const out = outputFormat(values.out);
  const [action, jid] = positionals;
  const api = await resolveApi(values);
  if (action === 'list' && jid === undefined) {
    const page = await request<{ jobs: Job[] }>(api, 'GET', `/jobs?limit=${Number(values.limit ?? 50) || 50}`);
    emit(out, page, () =>
      page.jobs
        .map(
          (j) =>
            `${j.jid}  ${j.fun}  ${j.target}  (${j.expected.length} minions${j.skipped?.length ? `, ${j.skipped.length} skipped` : ''}, by ${j.submitter})`,
        )
        .join('\n'),
    );
    return 0;
  }
  if (action === 'show' && jid !== undefined) {
    const shown = await request<{
      job: Job;
      returns: Array<{ minionId: string; success: boolean; ret: unknown }>;
      missing: string[];
    }>(api, 'GET', `/jobs/${encodeURIComponent(jid)}`);
    emit(out, shown, () =>
      [
        `${shown.job.jid}  ${shown.job.fun}  ${shown.job.target}`,
        ...shown.returns.map((r) => `  ${r.minionId}: ${r.success ? 'ok' : 'failed'}  ${JSON.stringify(r.ret)}`),
        ...shown.missing.map((id) => `  ${id}: no return`),
        ...(shown.job.skipped ?? []).map((s) => `  ${s.minionId}: skipped: ${s.reason}`),
      ].join('\n'),
    );
    return 0;
  }
  throw new CliError(CliErrorCodes.USAGE, `usage: ${JOBS_USAGE}`);
}
