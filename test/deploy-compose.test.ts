/**
 * docker-compose.yml and the container image. No Docker engine runs here, so Compose only
 * validates the file (`docker-compose config`); what the containers run is then run for real on this
 * machine's loopback, which is what the services share (network_mode: service:cloud): the cloud,
 * two masters and three minions through deploy/docker/entrypoint.sh, answering test.ping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const ENTRYPOINT = join(ROOT, 'deploy', 'docker', 'entrypoint.sh');

const dir = useTempDir('phoenix-compose-');
const processes = useProcesses();

interface Service {
  image?: string;
  build?: { context: string };
  command?: string | string[];
  environment?: Record<string, string>;
  network_mode?: string;
  ports?: Array<string | { published: number | string; target: number; host_ip?: string }>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  profiles?: string[];
  volumes?: string[];
}

/** Compose v1 from Debian (docker-compose) or the v2 plugin (docker compose), whichever is here. */
function composeCommand(): string[] | undefined {
  for (const command of [['docker-compose'], ['docker', 'compose']]) {
    const version = spawnSync(command[0]!, [...command.slice(1), 'version'], { encoding: 'utf8', timeout: 60_000 });
    if (version.status === 0) return command;
  }
  return undefined;
}

function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 60_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    );
  });
}

test('docker-compose config accepts docker-compose.yml: a cloud, two masters, three minions, the API published', async (t) => {
  const compose = composeCommand();
  if (compose === undefined) {
    t.skip(
      'neither docker-compose nor the docker compose plugin is installed (Debian: apt-get install docker-compose)',
    );
    return;
  }
  // COMPOSE_PROFILES shows the cli service too; no Docker engine is contacted by `config`.
  const result = await run(compose[0]!, [...compose.slice(1), '-f', COMPOSE_FILE, 'config'], {
    COMPOSE_PROFILES: 'cli',
  });
  assert.equal(result.code, 0, `${compose.join(' ')} config:\n${result.stderr}`);
  const config = parse(result.stdout) as { services: Record<string, Service>; volumes: Record<string, unknown> };
  const services = config.services;
  assert.deepEqual(Object.keys(services).sort(), [
    'cli',
    'cloud',
    'keys',
    'master-1',
    'master-2',
    'minion-1',
    'minion-2',
    'minion-3',
  ]);
  for (const [name, service] of Object.entries(services)) {
    assert.equal(service.image, 'phoenix:local', `${name} runs the Phoenix image`);
    assert.equal(
      service.build?.context.replace(/\/$/, ''),
      ROOT.replace(/\/$/, ''),
      `${name} builds the repo's Dockerfile`,
    );
  }
  assert.equal(services.cloud?.command, 'devstack');
  const published = (services.cloud?.ports ?? []).map((p) =>
    typeof p === 'string' ? p.replace(/\/tcp$/, '') : `${p.host_ip ?? ''}:${p.published}:${p.target}`,
  );
  assert.deepEqual(published.sort(), ['127.0.0.1:8080:8080', '127.0.0.1:8081:8081']);

  const apiPorts = new Set<string>();
  for (const name of ['master-1', 'master-2']) {
    const master = services[name]!;
    assert.equal(master.command, 'master');
    assert.equal(master.network_mode, 'service:cloud', `${name} shares the cloud's loopback`);
    assert.equal(master.environment?.PHOENIX_ID, name);
    const ports = (master.environment?.PHOENIX_PORTS ?? '').split(',');
    assert.equal(ports.length, 4);
    apiPorts.add(ports[3]!);
    assert.equal(master.depends_on?.cloud?.condition, 'service_healthy');
    assert.equal(master.depends_on?.keys?.condition, 'service_completed_successfully');
    assert.ok(master.healthcheck?.test.join(' ').includes('/healthz'));
    // Compose waits this long after SIGTERM: longer than the master's drain (drainTimeoutMs, 10 s).
    assert.ok(parseDuration(master.stop_grace_period ?? '10s') > 10, `${name} stop_grace_period`);
  }
  assert.deepEqual([...apiPorts].sort(), ['8080', '8081'], 'each published port is one master');
  for (const name of ['minion-1', 'minion-2', 'minion-3']) {
    const minion = services[name]!;
    assert.equal(minion.command, 'minion');
    assert.equal(minion.network_mode, 'service:cloud');
    assert.equal(minion.environment?.PHOENIX_ID, name);
    assert.equal(minion.depends_on?.['master-1']?.condition, 'service_healthy');
    assert.ok(
      minion.volumes?.some((v) => v.startsWith(`${name}:/var/lib/phoenix/minion`)),
      `${name} keeps its key`,
    );
  }
  assert.deepEqual(services.cli?.profiles, ['cli']);
});

function parseDuration(text: string): number {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  return Number(match?.[1] ?? 0) * 60 + Number(match?.[2] ?? 0);
}

test('the Dockerfile builds the release and starts the entry point the compose file relies on', async () => {
  const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
  const ignored = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  assert.match(dockerfile, /^FROM node:20-/m, 'Node.js 20');
  assert.match(dockerfile, /^RUN npm ci\b/m);
  assert.match(dockerfile, /^RUN node scripts\/release\.js --out \/release$/m, 'the image holds the release tarball');
  // Every COPY source from the build context exists and is not excluded by .dockerignore.
  for (const match of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const source of match[1]!.split(/\s+/)) {
      assert.ok(existsSync(join(ROOT, source)), `COPY ${source} exists`);
      assert.ok(!ignored.includes(source), `${source} is not in .dockerignore`);
    }
  }
  const entrypoint = /^ENTRYPOINT \["\/opt\/phoenix\/current\/(.+)"\]$/m.exec(dockerfile)?.[1];
  assert.equal(entrypoint, 'deploy/docker/entrypoint.sh');
  const syntax = spawnSync('sh', ['-n', join(ROOT, entrypoint)]);
  assert.equal(syntax.status, 0);
});

