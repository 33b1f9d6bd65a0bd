#!/usr/bin/env node
import { parseArgs } from 'node:util';
import pino from 'pino';
import { installLastResort, PhoenixError, ProtocolErrors } from '@phoenix/protocol';
import { configFileArgument, runMain, type RunningProgram } from '@phoenix/protocol/main';
import { loadMinionConfig } from '../config.js';
import { MinionErrors } from '../errors.js';
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
async function main(): Promise<number | RunningProgram> {
  const [command, ...args] = process.argv.slice(2);
  if (command === 'master-list') return runMasterListCommand(args);
  if (command === 'call') return runCallCommand(args);
  if (command === 'swarm') return runSwarm(args);
  const configPath = configFileArgument(process.argv.slice(2), process.env.PHOENIX_MINION_CONFIG);
  const config = await loadMinionConfig(configPath);
  const log = pino({ name: 'phoenix-minion', level: config.logLevel });
  // What escapes every handler is logged; only a violated invariant stops the minion.
  installLastResort(process, log);
  // With a config file, the master-list manager keeps its `masters` in step with the cluster.
  const minion = await startMinion(config, { log, ...(configPath === undefined ? {} : { configPath }) });
  return {
    async stop(signal) {
      log.info({ signal }, 'stopping');
      await minion.stop().catch((err: unknown) => {
        log.error({ err }, 'stop failed');
        throw err;
      });
    },
  };
}

/** Hosts the swarm until SIGTERM or SIGINT; says `swarm ready` (one JSON line) once all have started. */
async function runSwarm(args: string[]): Promise<RunningProgram> {
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
    throw new PhoenixError(ProtocolErrors.PHX_CLI_USAGE, 'swarm needs --count N, a whole number from 1 to 100000');
  }
  if (values.config === undefined) {
    throw new PhoenixError(ProtocolErrors.PHX_CLI_USAGE, 'swarm needs --config FILE (a minion config)');
  }
  const idPrefix = values['id-prefix'];
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,200}$/.test(idPrefix)) {
    throw new PhoenixError(ProtocolErrors.PHX_CLI_USAGE, '--id-prefix: letters, digits, ".", "_", "@" and "-" only');
  }
  const base = await loadMinionConfig(values.config);
  const log = pino({ name: 'phoenix-minion-swarm', level: base.logLevel });
  installLastResort(process, log);
  // A line every tenth of the way: a start that stalls shows how far it got.
  const every = Math.max(1, Math.ceil(count / 10));
  const onStarted = (started: number): void => {
    if (started % every === 0 && started < count)
      process.stdout.write(
        `${JSON.stringify({ msg: 'swarm progress', started, count, ms: Date.now() - startedAt })}\n`,
      );
  };
  const startedAt = Date.now();
  const swarm = await startSwarm(base, { count, idPrefix, log, onStarted });
  // For the benchmark: masters-table reads so far, on demand, to tell start-up from steady state.
  const reads = (): void => {
    process.stdout.write(
      `${JSON.stringify({ msg: 'swarm reads', mastersTableReads: swarm.mastersTableReads(), at: Date.now() })}\n`,
    );
  };
  process.on('SIGUSR2', reads);
  process.stdout.write(`${JSON.stringify({ msg: 'swarm ready', count, idPrefix, startMs: Date.now() - startedAt })}\n`);
  return {
    async stop(signal) {
      log.info({ signal }, 'stopping swarm');
      process.off('SIGUSR2', reads);
      // For the benchmark: how often the minions fell back to reading the masters table.
      const tableReads = swarm.mastersTableReads();
      await swarm.stop();
      process.stdout.write(
        `${JSON.stringify({ msg: 'swarm stopped', count, mastersTableReads: tableReads, at: Date.now() })}\n`,
      );
    },
  };
}

runMain('phoenix-minion', main, { internal: MinionErrors.PHX_MINION_INTERNAL });
