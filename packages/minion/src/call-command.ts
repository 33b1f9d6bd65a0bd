import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { stringify } from 'yaml';
import { generateCurveKeyPair, isStateRun, JidGenerator, PhoenixError, splitArguments } from '@phoenix/protocol';
import { formatHighstate, formatNested, useColour } from '@phoenix/state';
import { loadMinionConfig, type MinionConfig } from './config.js';
import { createMinionExecutor } from './executor/minion-executor.js';
import { resolveMinionId } from './identity.js';
import { localStateOptions } from './state/state-module.js';

export const CALL_USAGE =
  'phoenix-minion call --local FUNCTION [ARG ...] [key=value ...] [--config FILE] [--file-root DIR ...] [--pillar-root DIR ...] [--id ID] [--out nested|highstate|yaml|json] [--no-color|--force-color]';

/** The minion config read when no --config is given and it exists (as salt-call reads /etc/salt/minion). */
export const DEFAULT_MINION_CONFIG = '/etc/phoenix/minion.yaml';

class CallUsageError extends PhoenixError {
  constructor(message: string) {
    super('PHX_MINION_CALL_USAGE', `${message}\nusage: ${CALL_USAGE}`);
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
  if (!['nested', 'highstate', 'yaml', 'json'].includes(out)) {
    throw new CallUsageError(`--out must be one of nested, highstate, yaml, json, not "${out}"`);
  }
  const configPath = values.config ?? (existsSync(DEFAULT_MINION_CONFIG) ? DEFAULT_MINION_CONFIG : undefined);
  const env = {
    ...process.env,
    PHOENIX_MINION__logLevel: values['log-level'],
    ...(values.id === undefined ? {} : { PHOENIX_MINION__id: values.id }),
  };
  // With no config file a masterless call needs no cluster: the keys a connected minion must have
  // get stand-ins (never used), and the cache (custom grains) lives in the user's home.
  const standIns =
    configPath === undefined
      ? {
          PHOENIX_MINION__clusterPublicKey: generateCurveKeyPair().publicKey,
          PHOENIX_MINION__pkiDir: join(homedir(), '.phoenix', 'call', 'pki'),
          PHOENIX_MINION__cacheDir: join(homedir(), '.phoenix', 'call', 'cache'),
        }
      : {};
  const loaded = await loadMinionConfig(configPath, { ...standIns, ...env });
  const config: MinionConfig = {
    ...loaded,
    fileClient: 'local',
    fileRoots: roots(values['file-root'], loaded.fileRoots),
    pillarRoots: roots(values['pillar-root'], loaded.pillarRoots),
    imds: { ...loaded.imds, enabled: configPath !== undefined && loaded.imds.enabled },
  };
  const log = pino({ name: 'phoenix-minion-call', level: config.logLevel }, pino.destination(2));
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
  else if (out === 'highstate') process.stdout.write(`${formatHighstate(outcome.ret, { colour, minion: 'local' })}\n`);
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

/** Salt-call's flags; a mistyped one is a usage error (exit status 2), not a crash. */
function parseCallArguments(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        local: { type: 'boolean', default: false },
        config: { type: 'string', short: 'c' },
        'file-root': { type: 'string', multiple: true },
        'pillar-root': { type: 'string', multiple: true },
        id: { type: 'string' },
        out: { type: 'string' },
        'no-color': { type: 'boolean', default: false },
        'force-color': { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'warn' },
      },
    });
  } catch (err) {
    throw new CallUsageError(err instanceof Error ? err.message : String(err));
  }
}
