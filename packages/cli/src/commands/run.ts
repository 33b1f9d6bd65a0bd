import { splitArguments } from '@phoenix/protocol/arguments';
import { isStateRun } from '@phoenix/protocol/state-functions';
import { formatHighstate, useColour } from '@phoenix/state/highstate-output';
import type { JobReturn, TargetType } from '@phoenix/api';
import { apiClient, resolveApi } from '../api-client.js';
import { yaml, type RUN_OUTPUTS } from '../output.js';
import { ProtocolErrors, PhoenixError, isPhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from '../errors.js';

/** `phoenix run`'s options, as program.ts declares them. */
export interface RunOptions {
  grain?: boolean;
  list?: boolean;
  compound?: boolean;
  pcre?: boolean;
  pillar?: boolean;
  timeout: number;
  async?: boolean;
  waitOffline?: boolean;
  /** `-b`: a batch size as typed (checked by program.ts), with --batch-wait and --max-failures. */
  batch?: string;
  batchWait?: number;
  maxFailures?: string;
  out?: (typeof RUN_OUTPUTS)[number];
  color: boolean;
  forceColor?: boolean;
  api?: string;
  token?: string;
  ca?: string;
}

/** Exit status when the only minions missing are those not connected to any master. */
export const EXIT_NOT_CONNECTED = 3;

/** Times in a row the job's stream may fail to open (every master tried each time) before the command gives up. */
const STREAM_TRIES = 5;

/**
 * `phoenix run`: Salt's `salt` command. Streams returns; reports at once the minions that are not
 * connected to any master. Exits 1 when a minion failed, did not answer or was skipped, 3 when
 * the only ones missing are not connected.
 */
export async function run(target: string, fun: string, words: string[], options: RunOptions): Promise<number> {
  if (options.pillar === true) {
    throw new PhoenixError(
      ProtocolErrors.PHX_CLI_USAGE,
      "phoenix run: Phoenix does not target by pillar (Salt's -I); target grains instead: -G 'KEY:VALUE' or G@ in -C",
    );
  }
  // Like salt: a state run is shown by the highstate outputter, anything else as nested YAML.
  const out = options.out ?? (isStateRun(fun) ? 'highstate' : 'nested');
  const colour = useColour({ noColor: !options.color, forceColor: options.forceColor === true }, process.stdout);
  const targetType = options.grain
    ? 'grain'
    : options.list
      ? 'list'
      : options.compound
        ? 'compound'
        : options.pcre
          ? 'pcre'
          : 'glob';
  const timeoutMs = Math.round(options.timeout * 1000);
  if (options.batch === undefined && (options.batchWait !== undefined || options.maxFailures !== undefined)) {
    throw new PhoenixError(
      ProtocolErrors.PHX_CLI_USAGE,
      'phoenix run: --batch-wait and --max-failures go with -b N|N%',
    );
  }
  const { args, kwargs } = splitArguments(words);
  const client = apiClient(await resolveApi(options));
  const job: {
    target: string | string[];
    targetType: TargetType;
    fun: string;
    args: unknown[];
    kwargs: Record<string, unknown>;
    timeoutMs: number;
  } = {
    target: targetType === 'list' ? target.split(',') : target,
    targetType,
    fun,
    args,
    kwargs,
    timeoutMs,
  };
  if (options.batch !== undefined) {
    const { batchRun } = await import('./batch-run.js');
    return batchRun(
      client,
      job,
      {
        size: options.batch,
        waitSeconds: options.batchWait ?? 0,
        ...(options.maxFailures === undefined ? {} : { maxFailures: options.maxFailures }),
      },
      { out, colour, async: options.async === true, timeoutMs },
    );
  }
  const submitted = await client.call('submitJob', { body: job });
  if (!('jid' in submitted)) throw new PhoenixError(CliErrors.PHX_CLI_API_ERROR, 'the API answered a job with a run');
  // Minions the master did not send the job to (their state runs are disabled): said, and a failure.
  const skipped = submitted.skipped;
  for (const { minionId, reason } of skipped) process.stderr.write(`${minionId}: skipped: ${reason}\n`);
  const notConnected = submitted.notConnected;
  if (options.async) {
    process.stdout.write(
      out === 'json'
        ? `${JSON.stringify({ jid: submitted.jid, minions: submitted.minions, skipped, notConnected })}\n`
        : `${submitted.jid}\n`,
    );
    return 0;
  }
  if (!options.waitOffline) {
    for (const id of notConnected) process.stderr.write(`${id}: not connected to any master; not waiting for it\n`);
  }
  const returns = new Map<string, JobReturn>();
  let missing: string[] = [];
  let offline: string[] = notConnected;
  const progress = process.stderr.isTTY && out !== 'json';
  let printing = Promise.resolve();
  // A stream that drops before `done` (its master went away) is opened again, on another master if
  // need be: the stream starts with the returns stored so far, and each minion is shown once.
  await client.follow(
    'jobStream',
    { params: { jid: submitted.jid }, query: { timeoutMs, ...(options.waitOffline ? { waitOffline: 'true' } : {}) } },
    ({ event, data }) => {
      if (event === 'return') {
        const ret = data;
        if (returns.has(ret.minionId)) return;
        returns.set(ret.minionId, ret);
        printing = printing.then(async () => {
          if (out === 'nested') process.stdout.write(await nested(ret));
          if (out === 'highstate')
            process.stdout.write(`${formatHighstate(ret.ret, { colour, minion: ret.minionId })}\n`);
        });
        if (progress) process.stderr.write(`\r${returns.size}/${submitted.minions.length} returned`);
      } else if (event === 'done') {
        missing = data.missing;
        offline = data.notConnected;
      }
    },
    {
      signal: new AbortController().signal,
      until: (message) => message.event === 'done',
      // The API refusing the stream (no such job, a token gone) will not change by asking again.
      retryable: (err) => !isPhoenixError(err, CliErrors.PHX_CLI_API_ERROR),
      maxFailures: STREAM_TRIES,
    },
  );
  await printing;
  if (progress) process.stderr.write('\n');
  const failed = [...returns.values()].filter((r) => !r.success).map((r) => r.minionId);
  const document = {
    jid: submitted.jid,
    returns: Object.fromEntries(
      [...returns.values()].map((r) => [r.minionId, { success: r.success, retcode: r.retcode, ret: r.ret }]),
    ),
    failed,
    missing,
    notConnected: offline,
    skipped,
  };
  if (out === 'json') process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  if (out === 'yaml') process.stdout.write(await yaml(document));
  for (const id of missing) process.stderr.write(`${id}: did not return within ${options.timeout} s\n`);
  if (options.waitOffline) for (const id of offline) process.stderr.write(`${id}: not connected; did not return\n`);
  if (failed.length > 0 || missing.length > 0 || skipped.length > 0) return 1;
  return offline.length > 0 ? EXIT_NOT_CONNECTED : 0;
}

/** Not a state run: the nested outputter, loaded only when a return is shown that way (it brings YAML). */
async function nested(ret: JobReturn): Promise<string> {
  const { formatNested } = await import('@phoenix/state/nested-output');
  const note = ret.success ? undefined : `failed, retcode ${ret.retcode}`;
  return `${formatNested(ret.ret, { minion: ret.minionId, ...(note === undefined ? {} : { note }) })}\n`;
}
