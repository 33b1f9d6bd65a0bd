import { spawn } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { apiClient } from '../api-client.js';
import { stopProcess } from '@phoenix/devstack/processes';
import {
  readConnectionFile,
  removeConnectionFile,
  writeConnectionFile,
  type ConnectionFile,
} from '../connection-file.js';
import { connectionFilePath, localClusterDir, processAlive } from '../home.js';
import { emit, type OutputFormat } from '../output.js';
import { apiUrl } from '../local/instance-config.js';
import { startLocalCluster, type LocalCluster } from '../local/local-cluster.js';
import { ProtocolErrors, PhoenixError } from '@phoenix/protocol/errors';
import { untilStopSignal } from '@phoenix/protocol/main';
import { CliErrors } from '../errors.js';

/** `phoenix up`'s options, as program.ts declares them. */
export interface UpOptions {
  masters: number;
  minions: number;
  detach?: boolean;
  dataDir?: string;
  sandboxRoot?: string;
  out?: OutputFormat;
}

/** How often the connection file's list of master APIs is brought up to date. */
const API_REFRESH_MS = 2_000;
/**
 * How long `phoenix up` waits for its first minions to be accepted, connected and in service (their
 * first highstate run) before it reports.
 */
const MINIONS_READY_TIMEOUT_MS = 60_000;

/** What the cluster's start-up came to, for the banner: what happened, not what should. */
interface Readiness {
  accepted: number;
  connected: number;
  /** Past their first highstate: a job sent now finds no state run in progress. */
  inService: number;
}

/** `phoenix up`: the whole local cluster in the foreground until Ctrl-C, or detached with --detach. */
export async function up(options: UpOptions): Promise<number> {
  const out = options.out ?? 'text';
  const { masters, minions } = options;
  if (minions > 0 && masters === 0) {
    throw new PhoenixError(
      ProtocolErrors.PHX_CLI_USAGE,
      'phoenix up: --minions needs at least one master to connect to: use --masters 1 or more',
    );
  }
  const running = await readConnectionFile();
  if (running !== undefined && processAlive(running.pid)) {
    throw new PhoenixError(
      CliErrors.PHX_CLI_LOCAL_CLUSTER_RUNNING,
      `a local cluster is already running (pid ${running.pid}); stop it with npx phoenix down`,
    );
  }
  if (options.detach === true) {
    return detach(
      process.argv.slice(process.argv.indexOf('up') + 1).filter((a) => a !== '--detach'),
      out,
      options,
    );
  }

  const log = await upLogger();
  const sandboxRoot = options.sandboxRoot === undefined ? undefined : resolve(options.sandboxRoot);
  if (sandboxRoot === undefined && minions > 0) {
    log.warn(
      "the local minions manage this host's own file system (state.root /): a state such as file.managed changes real files; phoenix up --sandbox-root DIR confines them",
    );
  }
  const cluster = await startLocalCluster({
    masters,
    minions,
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(sandboxRoot === undefined ? {} : { sandboxRoot }),
    instancesDir: join(localClusterDir(), 'instances'),
    logger: log,
  });
  let stopRefresh: () => Promise<void>;
  try {
    const listed = connectionFor(cluster, (await cluster.liveMasters()).map(apiUrl));
    // Said once the first minions can take jobs: the commands the banner suggests then work.
    const ready = await waitForMinions(listed, minions, log);
    const file = { ...listed, minions: ready };
    await writeConnectionFile(file);
    stopRefresh = keepApiListCurrent(cluster, file, log);
    log.info(
      { endpoints: file.aws.endpoints, api: file.api, connectionFile: connectionFilePath(), ...ready },
      'local cluster ready',
    );
    await emit(out, summary(file, options, ready), () =>
      describe(file, options, ready, sandboxRoot, 'Press Ctrl-C (or run npx phoenix down) to stop it.'),
    );
  } catch (err) {
    await cluster.stop();
    await removeConnectionFile();
    throw err;
  }

  // A second signal while stopping means "now": the process exits at once (the instances follow:
  // each ends when it sees this process gone).
  const signal = await untilStopSignal();
  log.info({ signal }, 'stopping the local cluster');
  await stopRefresh();
  await cluster.stop();
  await removeConnectionFile();
  log.info('local cluster stopped');
  return 0;
}

/**
 * On a terminal: readable lines (pino-pretty) there, and the JSON lines in local/up.log. Not on a
 * terminal (a detached `phoenix up`, whose stderr is that log file, or a pipe): JSON on stderr.
 */
async function upLogger(): Promise<Logger> {
  if (!process.stderr.isTTY) return pino({ name: 'phoenix-up' }, pino.destination(2));
  const { default: pretty } = await import('pino-pretty');
  const dir = localClusterDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return pino(
    { name: 'phoenix-up' },
    pino.multistream([
      {
        stream: pretty({
          destination: 2,
          sync: true,
          singleLine: true,
          ignore: 'pid,hostname,name',
          translateTime: 'SYS:HH:MM:ss',
        }),
      },
      { stream: pino.destination({ dest: join(dir, 'up.log'), mkdir: true, sync: true }) },
    ]),
  );
}

