import { spawn } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { parseCommand, parseCount } from '../args.js';
import { CliError, CliErrorCodes } from '../errors.js';
import { emit, outputFormat, type OutputFormat } from '../output.js';
import { apiUrl } from '../local/instance-config.js';
import { startLocalCluster, type LocalCluster } from '../local/local-cluster.js';
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

/** How often the connection file's list of master APIs is brought up to date. */
const API_REFRESH_MS = 2_000;

/** `phoenix up`: the whole local cluster in the foreground until Ctrl-C, or detached with --detach. */
export async function up(argv: readonly string[]): Promise<number> {
  const { values } = parseCommand('up', argv, OPTIONS, false);
  const out = outputFormat(values.out);
  const masters = parseCount('--masters', values.masters, 1, 100);
  const minions = parseCount('--minions', values.minions, 0, 10_000);
  if (minions > 0 && masters === 0) {
    throw new CliError(
      CliErrorCodes.USAGE,
      '--minions needs at least one master to connect to: use --masters 1 or more',
    );
  }
  const running = await readConnectionFile();
  if (running !== undefined && processAlive(running.pid)) {
    throw new CliError(
      CliErrorCodes.LOCAL_CLUSTER_RUNNING,
      `a local cluster is already running (pid ${running.pid}); stop it with phoenix down`,
    );
  }
  if (values.detach) {
    return detach(
      argv.filter((a) => a !== '--detach'),
      out,
      { masters, minions },
    );
  }

  const log = pino({ name: 'phoenix-up' }, pino.destination(2));
  const cluster = await startLocalCluster({
    masters,
    minions,
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
    instancesDir: join(localClusterDir(), 'instances'),
    logger: log,
  });
  let stopRefresh: () => Promise<void>;
  try {
    const file = connectionFor(cluster, (await cluster.liveMasters()).map(apiUrl));
    await writeConnectionFile(file);
    stopRefresh = keepApiListCurrent(cluster, file, log);
    log.info(
      { endpoints: file.aws.endpoints, api: file.api, connectionFile: connectionFilePath() },
      'local cluster ready',
    );
    emit(out, summary(file, masters, minions), () => describe(file, masters, minions, 'Press Ctrl-C to stop it.'));
  } catch (err) {
    await cluster.stop();
    await removeConnectionFile();
    throw err;
  }

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping the local cluster');
      // A second signal while stopping means "now": exit without waiting (the instances follow:
      // each ends when it sees this process gone).
      process.once(signal, () => process.exit(130));
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await stopRefresh();
  await cluster.stop();
  await removeConnectionFile();
  log.info('local cluster stopped');
  return 0;
}

function connectionFor(cluster: LocalCluster, api: string[]): ConnectionFile {
  const { devstack } = cluster;
  return {
    version: 1,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    aws: devstack.aws,
    tablePrefix: devstack.tablePrefix,
    groups: { masters: devstack.options.groups.masters.name, minions: devstack.options.groups.minions.name },
    lifecycle: devstack.lifecycle,
    identityCertificate: devstack.identityCertificate,
    api,
    token: cluster.adminToken,
  };
}

/**
 * Rewrites the connection file when the live masters change (a master added, killed or replaced),
 * so the other commands keep finding one. Returns the function that stops it.
 */
function keepApiListCurrent(cluster: LocalCluster, file: ConnectionFile, log: Logger): () => Promise<void> {
  let current = file;
  let stopped = false;
  let refreshing: Promise<void> = Promise.resolve();
  const refresh = async (): Promise<void> => {
    try {
      const api = (await cluster.liveMasters()).map(apiUrl);
      if (stopped || api.join(' ') === (current.api ?? []).join(' ')) return;
      current = { ...current, api };
      await writeConnectionFile(current);
      log.info({ api }, 'master APIs changed');
    } catch (err) {
      log.warn({ err }, 'could not refresh the list of master APIs');
    }
  };
  const timer = setInterval(() => {
    refreshing = refreshing.then(refresh);
  }, API_REFRESH_MS);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await refreshing;
  };
}

/** What `--out json` prints: the connection file without the token (it stays in the 0600 file). */
function summary(file: ConnectionFile, masters: number, minions: number): Record<string, unknown> {
  const { token: _token, ...shown } = file;
  return { status: 'running', ...shown, desired: { masters, minions }, connectionFile: connectionFilePath() };
}

function describe(file: ConnectionFile, masters: number, minions: number, footer: string): string {
  const line = (name: string, value: string): string => `  ${name.padEnd(12)} ${value}`;
  const endpoints = Object.entries(file.aws.endpoints).map(([name, url]) => line(name, url));
  return [
    `Phoenix local cluster running (pid ${file.pid})`,
    ...endpoints,
    line('queue', file.lifecycle.queueUrl),
    line('masters', `${file.groups.masters}: ${masters}, API ${(file.api ?? []).join(', ') || 'none'}`),
    line('minions', `${file.groups.minions}: ${minions}`),
    '',
    'Next steps (the minions enrol within seconds; their keys wait for acceptance):',
    '  phoenix keys list',
    "  phoenix keys accept '*'",
    "  phoenix run '*' test.ping",
    '',
    footer,
  ].join('\n');
}

/**
 * Starts `phoenix up` again as a detached process logging to a file, and returns once its
 * connection file is written (the cluster is ready) or it has exited (it failed: its log says why).
 */
async function detach(
  argv: readonly string[],
  out: OutputFormat,
  desired: { masters: number; minions: number },
): Promise<number> {
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
      emit(out, { ...summary(file, desired.masters, desired.minions), log: logPath }, () =>
        describe(file, desired.masters, desired.minions, `Logs: ${logPath}\nStop it with phoenix down.`),
      );
      return 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (exited === undefined) child.kill('SIGKILL');
  const reason = await failureReason(logPath);
  throw new CliError(
    CliErrorCodes.LOCAL_CLUSTER_FAILED,
    reason === undefined
      ? `the local cluster did not start; see ${logPath}`
      : `the local cluster did not start: ${reason} (phoenix up's log: ${logPath})`,
  );
}

/** The error the detached `phoenix up` reported last (its `phoenix: … [CODE]` line), if any. */
async function failureReason(logPath: string): Promise<string | undefined> {
  const text = await readFile(logPath, 'utf8').catch(() => '');
  const line = text
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('phoenix: '));
  return line?.slice('phoenix: '.length).replace(/ \[PHX_[A-Z_]+\]$/, '');
}
