import { parseArgs } from 'node:util';
import pino from 'pino';
import { isPhoenixError, loadConfig, PhoenixError, ProtocolErrors } from '@phoenix/protocol';
import { untilStopSignal } from '@phoenix/protocol/main';
import { MINION_ENV_PREFIX, MinionConfigSchema, type MinionConfig } from '../config.js';
import { describeMaster } from '../connection/master-address.js';
import { resolveMinionId } from '../identity.js';
import { createMasterListManager } from './from-config.js';
import type { MasterListOutcome } from './manager.js';
import { MinionErrors } from '../errors.js';

export const MASTER_LIST_USAGE = `usage: phoenix-minion master-list (--once | --watch) [--config FILE] [--out text|json]
  --once    read the masters table, apply the failover order, print what changed, exit
  --watch   the same every masterList.pollMs (±20%) until SIGTERM or SIGINT`;

/**
 * The manager's config without what only the agent needs (keys, cache): a host that runs a plain
 * salt-minion has none of those. Every other key is checked exactly as the agent checks it.
 */
const StandaloneConfigSchema = MinionConfigSchema.partial({ clusterPublicKey: true, pkiDir: true, cacheDir: true });

/**
 * `phoenix-minion master-list`: the manager as a command, for a plain salt-minion (Salt mode: the
 * drop-in plus its restart command) or to fix a phoenix-minion's config file by hand. Logs go to
 * stderr; stdout carries the result (one JSON document with `--out json`). Exit status: 0 applied
 * or nothing to do, 1 the table could not be read, had no live master, or a write or restart
 * failed, 2 a command line that could not be understood.
 */
export async function runMasterListCommand(argv: readonly string[], env = process.env): Promise<number> {
  let values: { once?: boolean; watch?: boolean; config?: string; out?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        once: { type: 'boolean' },
        watch: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        out: { type: 'string', default: 'text' },
      },
      strict: true,
    }));
    if (values.once === values.watch) {
      throw new PhoenixError(ProtocolErrors.PHX_CLI_USAGE, 'give exactly one of --once and --watch');
    }
    if (values.out !== 'text' && values.out !== 'json') {
      throw new PhoenixError(ProtocolErrors.PHX_CLI_USAGE, `--out ${values.out}: use text or json`);
    }
  } catch (err) {
    process.stderr.write(
      `phoenix-minion master-list: ${(err as Error).message} [${ProtocolErrors.PHX_CLI_USAGE.code}]\n${MASTER_LIST_USAGE}\n`,
    );
    return ProtocolErrors.PHX_CLI_USAGE.exit;
  }
  const out = values.out === 'json' ? 'json' : 'text';
  try {
    const configPath = values.config ?? env.PHOENIX_MINION_CONFIG;
    const config = await loadConfig(StandaloneConfigSchema, configPath, env, MINION_ENV_PREFIX);
    if (config.aws === undefined) {
      throw new PhoenixError(
        MinionErrors.PHX_MASTER_LIST_NO_TABLE,
        `no masters table to read: set \`aws\` (and \`tablePrefix\`) in ${configPath ?? 'the config'}`,
      );
    }
    // resolveMinionId reads only id, instanceId and imds, which this schema checks like the agent's.
    const { id } = await resolveMinionId(config as MinionConfig);
    const log = pino({ name: 'phoenix-minion', level: config.logLevel }, pino.destination(2)).child({ minionId: id });
    const manager = createMasterListManager(config, {
      minionId: id,
      ...(configPath === undefined ? {} : { configPath }),
      log,
      ...(values.watch ? { onOutcome: (outcome: MasterListOutcome) => print(outcome, out, true) } : {}),
    });
    if (values.once) {
      const outcome = await manager.refreshFromTableOutcome();
      await manager.stop();
      print(outcome, out, false);
      return outcome.error === undefined ? 0 : 1;
    }
    return await watch(manager, log);
  } catch (err) {
    return fail(err, out, 1);
  }
}

/** Polls until SIGTERM or SIGINT; a failed read is logged and tried again at the next poll. */
async function watch(manager: ReturnType<typeof createMasterListManager>, log: pino.Logger): Promise<number> {
  const stopped = untilStopSignal();
  // The first read happens at once: there is no connection to wait for.
  manager.start();
  const signal = await stopped;
  log.info({ signal }, 'stopping');
  await manager.stop();
  return 0;
}

function print(outcome: MasterListOutcome, out: 'text' | 'json', watching: boolean): void {
  if (out === 'json') {
    // --watch prints one document per line (JSON Lines); --once exactly one document.
    process.stdout.write(`${JSON.stringify(outcome, null, watching ? undefined : 2)}\n`);
    return;
  }
  if (watching && outcome.result === 'unchanged') return;
  const lines: string[] = [];
  const list = outcome.masters.map(describeMaster).join(', ');
  if (outcome.result === 'changed') {
    lines.push(`masters changed (${outcome.source}): ${list}`);
    lines.push(`  before: ${outcome.previous.map(describeMaster).join(', ') || '(none)'}`);
  } else if (outcome.result === 'unchanged') {
    lines.push(`masters unchanged: ${list}`);
  } else {
    lines.push(`masters not applied: ${outcome.reason ?? outcome.error?.message ?? 'unknown reason'}`);
  }
  if (outcome.dead?.length) lines.push(`  left out as dead: ${outcome.dead.join(', ')}`);
  if (outcome.draining?.length) lines.push(`  draining (last): ${outcome.draining.join(', ')}`);
  if (outcome.written !== undefined) lines.push(`  wrote ${outcome.written}`);
  if (outcome.restart !== undefined) {
    const r = outcome.restart;
    lines.push(
      `  ran \`${r.command}\`: ${r.ok ? 'ok' : 'FAILED'} (exit ${r.exitCode ?? 'none'}${r.timedOut ? ', timed out' : ''}, ${r.durationMs} ms)`,
    );
  }
  if (outcome.error !== undefined && outcome.result !== 'skipped') lines.push(`  error: ${outcome.error.message}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

function fail(err: unknown, out: 'text' | 'json' | string, status: number): number {
  const code = isPhoenixError(err) ? err.code : MinionErrors.PHX_MASTER_LIST_INTERNAL.code;
  const message = err instanceof Error ? err.message : String(err);
  if (out === 'json') process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
  else process.stderr.write(`phoenix-minion master-list: ${message} [${code}]\n`);
  return status;
}
