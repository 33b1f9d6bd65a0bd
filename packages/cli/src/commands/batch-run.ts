import type { ApiClient } from '@phoenix/api/client';
import type { JobReturn, RunView, TargetType } from '@phoenix/api';
import { PhoenixError } from '@phoenix/protocol/errors';
import { formatHighstate } from '@phoenix/state/highstate-output';
import { CliErrors } from '../errors.js';
import { yaml, type RUN_OUTPUTS } from '../output.js';

/** What `phoenix run -b` sends besides the job itself. */
export interface BatchOptions {
  size: string;
  waitSeconds: number;
  maxFailures?: string;
}

type Return = Pick<JobReturn, 'minionId' | 'success' | 'retcode' | 'ret'>;

/** How often the run is read while it goes on: it is driven by a master, maybe not this one. */
const POLL_MS = 500;

/**
 * `phoenix run -b`: a rollout driven by a master (any master shows it). Prints each minion's
 * return as the run learns of it, and on a terminal the rollout's progress; ends with the run.
 * Exit status: 0 every minion succeeded; 1 one failed or did not return, or the rollout stopped
 * at its failure limit; 3 only minions that were not connected are missing.
 */
export async function batchRun(
  client: ApiClient,
  job: {
    target: string | string[];
    targetType: TargetType;
    fun: string;
    args: unknown[];
    kwargs: Record<string, unknown>;
    timeoutMs: number;
  },
  batch: BatchOptions,
  options: { out: (typeof RUN_OUTPUTS)[number]; colour: boolean; async: boolean; timeoutMs: number },
): Promise<number> {
  const answer = await client.call('submitJob', { body: { ...job, batch } });
  if (!('runId' in answer))
    throw new PhoenixError(CliErrors.PHX_CLI_API_ERROR, 'the API answered a rollout with a job');
  const submitted = {
    runId: answer.runId,
    minions: answer.minions,
    skipped: answer.skipped,
    notConnected: answer.notConnected,
  };
  const { runId, skipped, notConnected } = submitted;
  if (options.async) {
    process.stdout.write(options.out === 'json' ? `${JSON.stringify(submitted)}\n` : `${runId}\n`);
    return 0;
  }
  const text = options.out !== 'json' && options.out !== 'yaml';
  for (const { minionId, reason } of skipped) process.stderr.write(`${minionId}: skipped: ${reason}\n`);
  for (const id of notConnected) process.stderr.write(`${id}: not connected to any master; no job will be sent\n`);
  const progress = process.stderr.isTTY && text;
  const announced = new Set<string>();
  const shown = new Set<string>();
  const returns = new Map<string, Return>();
  const fetched = new Map<string, Map<string, Return>>();
  let view: RunView;
  for (;;) {
    view = await client.call('getRun', { params: { runId } });
    const done = view.run.status !== 'running';
    for (const sent of view.items[0]?.jobs ?? []) {
      if (!announced.has(sent.jid)) {
        announced.add(sent.jid);
        if (text) process.stderr.write(`Executing run on [${sent.minions.join(', ')}] (jid ${sent.jid})\n`);
      }
      const settled = Object.entries(sent.outcomes).filter(([id]) => !shown.has(id));
      if (settled.length === 0) continue;
      // The returns themselves are in the job: read it again only when it has returns not shown yet.
      if (settled.some(([, o]) => o.timedOut !== true && o.missed === undefined)) {
        const stored = await client.call('getJob', { params: { jid: sent.jid } });
        fetched.set(sent.jid, new Map(stored.returns.map((r) => [r.minionId, r])));
      }
      for (const [id, outcome] of settled) {
        shown.add(id);
        if (outcome.missed !== undefined) {
          process.stderr.write(`${id}: never ran: ${outcome.missed}\n`);
          continue;
        }
        if (outcome.timedOut === true) {
          process.stderr.write(`${id}: did not return within ${job.timeoutMs / 1000} s\n`);
          continue;
        }
        const ret = fetched.get(sent.jid)?.get(id);
        if (ret === undefined) continue;
        returns.set(id, ret);
        if (options.out === 'nested') process.stdout.write(await nested(ret));
        if (options.out === 'highstate')
          process.stdout.write(`${formatHighstate(ret.ret, { colour: options.colour, minion: id })}\n`);
      }
    }
    if (progress) {
      const total = view.items[0]?.minions.length ?? 0;
      const failed = [...returns.values()].filter((r) => !(r.success && r.retcode === 0)).length;
      process.stderr.write(`\r${shown.size}/${total} done, ${failed} failed`);
    }
    if (done) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  if (progress) process.stderr.write('\n');
  const items = view.items[0];
  const dispatched = new Set((items?.jobs ?? []).flatMap((j) => j.minions));
  const outcomes = new Map((items?.jobs ?? []).flatMap((j) => Object.entries(j.outcomes)));
  const neverRan = [
    ...(items?.notConnected ?? notConnected),
    ...(items?.minions ?? []).filter((id) => !dispatched.has(id)),
    ...[...outcomes].filter(([, o]) => o.missed !== undefined).map(([id]) => id),
  ];
  const failed = [...outcomes].filter(([, o]) => !o.ok && o.missed === undefined).map(([id]) => id);
  const document = {
    runId,
    status: view.run.status,
    summary: view.run.summary ?? '',
    returns: Object.fromEntries(
      [...returns.values()].map((r) => [r.minionId, { success: r.success, retcode: r.retcode, ret: r.ret }]),
    ),
    failed,
    neverRan,
    notConnected: items?.notConnected ?? notConnected,
    skipped: items?.skipped ?? skipped,
    jobs: (items?.jobs ?? []).map(({ jid, minions, sentAt }) => ({ jid, minions, sentAt })),
    drivers: view.run.drivers,
  };
  if (options.out === 'json') process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  else if (options.out === 'yaml') process.stdout.write(await yaml(document));
  else {
    process.stderr.write(`run ${runId} ${view.run.status}: ${document.summary}\n`);
    if (neverRan.length > 0) process.stderr.write(`never ran: ${neverRan.join(', ')}\n`);
  }
  if (view.run.status === 'succeeded') return 0;
  const onlyOffline = failed.length === 0 && neverRan.every((id) => document.notConnected.includes(id));
  return view.run.status === 'failed' && onlyOffline && neverRan.length > 0 ? 3 : 1;
}

async function nested(ret: Return): Promise<string> {
  const { formatNested } = await import('@phoenix/state/nested-output');
  const ok = ret.success && ret.retcode === 0;
  const note = ok ? undefined : `failed, retcode ${ret.retcode}`;
  return `${formatNested(ret.ret, { minion: ret.minionId, ...(note === undefined ? {} : { note }) })}\n`;
}
