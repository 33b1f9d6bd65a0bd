import { createHash, randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopProcess, type Devstack } from '@phoenix/devstack';

const bin = (pkg: string, name: string): string =>
  fileURLToPath(new URL(`../../../packages/${pkg}/bin/${name}.js`, import.meta.url));

/** A spawned process whose output is kept (bounded) and scanned for a JSON line with `msg`. */
export interface BenchProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the first JSON line whose `msg` is `msg`; rejects on exit or after `timeoutMs`. */
  line<T>(msg: string, timeoutMs: number): Promise<T>;
  tail(): string;
}

const live = new Set<ChildProcess>();

/**
 * `--profile DIR` (PHOENIX_BENCH_PROFILE_DIR): every master and swarm the bench starts writes a
 * CPU profile there when it exits (`node --cpu-prof`), named by its role; `bench/profile-split.ts`
 * splits them by phase and by what the time went to.
 */
const profileArgs = (role: string): string[] => {
  const dir = process.env.PHOENIX_BENCH_PROFILE_DIR;
  if (dir === undefined || dir === '') return [];
  return ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${role}-${Date.now()}.cpuprofile`];
};

/**
 * `--log-dir DIR` (PHOENIX_BENCH_LOG_DIR): every process's whole output goes to DIR/<role>.log as
 * well, and the swarm logs at info (each minion's connection changes, with times), to see where a
 * recovery's time went.
 */
const logDir = (): string | undefined => {
  const dir = process.env.PHOENIX_BENCH_LOG_DIR;
  return dir === undefined || dir === '' ? undefined : dir;
};

function spawnTracked(args: string[], role: string): BenchProcess {
  const child = spawn(process.execPath, [...profileArgs(role), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${args.join(' ')}`);
  live.add(child);
  child.once('exit', () => live.delete(child));
  const dir = logDir();
  if (dir !== undefined) {
    const file = createWriteStream(join(dir, `${role}.log`), { flags: 'a' });
    child.stdout.pipe(file, { end: false });
    child.stderr.pipe(file, { end: false });
    child.once('exit', () => file.end());
  }
  let buffered = '';
  let tail = '';
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString();
    tail = (tail + text).slice(-4_000);
    buffered += text;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    // Only lines that may be ready markers are kept: the rest is log volume the bench does not need.
    for (const part of parts) if (part.includes('ready"') || part.includes('"msg":"swarm ')) lines.push(part);
    // Bounded: a long run's progress lines must not grow without end.
    if (lines.length > 1_000) lines.splice(0, lines.length - 1_000);
    for (const wake of waiters) wake();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return {
    child,
    pid: child.pid,
    tail: () => tail,
    line<T>(msg: string, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = (): void => {
          const found = lines.find((l) => l.includes(`"msg":"${msg}"`));
          if (found !== undefined) {
            done();
            resolve(JSON.parse(found) as T);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`process exited before "${msg}": ${tail}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          // How far it got first (its last progress line), then what it said last, repeats folded.
          const progress = lines.findLast((l) => l.includes('progress"'));
          reject(
            new Error(
              `no "${msg}" within ${timeoutMs} ms (pid ${child.pid ?? '?'}${progress === undefined ? '' : `, last progress: ${progress}`}); its last output:\n${folded(tail)}`,
            ),
          );
        }, timeoutMs);
        const onExit = (): void => check();
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.on('exit', onExit);
        check();
      });
    },
  };
}

/** Output with runs of the same line folded into one (`×N`): a flood of one warning says so once. */
function folded(text: string): string {
  const out: Array<{ line: string; count: number }> = [];
  for (const line of text.split('\n')) {
    const last = out.at(-1);
    if (last?.line === line) last.count++;
    else out.push({ line, count: 1 });
  }
  return out.map(({ line, count }) => (count > 1 ? `${line} (×${count})` : line)).join('\n');
}

/**
 * Stops a process: SIGTERM, then SIGKILL after `graceMs`. A profiled process writes its profile
 * only when it exits by itself (a master drains first, up to `drainTimeoutMs`): it gets a minute.
 */
export function stopBenchProcess(proc: BenchProcess, graceMs = 5_000): Promise<void> {
  const profiling = (process.env.PHOENIX_BENCH_PROFILE_DIR ?? '') !== '';
  return stopProcess(proc.child, profiling ? Math.max(graceMs, 60_000) : graceMs);
}

/** Last resort (exit of the bench itself): nothing it started outlives it. */
export function killAllBenchProcesses(): void {
  for (const child of live) child.kill('SIGKILL');
}

export interface BenchMaster {
  id: string;
  proc: BenchProcess;
  ports: { enrol: number; minion: number; api: number };
  api: string;
}

/** A random admin token for this run; the masters only ever see its sha256. */
export const benchToken = (): string => randomBytes(24).toString('hex');

export async function startBenchMaster(
  devstack: Devstack,
  dir: string,
  id: string,
  token: string,
  extra: Record<string, unknown> = {},
): Promise<BenchMaster> {
  const pkiDir = join(dir, id, 'pki');
  await mkdir(pkiDir, { recursive: true });
  await writeFile(join(pkiDir, 'cluster.pub'), devstack.clusterKeys.publicKey);
  await writeFile(join(pkiDir, 'cluster.key'), devstack.clusterKeys.secretKey, { mode: 0o600 });
  const config = {
    id,
    bind: '127.0.0.1',
    advertise: '127.0.0.1',
    ports: { enrol: 0, minion: 0, api: 0, peer: 0 },
    aws: devstack.aws,
    tablePrefix: devstack.tablePrefix,
    pkiDir,
    api: { tokens: [{ name: 'bench-admin', role: 'admin', sha256: createHash('sha256').update(token).digest('hex') }] },
    ...extra,
  };
  const path = join(dir, `${id}.yaml`);
  await writeFile(path, JSON.stringify(config));
  // PHOENIX_BENCH_MASTER_BIN: measure another build of the master (e.g. a release) against this swarm.
  const masterBin = process.env.PHOENIX_BENCH_MASTER_BIN ?? bin('master', 'phoenix-master');
  const proc = spawnTracked([masterBin, '--config', path], id);
  const ready = await proc.line<{ ports: BenchMaster['ports'] }>('master ready', 30_000);
  return { id, proc, ports: ready.ports, api: `http://127.0.0.1:${ready.ports.api}` };
}

/** Starts `phoenix-minion swarm` with `count` minions pointed at `masters`; resolves once all started. */
export async function startBenchSwarm(
  devstack: Devstack,
  dir: string,
  masters: readonly BenchMaster[],
  count: number,
  idPrefix: string,
): Promise<BenchProcess> {
  const config = {
    masters: masters.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.ports.minion, enrolPort: m.ports.enrol })),
    clusterPublicKey: devstack.clusterKeys.publicKey,
    pkiDir: join(dir, 'swarm', 'pki'),
    cacheDir: join(dir, 'swarm', 'cache'),
    imds: { enabled: false },
    // The masters table, as on EC2: the master-list manager's fallback, whose reads the bench counts.
    aws: devstack.aws,
    tablePrefix: devstack.tablePrefix,
    // Acceptance is pushed to a waiting minion; the retry only covers a lost push.
    enrolRetryMs: 5_000,
    logLevel: logDir() === undefined ? 'warn' : 'info',
  };
  const path = join(dir, 'swarm.yaml');
  await writeFile(path, JSON.stringify(config));
  const proc = spawnTracked(
    [bin('minion', 'phoenix-minion'), 'swarm', '--count', String(count), '--config', path, '--id-prefix', idPrefix],
    `swarm-${idPrefix}`,
  );
  await proc.line('swarm ready', 60_000 + count * 100);
  return proc;
}
