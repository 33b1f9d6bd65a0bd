import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Context } from 'zeromq';
import pino from 'pino';
import { startMinion, MinionConfigSchema, type Minion } from '@phoenix/minion';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess } from './lib/cluster.js';

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
const minions: Minion[] = [];
after(async () => {
  await Promise.all(minions.map((minion) => minion.stop()));
});

test('many minions share one process and one ZeroMQ context without sharing state', async () => {
  const master = await startMasterProcess(devstack(), dir(), processes, 'master-1');
  const env = { PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN, PHOENIX_HOME: dir() };
  const context = new Context();
  const count = 20;
  for (let i = 0; i < count; i++) {
    const id = `swarm-${String(i).padStart(2, '0')}`;
    const config = MinionConfigSchema.parse({
      id,
      masters: [{ host: '127.0.0.1', port: master.ports.minion, enrolPort: master.ports.enrol }],
      clusterPublicKey: devstack().clusterKeys.publicKey,
      pkiDir: join(dir(), id, 'pki'),
      cacheDir: join(dir(), id, 'cache'),
      imds: { enabled: false },
      enrolRetryMs: 300,
    });
    minions.push(await startMinion(config, { context, log: pino({ level: 'silent' }) }));
  }
  assert.equal(new Set(minions.map((m) => m.publicKey)).size, count, 'each minion has its own key pair');

  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', 'swarm-*', '--out', 'json'], env)).keys.length === count,
    { what: `${count} keys`, timeoutMs: 20_000 },
  );
  await phoenix(['keys', 'accept', 'swarm-*'], env);
  // Each minion answers for itself: its own id grain, its own custom grain.
  const result = await waitFor(
    async () => {
      const out = await phoenix(['run', 'swarm-*', 'grains.get', 'id', '--out', 'json', '--timeout', '5'], env);
      const parsed = json<{ returns: Record<string, { ret: unknown }> }>(out);
      return out.code === 0 && Object.keys(parsed.returns).length === count ? parsed : undefined;
    },
    { what: `all ${count} minions to answer`, timeoutMs: 30_000 },
  );
  for (const [id, answer] of Object.entries(result.returns)) assert.equal(answer.ret, id);

  await phoenix(['run', 'swarm-07', 'grains.setval', 'role', 'seven'], env);
  const roles = json<{ returns: Record<string, unknown> }>(
    await phoenix(['run', '-G', 'role:seven', 'test.ping', '--out', 'json', '--timeout', '5'], env),
  );
  assert.deepEqual(Object.keys(roles.returns), ['swarm-07'], 'a grain set on one minion stays on that minion');
});
