import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { Devstack } from '@phoenix/devstack';
import { waitFor, type ProcessRegister } from '@phoenix/devstack/testing';

const bin = (pkg: string, name: string): string =>
  fileURLToPath(new URL(`../../../packages/${pkg}/bin/${name}.js`, import.meta.url));

export interface RunningMaster {
  id: string;
  process: ChildProcess;
  ports: { enrol: number; minion: number; api: number };
  api: string;
}

export const ADMIN_TOKEN = 'phoenix-test-admin-token';

/** Starts a real phoenix-master process on free loopback ports and waits until it says it is ready. */
export async function startMasterProcess(
  devstack: Devstack,
  dir: string,
  processes: ProcessRegister,
  id: string,
  ports: { enrol: number; minion: number; api: number } = { enrol: 0, minion: 0, api: 0 },
  extra: Record<string, unknown> = {},
): Promise<RunningMaster> {
  const pkiDir = join(dir, id, 'pki');
  await mkdir(pkiDir, { recursive: true });
  await writeFile(join(pkiDir, 'cluster.pub'), devstack.clusterKeys.publicKey);
  await writeFile(join(pkiDir, 'cluster.key'), devstack.clusterKeys.secretKey, { mode: 0o600 });
  const config = {
    id,
    bind: '127.0.0.1',
    advertise: '127.0.0.1',
    ports: { ...ports, peer: 0 },
    aws: devstack.aws,
    tablePrefix: devstack.tablePrefix,
    pkiDir,
    api: {
      tokens: [{ name: 'test-admin', role: 'admin', sha256: createHash('sha256').update(ADMIN_TOKEN).digest('hex') }],
    },
    ...extra,
  };
  const path = join(dir, `${id}.yaml`);
  await writeFile(path, JSON.stringify(config));
  const child = processes.spawn(process.execPath, [bin('master', 'phoenix-master'), '--config', path]);
  // A master that exits (a configuration it refuses) fails this at once, not at the wait's end.
  const exited = new Promise<never>((_, reject) =>
    child.once('close', () => reject(new Error(`master ${id} exited: ${processes.output(child)}`))),
  );
  exited.catch(() => undefined);
  const readyLine = waitFor(
    () => {
      const line = processes
        .output(child)
        .split('\n')
        .find((l) => l.includes('"master ready"'));
      return line === undefined ? undefined : (JSON.parse(line) as { ports: RunningMaster['ports'] });
    },
    { what: `master ${id} to be ready`, timeoutMs: 20_000 },
  );
  const ready = await Promise.race([readyLine, exited]);
  return { id, process: child, ports: ready.ports, api: `http://127.0.0.1:${ready.ports.api}` };
}

/** Starts a real phoenix-minion process pointed at the given masters. */
export async function startMinionProcess(
  cluster: { clusterKeys: { publicKey: string } },
  dir: string,
  processes: ProcessRegister,
  id: string,
  masters: ReadonlyArray<Pick<RunningMaster, 'id' | 'ports'>>,
  extra: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
): Promise<ChildProcess> {
  const config = {
    id,
    masters: masters.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.ports.minion, enrolPort: m.ports.enrol })),
    clusterPublicKey: cluster.clusterKeys.publicKey,
    pkiDir: join(dir, id, 'pki'),
    cacheDir: join(dir, id, 'cache'),
    imds: { enabled: false },
    enrolRetryMs: 300,
    ...extra,
  };
  const path = join(dir, `${id}.yaml`);
  await mkdir(dir, { recursive: true });
  await writeFile(path, JSON.stringify(config));
  return processes.spawn(process.execPath, [bin('minion', 'phoenix-minion'), '--config', path], {
    env: { ...process.env, ...env },
  });
}

/** A port that was free a moment ago, for a process that must come back on the same port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
