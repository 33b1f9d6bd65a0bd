#!/usr/bin/env node
import { parseArgs } from 'node:util';
import pino from 'pino';
import { isPhoenixError } from '@phoenix/protocol';
import { loadMinionConfig } from '../config.js';
import { startMinion } from '../minion.js';
import { runMasterListCommand } from '../master-list/standalone.js';

/**
 * phoenix-minion [--config FILE]: runs one minion until SIGTERM or SIGINT.
 * phoenix-minion master-list --once | --watch [--config FILE] [--out json]: only the master-list
 * manager (see master-list/standalone.ts), e.g. to serve a plain salt-minion.
 */
async function main(): Promise<void> {
  if (process.argv[2] === 'master-list') {
    process.exitCode = await runMasterListCommand(process.argv.slice(3));
    return;
  }
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: true });
  const configPath = values.config ?? process.env.PHOENIX_MINION_CONFIG;
  const config = await loadMinionConfig(configPath);
  const log = pino({ name: 'phoenix-minion', level: config.logLevel });
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

main().catch((err: unknown) => {
  const code = isPhoenixError(err) ? err.code : 'PHX_MINION_INTERNAL';
  process.stderr.write(`phoenix-minion: ${err instanceof Error ? err.message : String(err)} [${code}]\n`);
  process.exit(1);
});
