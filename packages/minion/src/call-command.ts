import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { stringify } from 'yaml';
import {
  CALL_OPTIONS,
  CALL_OUTPUTS,
  generateCurveKeyPair,
  isStateRun,
  JidGenerator,
  parseArgsOptions,
  PhoenixError,
  splitArguments,
} from '@phoenix/protocol';
import { formatHighstate, formatNested, useColour } from '@phoenix/state';
import { loadMinionConfig, type MinionConfig } from './config.js';
import { createMinionExecutor } from './executor/minion-executor.js';
import { resolveMinionId } from './identity.js';
import { localStateOptions } from './state/state-module.js';
import { MinionErrors } from './errors.js';

export const CALL_USAGE =
  'phoenix-minion call --local FUNCTION [ARG ...] [key=value ...] [--config FILE] [--file-root DIR ...] [--pillar-root DIR ...] [--id ID] [--out nested|highstate|yaml|json] [--no-color|--force-color]';

/** The minion config read when no --config is given and it exists (as salt-call reads /etc/salt/minion). */
export const DEFAULT_MINION_CONFIG = '/etc/phoenix/minion.yaml';

const LOG_LEVELS: readonly string[] = CALL_OPTIONS.find((o) => o.name === 'log-level')?.choices ?? [];

class CallUsageError extends PhoenixError {
  constructor(message: string) {
    super(MinionErrors.PHX_MINION_CALL_USAGE, `${message}\nusage: ${CALL_USAGE}`);
    this.name = 'CallUsageError';
  }
}

/**
 * `salt-call --local`: runs one function on this host with no master, states and pillar read from
 * local roots (the config's, or --file-root/--pillar-root). For bootstrapping a host before it has
 * a master, and for deploys that ship their states as an artifact. Returns the exit status: the
 * function's retcode (a failed state: 2; nothing could run: 1).
 */
export async function runCallCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCallArguments(argv);
  if (!values.local) {
    throw new CallUsageError('only --local is supported: a call through a master is not implemented (use phoenix run)');
  }
  const [fun, ...words] = positionals;
  if (fun === undefined) throw new CallUsageError('name the function to call');
  const out = values.out ?? (isStateRun(fun) ? 'highstate' : 'nested');
  if (!(CALL_OUTPUTS as readonly string[]).includes(out)) {
    throw new CallUsageError(`--out must be one of ${CALL_OUTPUTS.join(', ')}, not "${out}"`);
  }
  const configPath = values.config ?? (existsSync(DEFAULT_MINION_CONFIG) ? DEFAULT_MINION_CONFIG : undefined);
  const env = {
    ...process.env,
    ...(values.id === undefined ? {} : { PHOENIX_MINION__id: values.id }),
  };
  // A masterless call needs no cluster: the keys a connected minion must have get stand-ins (never
  // used) when the config (a Salt minion config, say) has none, and the cache lives in the home.
  const fallback = {
    clusterPublicKey: generateCurveKeyPair().publicKey,
    pkiDir: join(homedir(), '.phoenix', 'call', 'pki'),
    cacheDir: join(homedir(), '.phoenix', 'call', 'cache'),
    // A call is quiet unless the config or --log-level says otherwise.
    logLevel: 'warn',
  };
  const warnings: string[] = [];
  const loaded = await loadMinionConfig(configPath, env, { fallback, warn: (message) => warnings.push(message) });
  const level = values['log-level'];
  if (level !== undefined && !LOG_LEVELS.includes(level))
    throw new CallUsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`);
  const config: MinionConfig = {
    ...loaded,
    ...(level === undefined ? {} : { logLevel: level as MinionConfig['logLevel'] }),
    fileClient: 'local',
    fileRoots: roots(values['file-root'], loaded.fileRoots),
    pillarRoots: roots(values['pillar-root'], loaded.pillarRoots),
    imds: { ...loaded.imds, enabled: configPath !== undefined && loaded.imds.enabled },
  };
  const log = pino({ name: 'phoenix-minion-call', level: config.logLevel }, pino.destination(2));
  for (const warning of warnings) log.warn(warning);
  const { id, instanceId } = await resolveMinionId(config);
  const { executor } = await createMinionExecutor(config, {
    id,
    ...(instanceId === undefined ? {} : { instanceId }),
    log,
    files: localStateOptions({ fileRoots: config.fileRoots, pillarRoots: config.pillarRoots }),
  });
  const { args, kwargs } = splitArguments(words);
  const outcome = await executor.run({ jid: new JidGenerator().next(Date.now()), fun, args, kwargs });
  const colour = useColour({ noColor: values['no-color'], forceColor: values['force-color'] }, process.stdout);
  if (out === 'json') process.stdout.write(`${JSON.stringify({ local: outcome.ret }, null, 2)}\n`);
  else if (out === 'yaml') process.stdout.write(stringify({ local: outcome.ret ?? null }));
  else if (out === 'highstate')
    process.stdout.write(
      `${formatHighstate(outcome.ret, { colour, minion: 'local', mode: config.state.output, verbose: config.state.verbose })}\n`,
    );
  else process.stdout.write(`${formatNested(outcome.ret, { minion: 'local' })}\n`);
  return outcome.retcode;
}

/** --file-root/--pillar-root replace the `base` environment's roots, as salt-call's do. */
function roots(
  given: readonly string[] | undefined,
  configured: Readonly<Record<string, readonly string[]>>,
): Record<string, string[]> {
  const all = Object.fromEntries(Object.entries(configured).map(([env, dirs]) => [env, [...dirs]]));
  if (given !== undefined && given.length > 0) all.base = given.map((dir) => resolve(dir));
  return all;
}

/** Salt-call's flags (one table, shared with the phoenix CLI); a mistyped one is a usage error (exit status 2), not a crash. */
function parseCallArguments(argv: readonly string[]) {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: parseArgsOptions(CALL_OPTIONS),
    });
    return { values: values as unknown as CallValues, positionals };
  } catch (err) {
    throw new CallUsageError(err instanceof Error ? err.message : String(err));
  }
}

interface CallValues {
  local: boolean;
  config?: string;
  'file-root'?: string[];
  'pillar-root'?: string[];
  id?: string;
  out?: string;
  'no-color': boolean;
  'force-color': boolean;
  'log-level'?: string;
}
