import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from 'zeromq';
import pino from 'pino';
import { startMinion, MinionConfigSchema, type Minion } from '@phoenix/minion';
import type { Devstack } from '@phoenix/devstack';
import { waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './cli.js';
import type { RunningMaster } from './cluster.js';

/**
 * Real minions in this process (one ZeroMQ context), many for the cost of one: each with its own
 * keys, cache and state root under `dir`, pointed at `masters`. Their keys are accepted through the
 * CLI and each answers a job before this returns. Each is added to `into` as it starts, so the
 * caller stops every one that started, even when a later one fails.
 */
export async function startMinions(
  devstack: Devstack,
  dir: string,
  masters: readonly RunningMaster[],
  ids: readonly string[],
  env: NodeJS.ProcessEnv,
  into: Minion[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  const context = new Context();
  for (const id of ids) {
    await mkdir(join(dir, id, 'root'), { recursive: true });
    const config = MinionConfigSchema.parse({
      id,
      masters: masters.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.ports.minion, enrolPort: m.ports.enrol })),
      clusterPublicKey: devstack.clusterKeys.publicKey,
      pkiDir: join(dir, id, 'pki'),
      cacheDir: join(dir, id, 'cache'),
      state: { root: join(dir, id, 'root') },
      imds: { enabled: false },
      enrolRetryMs: 300,
      ...extra,
    });
    into.push(await startMinion(config, { context, log: pino({ level: 'silent' }) }));
  }
  // Each key known to the masters (pending, or accepted before: a minion started again).
  await waitFor(
    async () => {
      const keys = json<{ keys: Array<{ minionId: string }> }>(
        await phoenix(['keys', 'list', '--out', 'json'], env),
      ).keys;
      return ids.every((id) => keys.some((key) => key.minionId === id));
    },
    { what: 'every key known', timeoutMs: 30_000 },
  );
  await phoenix(['keys', 'accept', '*'], env);
  await waitFor(
    async () => {
      const ping = json<{ returns: object }>(await phoenix(['run', '*', 'test.ping', '--out', 'json', '-t', '5'], env));
      return ids.every((id) => id in ping.returns);
    },
    { what: 'every minion answering', timeoutMs: 40_000 },
  );
}