/**
 * Waits (bounded) until the minions asked for are accepted by the lifecycle reactor, connected to a
 * master and in service (the reactor ran their first highstate), through the API as any operator
 * would see it. Until then a state job would find the first highstate still running. Returns what
 * it saw.
 */
async function waitForMinions(file: ConnectionFile, minions: number, log: Logger): Promise<Readiness> {
  const url = file.api?.[0] ?? '';
  const client = apiClient({ url, token: file.token ?? '' });
  const deadline = Date.now() + MINIONS_READY_TIMEOUT_MS;
  let seen: Readiness = { accepted: 0, connected: 0, inService: 0 };
  if (minions === 0 || url === '') return seen;
  for (;;) {
    try {
      const { minions: listed } = await client.call('listMinions', { query: { limit: 1000 } }, { timeoutMs: 5_000 });
      const accepted = listed.filter((m) => m.keyState === 'accepted');
      const connected = accepted.filter((m) => m.connected);
      seen = {
        accepted: accepted.length,
        connected: connected.length,
        inService: connected.filter((m) => m.lifecycle?.state === 'in-service').length,
      };
      if (seen.inService >= minions) return seen;
    } catch (err) {
      log.debug({ err }, 'the masters API is not answering yet');
    }
    if (Date.now() > deadline) {
      log.warn({ ...seen, minions }, 'not every minion was accepted, connected and in service in time; see their logs');
      return seen;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
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
function summary(file: ConnectionFile, options: UpOptions, ready: Readiness): Record<string, unknown> {
  const { token: _token, minions: _minions, ...shown } = file;
  return {
    status: 'running',
    ...shown,
    desired: { masters: options.masters, minions: options.minions },
    minions: ready,
    dashboard: dashboardUrl(file),
    connectionFile: connectionFilePath(),
  };
}

function dashboardUrl(file: ConnectionFile): string | undefined {
  const first = file.api?.[0];
  return first === undefined ? undefined : `${first}/ui/`;
}

function describe(
  file: ConnectionFile,
  options: UpOptions,
  ready: Readiness,
  sandboxRoot: string | undefined,
  footer: string,
): string {
  const line = (name: string, value: string): string => `  ${name.padEnd(12)} ${value}`;
  const { masters, minions } = options;
  const happened =
    minions === 0
      ? 'No minions were asked for: add some with npx phoenix local scale N.'
      : ready.inService >= minions
        ? `${minions} minion${minions === 1 ? '' : 's'} launched; the lifecycle reactor accepted ${minions === 1 ? 'its key' : 'their keys'} (attested launches) and ran ${minions === 1 ? 'its' : 'their'} first highstate: ${minions === 1 ? 'it is' : 'they are'} connected and in service.`
        : `${minions} minion${minions === 1 ? '' : 's'} launched; ${ready.accepted} accepted, ${ready.connected} connected and ${ready.inService} in service so far (their logs: ${join(localClusterDir(), 'instances')}).`;
  return [
    `Phoenix local cluster running (pid ${file.pid})`,
    line('masters', `${masters} (${file.groups.masters}), API ${(file.api ?? []).join(', ') || 'none'}`),
    line('minions', `${minions} (${file.groups.minions}), grains role:web`),
    line('dashboard', `${dashboardUrl(file) ?? 'none'}  (sign in with the token: npx phoenix token)`),
    line(
      'state.root',
      sandboxRoot === undefined
        ? "/ (this host's files; --sandbox-root DIR confines them)"
        : `${sandboxRoot}/<instance-id>`,
    ),
    line(
      'local cloud',
      Object.entries(file.aws.endpoints)
        .map(([name, url]) => `${name} ${url}`)
        .join(', '),
    ),
    '',
    happened,
    '',
    'Try, in another terminal:',
    '  npx phoenix keys list',
    "  npx phoenix run '*' test.ping",
    "  npx phoenix run -G 'role:web' cmd.run 'uptime'",
    '  npx phoenix local scale 5',
    '  npx phoenix --help',
    '',
    footer,
  ].join('\n');
}

/**
 * Starts `phoenix up` again as a detached process logging to a file, and returns once its
 * connection file is written (the cluster is ready) or it has exited (it failed: its log says why).
 */
async function detach(argv: readonly string[], out: OutputFormat, options: UpOptions): Promise<number> {
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
  const deadline = Date.now() + 60_000 + MINIONS_READY_TIMEOUT_MS;
  while (Date.now() < deadline && exited === undefined) {
    const file = await readConnectionFile().catch(() => undefined);
    if (file !== undefined && file.pid === child.pid) {
      child.unref();
      const ready = file.minions ?? { accepted: 0, connected: 0, inService: 0 };
      await emit(out, { ...summary(file, options, ready), log: logPath }, () =>
        describe(
          file,
          options,
          ready,
          options.sandboxRoot === undefined ? undefined : resolve(options.sandboxRoot),
          `Logs: ${logPath}\nStop it with npx phoenix down.`,
        ),
      );
      return 0;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (exited === undefined) await stopProcess(child);
  const reason = await failureReason(logPath);
  throw new PhoenixError(
    CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED,
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
