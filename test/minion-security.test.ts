import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stopProcess, useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, freePort, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { HostileMinion } from './lib/hostile-minion.js';

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();

interface RunResult {
  jid: string;
  returns: Record<string, { success: boolean; ret: unknown }>;
  missing: string[];
}
interface Shown {
  returns: Array<{ minionId: string; ret: unknown }>;
  missing: string[];
  notConnected: string[];
}

let master: RunningMaster;
const minions = new Map<string, ChildProcess>();
let ports: { enrol: number; minion: number; api: number };
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN, PHOENIX_HOME: dir() });

test('an accepted cluster of three answers', async () => {
  ports = { enrol: await freePort(), minion: await freePort(), api: await freePort() };
  master = await startMasterProcess(devstack(), dir(), processes, 'master-1', ports);
  for (const id of ['web-1', 'web-2', 'web-3'])
    minions.set(id, await startMinionProcess(devstack(), dir(), processes, id, [master]));
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env())).keys
        .length === 3,
    { what: 'three pending keys', timeoutMs: 20_000 },
  );
  await phoenix(['keys', 'accept', '*'], env());
  await waitFor(
    async () => {
      const out = await phoenix(['run', '*', 'test.ping', '--out', 'json', '--timeout', '5'], env());
      return out.code === 0 && Object.keys(json<RunResult>(out).returns).length === 3;
    },
    { what: 'three minions answering', timeoutMs: 30_000 },
  );
});

test('a second process presenting a different key for an accepted id is denied and changes nothing', async () => {
  const impostor = await startMinionProcess(devstack(), join(dir(), 'impostor'), processes, 'web-1', [master]);
  const denied = await waitFor(
    async () => {
      const listed = json<{ keys: Array<{ minionId: string; fingerprint: string }> }>(
        await phoenix(['keys', 'list', 'web-1', '--state', 'denied', '--out', 'json'], env()),
      );
      return listed.keys[0];
    },
    { what: 'the impostor key to be listed as denied', timeoutMs: 15_000 },
  );
  const held = json<{ keys: Array<{ fingerprint: string }> }>(
    await phoenix(['keys', 'list', 'web-1', '--state', 'accepted', '--out', 'json'], env()),
  ).keys[0];
  assert.ok(held, 'web-1 keeps its accepted key');
  assert.notEqual(held.fingerprint, denied.fingerprint);
  await stopProcess(impostor);
  const out = await phoenix(['run', 'web-1', 'test.ping', '--out', 'json', '--timeout', '5'], env());
  assert.equal(out.code, 0, 'the genuine web-1 still answers');
});

test('a minion with a valid key that sends a return as another minion is refused', async () => {
  // web-3 stops answering; web-1's own keys then try to answer for it.
  await stopProcess(minions.get('web-3') as ChildProcess);
  const submitted = json<{ jid: string }>(
    await phoenix(['run', 'web-3', 'test.ping', '--async', '--out', 'json'], env()),
  );

  const pki = join(dir(), 'web-1', 'pki');
  const keyPair = {
    publicKey: (await readFile(join(pki, 'minion.pub'), 'utf8')).trim(),
    secretKey: (await readFile(join(pki, 'minion.key'), 'utf8')).trim(),
  };
  const rogue = new HostileMinion('web-1', devstack().clusterKeys.publicKey, keyPair);
  try {
    assert.ok(await rogue.connect(master), 'web-1 keys open a session');
    const send = (message: Record<string, unknown>): Promise<void> => rogue.send(message);
    const forged = {
      v: 1,
      t: 'return',
      jid: submitted.jid,
      fun: 'test.ping',
      success: true,
      retcode: 0,
      ret: 'forged',
      startedAt: 0,
      finishedAt: 0,
    } as const;
    await send({ ...forged, id: 'web-3' }); // web-3's id, web-1's key: the mac does not verify for web-3
    await send({ ...forged, id: 'web-1' }); // its own id, but a job web-1 was never sent
    await waitFor(
      () => processes.output(master.process).includes('refused a return for a job this minion was not sent'),
      {
        what: 'the master to refuse the return for a job web-1 was not sent',
      },
    );
  } finally {
    rogue.close();
  }
  await waitFor(() => /"reason":"wrong-id".*"claimed":"web-3"/.test(processes.output(master.process)), {
    what: 'the master to refuse the return claiming web-3',
  });
  const shown = json<Shown>(await phoenix(['jobs', 'show', submitted.jid, '--out', 'json'], env()));
  assert.deepEqual(shown.returns, [], 'no forged return was stored');
  // Stopped before the job: not connected, or (if the master had not yet seen it leave) missing.
  assert.deepEqual([...shown.missing, ...shown.notConnected], ['web-3']);
});

test('a minion killed mid-job is reported as not returned', async () => {
  const ping = (id: string) => async () =>
    (await phoenix(['run', id, 'test.ping', '--timeout', '2'], env())).code === 0;
  await waitFor(ping('web-1'), { what: 'web-1 to answer again', timeoutMs: 20_000 });
  const run = phoenix(['run', '-L', 'web-1,web-2', 'test.sleep', '8', '--out', 'json', '--timeout', '16'], env());
  await waitFor(
    async () => {
      const out = await phoenix(['run', 'web-2', 'saltutil.running', '--out', 'json', '--timeout', '2'], env());
      const running = json<RunResult>(out).returns['web-2']?.ret;
      return Array.isArray(running) && running.some((job: { fun?: string }) => job.fun === 'test.sleep');
    },
    { what: 'test.sleep to be running on web-2', timeoutMs: 7_000 },
  );
  (minions.get('web-2') as ChildProcess).kill('SIGKILL');
  const out = await run;
  assert.equal(out.code, 1);
  const result = json<RunResult>(out);
  assert.deepEqual(result.missing, ['web-2']);
  assert.equal(result.returns['web-1']?.ret, true);
  assert.match(out.stderr, /web-2: did not return within 16 s/);
});

test('a minion whose master restarts re-sends its unacknowledged return and the job shows it once', async () => {
  const submitted = json<{ jid: string }>(
    await phoenix(['run', 'web-1', 'test.sleep', '2', '--async', '--out', 'json'], env()),
  );
  master.process.kill('SIGKILL'); // the return cannot be delivered while the master is gone
  await new Promise((resolve) => master.process.once('exit', resolve));
  master = await startMasterProcess(devstack(), dir(), processes, 'master-1', ports);
  const shown = await waitFor(
    async () => {
      const out = json<Shown>(await phoenix(['jobs', 'show', submitted.jid, '--out', 'json'], env()));
      return out.returns.length > 0 ? out : undefined;
    },
    { what: 'the re-sent return to be stored', timeoutMs: 30_000 },
  );
  assert.deepEqual(
    shown.returns.map((r) => [r.minionId, r.ret]),
    [['web-1', true]],
  );
  assert.deepEqual(shown.missing, []);
});
