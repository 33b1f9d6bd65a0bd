#!/usr/bin/env node
import { parseArgs } from 'node:util';
import pino from 'pino';
import { installLastResort, isPhoenixError } from '@phoenix/protocol';
import { loadMinionConfig } from '../config.js';
import { startMinion } from '../minion.js';
import { runMasterListCommand } from '../master-list/standalone.js';
import { startSwarm } from '../swarm.js';
import { runCallCommand } from '../call-command.js';

/**
 * phoenix-minion [--config FILE]: runs one minion until SIGTERM or SIGINT.
 * phoenix-minion master-list --once | --watch [--config FILE] [--out json]: only the master-list
 * manager (see master-list/standalone.ts), e.g. to serve a plain salt-minion.
 * phoenix-minion swarm --count N --config FILE [--id-prefix P]: N minions in one process (see swarm.ts).
 * phoenix-minion call --local FUNCTION [ARGS]: one function on this host, no master (see call-command.ts).
 */
async function main(): Promise<void> {
  if (process.argv[2] === 'master-list') {
    process.exitCode = await runMasterListCommand(process.argv.slice(3));
    return;
  }
  if (process.argv[2] === 'call') {
    process.exitCode = await runCallCommand(process.argv.slice(3));
    return;
  }
  if (process.argv[2] === 'swarm') {
    await runSwarm(process.argv.slice(3));
    return;
  }
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: true });
  const configPath = values.config ?? process.env.PHOENIX_MINION_CONFIG;
  const config = await loadMinionConfig(configPath);
  const log = pino({ name: 'phoenix-minion', level: config.logLevel });
  // What escapes every handler is logged; only a violated invariant stops the minion.
  installLastResort(process, log);
  // With a config file, the master-list manager keeps its `masters` in step with the cluster.
  const minion = await startMinion(config, { log, ...(configPath === undefined ? {} : { configPath }) });
  const stop = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'stopping');
    process.once(signal, () => process.exit(130));
    minion.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** Hosts the swarm until SIGTERM or SIGINT; says `swarm ready` (one JSON line) once all have started. */
async function runSwarm(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      count: { type: 'string', short: 'n' },
      config: { type: 'string', short: 'c' },
      'id-prefix': { type: 'string', default: 'swarm' },
    },
    strict: true,
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 100_000) {
    throw new Error('swarm needs --count N, a whole number from 1 to 100000');
  }
  if (values.config === undefined) throw new Error('swarm needs --config FILE (a minion config)');
  const idPrefix = values['id-prefix'];
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,200}$/.test(idPrefix)) {
    throw new Error('--id-prefix: letters, digits, ".", "_", "@" and "-" only');
  }
  const base = await loadMinionConfig(values.config);
  const log = pino({ name: 'phoenix-minion-swarm', level: base.logLevel });
  installLastResort(process, log);
  const started = Date.now();
  const swarmReady = startSwarm(base, { count, idPrefix, log });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    stopping = true;
    log.info({ signal }, 'stopping swarm');
    process.once(signal, () => process.exit(130));
    void swarmReady.then(
      async (swarm) => {
        // For the benchmark: how often the minions fell back to reading the masters table.
        const reads = swarm.mastersTableReads();
        await swarm.stop();
        process.stdout.write(
          `${JSON.stringify({ msg: 'swarm stopped', count, mastersTableReads: reads, at: Date.now() })}\n`,
        );
        process.exit(0);
      },
      () => process.exit(0),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const swarm = await swarmReady;
  // For the benchmark: masters-table reads so far, on demand, to tell start-up from steady state.
  process.on('SIGUSR2', () => {
    process.stdout.write(
      `${JSON.stringify({ msg: 'swarm reads', mastersTableReads: swarm.mastersTableReads(), at: Date.now() })}\n`,
    );
  });
  if (!stopping) {
    process.stdout.write(`${JSON.stringify({ msg: 'swarm ready', count, idPrefix, startMs: Date.now() - started })}\n`);
  }
}

main().catch((err: unknown) => {
  const code = isPhoenixError(err) ? err.code : 'PHX_MINION_INTERNAL';
  process.stderr.write(`phoenix-minion: ${err instanceof Error ? err.message : String(err)} [${code}]\n`);
  process.exit(code === 'PHX_MINION_CALL_USAGE' ? 2 : 1);
});
