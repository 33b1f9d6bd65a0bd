import { stringify } from 'yaml';
import { isStateRun, splitArguments } from '@phoenix/protocol';
import { formatHighstate, formatNested, useColour } from '@phoenix/state';
import { resolveApi, request, stream } from '../api-client.js';
import { USAGES } from '../usage.js';
import { parseCommand } from '../args.js';
import { CliError, CliErrorCodes } from '../errors.js';

const RUN_USAGE = USAGES.run;

interface Skipped {
  minionId: string;
  reason: string;
}

interface Return {
  minionId: string;
  success: boolean;
  retcode: number;
  ret: unknown;
}

/** `phoenix run`: Salt's `salt` command. Streams returns; exits 1 when a minion failed, did not answer or was skipped. */
export async function run(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand('run', argv, {
    grain: { type: 'boolean', short: 'G', default: false },
    list: { type: 'boolean', short: 'L', default: false },
    compound: { type: 'boolean', short: 'C', default: false },
    pcre: { type: 'boolean', short: 'E', default: false },
    timeout: { type: 'string', short: 't' },
    async: { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-color': { type: 'boolean', default: false },
    'force-color': { type: 'boolean', default: false },
    api: { type: 'string' },
    token: { type: 'string' },
  });
  const [target, fun, ...rest] = positionals;
  if (target === undefined || fun === undefined) throw new CliError(CliErrorCodes.USAGE, `usage: ${RUN_USAGE}`);
  // Like salt: a state run is shown by the highstate outputter, anything else as nested YAML.
  const out = values.out ?? (isStateRun(fun) ? 'highstate' : 'nested');
  if (!['nested', 'highstate', 'yaml', 'json'].includes(out)) {
    throw new CliError(CliErrorCodes.USAGE, `--out must be one of nested, highstate, yaml, json, not "${out}"`);
  }
  const colour = useColour({ noColor: values['no-color'], forceColor: values['force-color'] }, process.stdout);
  const chosen = (['grain', 'list', 'compound', 'pcre'] as const).filter((type) => values[type]);
  if (chosen.length > 1) throw new CliError(CliErrorCodes.USAGE, 'choose one of -G, -L, -C and -E');
  const targetType = chosen[0] ?? 'glob';
  const timeoutS = values.timeout === undefined ? 30 : Number(values.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 86_400) {
    throw new CliError(CliErrorCodes.USAGE, `--timeout must be seconds from 1 to 86400, not "${values.timeout}"`);
  }
  const { args, kwargs } = splitArguments(rest);
  const api = await resolveApi(values);
  const submitted = await request<{ jid: string; minions: string[]; skipped?: Skipped[] }>(api, 'POST', '/jobs', {
    target: targetType === 'list' ? target.split(',') : target,
    targetType,
    fun,
    args,
    kwargs,
  });
  // Minions the master did not send the job to (their state runs are disabled): said, and a failure.
  const skipped = submitted.skipped ?? [];
  for (const { minionId, reason } of skipped) process.stderr.write(`${minionId}: skipped: ${reason}\n`);
  if (values.async) {
    process.stdout.write(
      out === 'json'
        ? `${JSON.stringify({ jid: submitted.jid, minions: submitted.minions, skipped })}\n`
        : `${submitted.jid}\n`,
    );
    return 0;
  }
  const returns = new Map<string, Return>();
  let missing: string[] = [];
  const progress = process.stderr.isTTY && out !== 'json';
  await stream(api, `/jobs/${submitted.jid}/stream?timeoutMs=${Math.round(timeoutS * 1000)}`, (event, data) => {
    if (event === 'return') {
      const ret = data as Return;
      returns.set(ret.minionId, ret);
      if (out === 'nested') {
        const note = ret.success ? undefined : `failed, retcode ${ret.retcode}`;
        process.stdout.write(`${formatNested(ret.ret, { minion: ret.minionId, note })}\n`);
      }
      if (out === 'highstate') process.stdout.write(`${formatHighstate(ret.ret, { colour, minion: ret.minionId })}\n`);
      if (progress) process.stderr.write(`\r${returns.size}/${submitted.minions.length} returned`);
    } else if (event === 'done') {
      missing = (data as { missing: string[] }).missing;
    }
  });
  if (progress) process.stderr.write('\n');
  const failed = [...returns.values()].filter((r) => !r.success).map((r) => r.minionId);
  const document = {
    jid: submitted.jid,
    returns: Object.fromEntries(
      [...returns.values()].map((r) => [r.minionId, { success: r.success, retcode: r.retcode, ret: r.ret }]),
    ),
    failed,
    missing,
    skipped,
  };
  if (out === 'json') process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  if (out === 'yaml') process.stdout.write(stringify(document));
  for (const id of missing) process.stderr.write(`${id}: did not return within ${timeoutS} s\n`);
  return failed.length > 0 || missing.length > 0 || skipped.length > 0 ? 1 : 0;
}
