#!/usr/bin/env node
import { parseArgs } from 'node:util';
import pino from 'pino';
import { installLastResort, isPhoenixError } from '@phoenix/protocol';
import { loadMasterConfig } from '../config.js';
import { startMaster } from '../master.js';

/** phoenix-master [--config FILE]: runs one master until SIGTERM or SIGINT. */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c' } }, strict: true });
  const config = await loadMasterConfig(values.config ?? process.env.PHOENIX_MASTER_CONFIG);
  const log = pino({ name: 'phoenix-master', level: config.logLevel });
  // Every input's path contains its errors; whatever still escapes is logged, and only a violated
  // invariant stops the master (see installLastResort).
  installLastResort(process, log);
  const master = await startMaster(config, log);
  const stop = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'stopping');
    process.once(signal, () => process.exit(130));
    master.stop().then(
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
  const code = isPhoenixError(err) ? err.code : 'PHX_MASTER_INTERNAL';
  process.stderr.write(`phoenix-master: ${err instanceof Error ? err.message : String(err)} [${code}]\n`);
  process.exit(1);
});
