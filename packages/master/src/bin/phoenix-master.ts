#!/usr/bin/env node
import pino from 'pino';
import { installLastResort } from '@phoenix/protocol';
import { configFileArgument, runMain } from '@phoenix/protocol/main';
import { loadMasterConfig } from '../config.js';
import { MasterErrors } from '../errors.js';
import { startMaster } from '../master.js';

/** phoenix-master [--config FILE]: runs one master until SIGTERM or SIGINT. */
runMain(
  'phoenix-master',
  async () => {
    const config = await loadMasterConfig(configFileArgument(process.argv.slice(2), process.env.PHOENIX_MASTER_CONFIG));
    const log = pino({ name: 'phoenix-master', level: config.logLevel });
    // Every input's path contains its errors; whatever still escapes is logged, and only a violated
    // invariant stops the master (see installLastResort).
    installLastResort(process, log);
    const master = await startMaster(config, log);
    return {
      async stop(signal) {
        log.info({ signal }, 'stopping');
        await master.stop().catch((err: unknown) => {
          log.error({ err }, 'stop failed');
          throw err;
        });
      },
    };
  },
  { internal: MasterErrors.PHX_MASTER_INTERNAL },
);
