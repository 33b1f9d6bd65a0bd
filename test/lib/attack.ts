import assert from 'node:assert/strict';
import { waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './cli.js';
import { ADMIN_TOKEN, type RunningMaster } from './cluster.js';

/** What the CLI needs to speak to `master` as the admin. */
export const adminEnv = (master: RunningMaster, home: string): NodeJS.ProcessEnv => ({
  PHOENIX_API: master.api,
  PHOENIX_TOKEN: ADMIN_TOKEN,
  PHOENIX_HOME: home,
});

/** One request to a master's API as the admin. */
export async function api(
  master: RunningMaster,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, text: await response.text() };
}

/** The value of one Prometheus sample on a master's /metrics, 0 when it is absent. */
export async function metric(
  master: RunningMaster,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const { text } = await api(master, 'GET', '/metrics');
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((label) => l.includes(label)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** How many inputs of a kind a master refused for a reason, as /metrics counts them. */
export const refused = (master: RunningMaster, input: string, reason: string): Promise<number> =>
  metric(master, 'phoenix_refused_inputs_total', { input, reason });

/**
 * Every master is running, says so on /healthz, and a `test.ping` submitted through it reaches the
 * genuine minion `minionId` (a real minion process) and comes back.
 */
export async function everyMasterAnswers(
  masters: readonly RunningMaster[],
  minionId: string,
  home: string,
): Promise<void> {
  for (const master of masters) {
    assert.equal(master.process.exitCode, null, `${master.id} is running`);
    assert.equal(master.process.signalCode, null, `${master.id} is running`);
    assert.equal((await api(master, 'GET', '/healthz')).status, 200, `${master.id} answers /healthz`);
    const out = await phoenix(
      ['run', minionId, 'test.ping', '--out', 'json', '--timeout', '10'],
      adminEnv(master, home),
    );
    assert.equal(out.code, 0, `a test.ping through ${master.id}: ${out.stdout}${out.stderr}`);
    assert.equal(json<{ returns: Record<string, { ret: unknown }> }>(out).returns[minionId]?.ret, true);
  }
}

/** Accepts every key once `count` are pending (a genuine minion's and a hostile one's, say). */
export async function acceptWhenPending(env: NodeJS.ProcessEnv, count: number): Promise<void> {
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env)).keys
        .length === count,
    { what: `${count} keys pending`, timeoutMs: 20_000 },
  );
  await phoenix(['keys', 'accept', '*'], env);
}

/** Accepts `minionId`'s key as soon as it is pending. */
export async function acceptOnce(env: NodeJS.ProcessEnv, minionId: string): Promise<void> {
  await waitFor(
    async () =>
      json<{ changes: unknown[] }>(await phoenix(['keys', 'accept', minionId, '--out', 'json'], env)).changes.length ===
      1,
    { what: `${minionId} enrolled and accepted`, timeoutMs: 20_000 },
  );
}

/** Until `minionId` answers a test.ping (its session is up). */
export async function untilAnswers(env: NodeJS.ProcessEnv, minionId: string): Promise<void> {
  await waitFor(async () => (await phoenix(['run', minionId, 'test.ping', '--timeout', '3'], env)).code === 0, {
    what: `${minionId} to answer`,
    timeoutMs: 30_000,
  });
}
