#!/usr/bin/env node
import { parseArgs } from 'node:util';
import pino from 'pino';
import { isPhoenixError } from '@phoenix/protocol';
import { loadMinionConfig } from '../config.js';
import { startMinion } from '../minion.js';

/** phoenix-minion [--config FILE]: runs one minion until SIGTERM or SIGINT. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: true });
  const config = await loadMinionConfig(values.config ?? process.env.PHOENIX_MINION_CONFIG);
  const log = pino({ name: 'phoenix-minion', level: config.logLevel });
  const minion = await startMinion(config, { log });
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
