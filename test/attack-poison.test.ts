import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { deepReturnBody, HostileMinion } from './lib/hostile-minion.js';

// Faster clocks than the defaults, so the file stays quick; the rules are the same.
const MASTER_TIMING = { heartbeatIntervalMs: 500, minionHeartbeatMs: 500, deadAfterMs: 2_000, drainTimeoutMs: 2_000 };

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
const masters: RunningMaster[] = [];
let rogue: HostileMinion;

const env = (master: RunningMaster): NodeJS.ProcessEnv => ({
  PHOENIX_API: master.api,
  PHOENIX_TOKEN: ADMIN_TOKEN,
  PHOENIX_HOME: dir(),
});

async function get(master: RunningMaster, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${master.api}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return { status: response.status, text: await response.text() };
}

/** The value of one Prometheus sample on a master, 0 when it is absent. */
async function metric(master: RunningMaster, name: string, labels: Record<string, string>): Promise<number> {
  const { text } = await get(master, '/metrics');
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && wanted.every((label) => l.includes(label)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Every master is up, says so on /healthz, and a test.ping through it reaches the genuine minion. */
async function everyMasterAnswers(): Promise<void> {
  for (const master of masters) {
    assert.equal(master.process.exitCode, null, `${master.id} is running`);
    assert.equal(master.process.signalCode, null, `${master.id} is running`);
    assert.equal((await get(master, '/healthz')).status, 200, `${master.id} answers /healthz`);
    const out = await phoenix(['run', 'steady-1', 'test.ping', '--out', 'json', '--timeout', '10'], env(master));
    assert.equal(out.code, 0, `a test.ping through ${master.id}: ${out.stdout}${out.stderr}`);
    assert.equal(json<{ returns: Record<string, { ret: unknown }> }>(out).returns['steady-1']?.ret, true);
  }
}

test('three masters, a genuine minion and an accepted hostile one', async () => {
  for (const id of ['m1', 'm2', 'm3'])
    masters.push(await startMasterProcess(devstack(), dir(), processes, id, undefined, MASTER_TIMING));
  await startMinionProcess(devstack(), dir(), processes, 'steady-1', masters, { heartbeatMs: 500 });
  rogue = new HostileMinion('rogue-1', devstack().clusterKeys.publicKey);
  assert.equal(await rogue.enrol(masters[0] as RunningMaster), 'pending');
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(
        await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env(masters[0] as RunningMaster)),
      ).keys.length === 2,
    { what: 'both keys pending', timeoutMs: 20_000 },
  );
  await phoenix(['keys', 'accept', '*'], env(masters[0] as RunningMaster));
  await waitFor(
    async () =>
      (await phoenix(['run', 'steady-1', 'test.ping', '--timeout', '3'], env(masters[0] as RunningMaster))).code === 0,
    { what: 'the genuine minion to answer', timeoutMs: 30_000 },
  );
});

test('a return nested 200,000 arrays deep, sent to every master in turn, stops none of them', async () => {
  for (const master of masters) {
    const welcome = await waitFor(() => rogue.connect(master, 2_000), {
      what: `rogue-1 to be welcomed by ${master.id}`,
      timeoutMs: 20_000,
    });
    assert.equal(welcome.t, 'welcome');
    const submitted = json<{ jid: string }>(
      await phoenix(['run', 'rogue-1', 'test.ping', '--async', '--out', 'json'], env(master)),
    );
    await rogue.waitFor((m) => m.t === 'job' && m.jid === submitted.jid, 10_000);
    const poison = deepReturnBody('rogue-1', submitted.jid, 200_000);
    assert.ok(poison.length > 190_000 && poison.length < 210_000, `${poison.length} bytes`);
    await rogue.sendBody(poison);
    await waitFor(async () => (await metric(master, 'phoenix_refused_inputs_total', { reason: 'too-deep' })) >= 1, {
      what: `${master.id} to count the refused return`,
      timeoutMs: 10_000,
    });
    await everyMasterAnswers();
  }
  rogue.close();
});
