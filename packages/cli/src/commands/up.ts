import { spawn } from 'node:child_process';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { startDevstack, type Devstack } from '@phoenix/devstack';
import { parseCommand, parseCount } from '../args.js';
import { CliError, CliErrorCodes } from '../errors.js';
import { emit, outputFormat, type OutputFormat } from '../output.js';
import {
  connectionFilePath,
  localClusterDir,
  processAlive,
  readConnectionFile,
  removeConnectionFile,
  writeConnectionFile,
  type ConnectionFile,
} from '../home.js';

const OPTIONS = {
  masters: { type: 'string' },
  minions: { type: 'string' },
  detach: { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  out: { type: 'string' },
} as const;

/** `phoenix up`: the whole local cluster in the foreground until Ctrl-C, or detached with --detach. */
export async function up(argv: readonly string[]): Promise<number> {
  const { values } = parseCommand('up', argv, OPTIONS, false);
  const out = outputFormat(values.out);
  const masters = parseCount('--masters', values.masters, 0, 100);
  const minions = parseCount('--minions', values.minions, 0, 10_000);
  const running = await readConnectionFile();
  if (running !== undefined && processAlive(running.pid)) {
    throw new CliError(
      CliErrorCodes.LOCAL_CLUSTER_RUNNING,
      `a local cluster is already running (pid ${running.pid}); stop it with phoenix down`,
    );
  }
  if (values.detach)
    return detach(
      argv.filter((a) => a !== '--detach'),
      out,
    );

  const log = pino({ name: 'phoenix-up' }, pino.destination(2));
  const devstack = await startDevstack(
    {
      ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
      groups: {
        masters: { name: 'phoenix-master-devstack', desired: masters },
        minions: { name: 'demo-web-devstack', desired: minions, max: 10_000 },
      },
    },
    { logger: log },
  );
  const file = connectionFor(devstack);
  await writeConnectionFile(file);
  log.info({ endpoints: devstack.aws.endpoints, connectionFile: connectionFilePath() }, 'local cluster ready');
  emit(out, { status: 'running', ...file }, () => describe(file, 'Press Ctrl-C to stop it.'));

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping the local cluster');
      // A second signal while stopping means "now": exit without waiting.
      process.once(signal, () => process.exit(130));
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await devstack.stop();
  await removeConnectionFile();
  log.info('local cluster stopped');
  return 0;
}

function connectionFor(devstack: Devstack): ConnectionFile {
  return {
    version: 1,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    aws: devstack.aws,
    tablePrefix: devstack.tablePrefix,
    groups: { masters: devstack.options.groups.masters.name, minions: devstack.options.groups.minions.name },
    lifecycle: devstack.lifecycle,
    identityCertificate: devstack.identityCertificate,
  };
}

export function describe(file: ConnectionFile, footer: string): string {
  const endpoints = Object.entries(file.aws.endpoints).map(([name, url]) => `  ${name.padEnd(12)} ${url}`);
  return [
    `Phoenix local cluster running (pid ${file.pid})`,
    ...endpoints,
    `  ${'queue'.padEnd(12)} ${file.lifecycle.queueUrl}`,
    `  ${'groups'.padEnd(12)} ${file.groups.masters}, ${file.groups.minions}`,
    footer,
  ].join('\n');
}

/**
 * Starts `phoenix up` again as a detached process logging to a file, and returns once its
 * connection file is written (the cluster is ready) or it has exited (it failed: its log says why).
 */
async function detach(argv: readonly string[], out: OutputFormat): Promise<number> {
  const dir = localClusterDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const logPath = join(dir, 'up.log');
  const logFile = await open(logPath, 'w', 0o600);
  const script = process.argv[1] ?? '';
  const child = spawn(process.execPath, [script, 'up', ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', logFile.fd],
    env: process.env,
  });
  await logFile.close();
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && exited === undefined) {
    const file = await readConnectionFile().catch(() => undefined);
    if (file !== undefined && file.pid === child.pid) {
      child.unref();
      emit(out, { status: 'running', ...file, log: logPath }, () =>
        describe(file, `Logs: ${logPath}\nStop it with phoenix down.`),
      );
      return 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (exited === undefined) child.kill('SIGKILL');
  throw new CliError(CliErrorCodes.LOCAL_CLUSTER_FAILED, `the local cluster did not start; see ${logPath}`);
}
