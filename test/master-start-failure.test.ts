/**
 * A master is a list of parts started in order. One that cannot start stops those before it: the
 * master leaves no bound port, no timer, no open connection and no row in the masters table. A
 * master that started and stopped leaves nothing either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import pino from 'pino';
import { awsClientConfig, startComponents, type Component } from '@phoenix/protocol';
import { Store } from '@phoenix/store';
import { useDevstack, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { masterComponents, MasterConfigSchema, startMaster, type MasterConfig } from '@phoenix/master';

const devstack = useDevstack();
const tmp = useTempDir();
const silent = pino({ level: 'silent' });

/**
 * What the process holds that could keep running, from now on: timers and TCP handles, each with
 * where it was made. The test's own waiting (its poll timers) is not the master's and is left out.
 */
function trackResources(): { live(): string[]; stop(): void } {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout' && type !== 'TCPWRAP' && type !== 'TCPSERVERWRAP') return;
      const stack = new Error().stack ?? '';
      if (/at waitFor \(\S*devstack\/dist\/src\/testing\.js/.test(stack)) return;
      live.set(id, `${type} ${stack.split('\n').slice(2, 8).join(' ')}`);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return { live: () => [...live.values()], stop: () => hook.disable() };
}

/** Free loopback ports, found by binding and letting go. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listenOn(0)));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** True once `port` can be bound again (ZeroMQ lets go of a closed socket's port on its own thread). */
async function portFree(port: number): Promise<boolean> {
  try {
    const server = await listenOn(port);
    await new Promise((resolve) => server.close(resolve));
    return true;
  } catch {
    return false;
  }
}

async function masterConfig(id: string, ports: { enrol: number; minion: number; peer: number; api: number }) {
  const pkiDir = join(tmp(), id, 'pki');
  await mkdir(pkiDir, { recursive: true });
  await writeFile(join(pkiDir, 'cluster.pub'), devstack().clusterKeys.publicKey);
  await writeFile(join(pkiDir, 'cluster.key'), devstack().clusterKeys.secretKey, { mode: 0o600 });
  const config: MasterConfig = MasterConfigSchema.parse({
    id,
    bind: '127.0.0.1',
    advertise: '127.0.0.1',
    ports,
    aws: devstack().aws,
    tablePrefix: devstack().tablePrefix,
    pkiDir,
    fileRoots: { base: [join(tmp(), id, 'salt')] },
    pillarRoots: { base: [join(tmp(), id, 'pillar')] },
    logLevel: 'silent',
  });
  return config;
}

async function masterRow(id: string): Promise<unknown> {
  const client = new DynamoDBClient(awsClientConfig(devstack().aws, 'dynamodb'));
  try {
    return await new Store(client, devstack().tablePrefix).masters.get(id);
  } finally {
    client.destroy();
  }
}

async function assertNothingLeft(resources: { live(): string[] }, ports: readonly number[]): Promise<void> {
  await waitFor(() => resources.live().length === 0, {
    what: 'every timer and connection of the master to be gone',
    timeoutMs: 10_000,
  }).catch((err: unknown) => assert.fail(`${(err as Error).message}; still held: ${resources.live().join(', ')}`));
  for (const port of ports) await waitFor(() => portFree(port), { what: `port ${port} to be free`, timeoutMs: 10_000 });
}

test("a failure in the master's third part stops the two started before it, and nothing is left running", async () => {
  const ports = await freePorts(4);
  const [enrol, minion, peer, api] = ports as [number, number, number, number];
  const config = await masterConfig('third-fails', { enrol, minion, peer, api });
  const resources = trackResources();
  try {
    const master = await masterComponents(config, silent);
    const calls: string[] = [];
    const observed = master.components.map((part, index): Component => ({
      name: part.name,
      start: async () => {
        calls.push(`start ${index}`);
        if (index === 2) throw new Error('injected: the third part cannot start');
        await part.start?.();
      },
      stop: async () => {
        calls.push(`stop ${index}`);
        await part.stop?.();
      },
    }));
    await assert.rejects(startComponents(observed, master.log), /injected: the third part cannot start/);
    // The first two started (the AWS clients, the caches read from the tables), then all three stopped.
    assert.deepEqual(calls, ['start 0', 'start 1', 'start 2', 'stop 2', 'stop 1', 'stop 0']);
    await assertNothingLeft(resources, ports);
    assert.equal(await masterRow('third-fails'), undefined);
  } finally {
    resources.stop();
  }
});

test('a master whose API port is taken fails to start and lets go of every port it had bound', async () => {
  const ports = await freePorts(3);
  const [enrol, minion, peer] = ports as [number, number, number];
  const taken = await listenOn(0);
  const api = (taken.address() as { port: number }).port;
  const config = await masterConfig('api-port-taken', { enrol, minion, peer, api });
  const resources = trackResources();
  try {
    await assert.rejects(startMaster(config, silent), /EADDRINUSE/);
    await assertNothingLeft(resources, ports);
    assert.equal(await masterRow('api-port-taken'), undefined);
  } finally {
    resources.stop();
    await new Promise((resolve) => taken.close(resolve));
  }
});

test('a master that started and stopped leaves nothing running and no row', async () => {
  const ports = await freePorts(4);
  const [enrol, minion, peer, api] = ports as [number, number, number, number];
  const config = await masterConfig('starts-and-stops', { enrol, minion, peer, api });
  const resources = trackResources();
  try {
    const master = await startMaster(config, silent);
    assert.deepEqual(master.ports, { enrol, minion, peer, api });
    assert.notEqual(await masterRow('starts-and-stops'), undefined);
    await master.stop();
    await assertNothingLeft(resources, ports);
    assert.equal(await masterRow('starts-and-stops'), undefined);
  } finally {
    resources.stop();
  }
});