/** Free loopback ports, held until all are known so no two are the same. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

test("the compose services' entry points run a cluster on one loopback: two masters, three minions answer", async () => {
  const home = dir();
  // The image's PATH: the three programs (here the repo's builds, run by this Node.js).
  const bin = join(home, 'bin');
  await mkdir(bin, { recursive: true });
  const programs: Record<string, string> = {
    phoenix: 'packages/cli/bin/phoenix.js',
    'phoenix-master': 'packages/master/bin/phoenix-master.js',
    'phoenix-minion': 'packages/minion/bin/phoenix-minion.js',
  };
  for (const [name, path] of Object.entries(programs)) {
    await writeFile(join(bin, name), `#!/bin/sh\nexec '${process.execPath}' '${join(ROOT, path)}' "$@"\n`);
    await chmod(join(bin, name), 0o755);
  }
  const shared = join(home, 'shared');
  const [dynamodb, messaging, autoscaling, ...masterPorts] = await freePorts(11);
  const env = {
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    PHOENIX_SHARED: shared,
    PHOENIX_DEVSTACK_DYNAMODB_PORT: String(dynamodb),
    PHOENIX_DEVSTACK_MESSAGING_PORT: String(messaging),
    PHOENIX_DEVSTACK_AUTOSCALING_PORT: String(autoscaling),
    PHOENIX_LOG_LEVEL: 'warn',
  };
  const service = (name: string, role: string, extra: Record<string, string> = {}) =>
    processes.spawn('sh', [ENTRYPOINT, role], {
      env: { ...process.env, ...env, PHOENIX_CONFIG_DIR: join(home, name, 'etc'), ...extra },
    });

  // cloud, then keys (docker-compose: keys completes, cloud healthy)
  const cloud = service('cloud', 'devstack');
  await waitFor(() => existsSync(join(shared, 'devstack.json')), {
    what: `the cloud's devstack.json (${processes.output(cloud)})`,
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  const keys = await run('sh', [ENTRYPOINT, 'init'], { ...env, PHOENIX_CONFIG_DIR: join(home, 'keys', 'etc') });
  assert.equal(keys.code, 0, keys.stderr);
  assert.ok(existsSync(join(shared, 'cluster.key')) && existsSync(join(shared, 'admin.token')));
  const again = await run('sh', [ENTRYPOINT, 'init'], env);
  assert.equal(again.code, 0, 'init is idempotent (docker-compose up runs it every time)');

  // master-1 and master-2 until healthy (their healthcheck is /healthz)
  const apis: string[] = [];
  for (const [i, name] of ['master-1', 'master-2'].entries()) {
    const ports = masterPorts.slice(i * 4, i * 4 + 4);
    const master = service(name, 'master', { PHOENIX_ID: name, PHOENIX_PORTS: ports.join(',') });
    const api = `http://127.0.0.1:${ports[3]}`;
    apis.push(api);
    await waitFor(async () => (await fetch(`${api}/healthz`)).ok, {
      what: `${name} healthy (${processes.output(master)})`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
  }
  for (const name of ['minion-1', 'minion-2', 'minion-3']) {
    service(name, 'minion', { PHOENIX_ID: name, PHOENIX_MINION_STATE: join(home, name, 'state') });
  }

  // docker-compose run --rm cli phoenix …: the entry point supplies the API and the admin token.
  const cli = async (args: string[], api = apis[0]!) => {
    const result = await run('sh', [ENTRYPOINT, 'phoenix', ...args, '--out', 'json'], { ...env, PHOENIX_API: api });
    return { ...result, json: () => JSON.parse(result.stdout) as unknown };
  };
  await waitFor(
    async () => {
      const listed = await cli(['keys', 'list']);
      const pending = (listed.json() as { keys: Array<{ minionId: string; state: string }> }).keys.filter(
        (k) => k.state === 'pending',
      );
      return pending.length === 3;
    },
    { what: 'three pending minion keys', timeoutMs: 60_000, intervalMs: 500 },
  );
  const accepted = await cli(['keys', 'accept', '*']);
  assert.equal(accepted.code, 0, accepted.stderr);
  const answers = await waitFor(
    async () => {
      // Either master answers for the whole cluster.
      const ping = await cli(['run', '*', 'test.ping', '--timeout', '10'], apis[1]);
      const returns = (ping.json() as { returns?: Record<string, { success: boolean; ret: unknown }> }).returns ?? {};
      return ping.code === 0 && Object.keys(returns).length === 3 ? returns : undefined;
    },
    { what: 'test.ping answered by three minions', timeoutMs: 60_000, intervalMs: 500 },
  );
  assert.deepEqual(Object.keys(answers).sort(), ['minion-1', 'minion-2', 'minion-3']);
  for (const answer of Object.values(answers)) assert.deepEqual(answer, { ...answer, success: true, ret: true });
  const masters = await cli(['masters']);
  assert.equal(masters.code, 0, masters.stderr);
  assert.match(masters.stdout, /master-1/);
  assert.match(masters.stdout, /master-2/);
});
