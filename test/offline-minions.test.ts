import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';

// One local cluster for the file, as an operator runs it. Its programs take settings through their
// environment: a minion silent for 2 s counts as gone (each says it is alive every 300 ms), and a
// terminated instance leaves the listings 2 s after it is gone.
const home = useTempDir('phoenix-offline-');
const env = (): NodeJS.ProcessEnv => ({
  PHOENIX_HOME: home(),
  PHOENIX_API: undefined,
  PHOENIX_TOKEN: undefined,
  PHOENIX_MASTER__minionSilenceMs: '2000',
  PHOENIX_MASTER__terminatedMinionRetentionMs: '2000',
  PHOENIX_MINION__aliveIntervalMs: '300',
});

interface RunResult {
  returns: Record<string, { success: boolean; ret: unknown }>;
  failed: string[];
  missing: string[];
  notConnected: string[];
}
interface MinionView {
  minionId: string;
  keyState?: string;
  connected: boolean;
  lifecycle?: { state: string };
}

let ids: string[] = [];
const sandbox = (): string => join(home(), 'sandbox');
const minionPid = async (id: string): Promise<number> =>
  Number(await readFile(join(home(), 'local', 'instances', id, 'minion.pid'), 'utf8'));
const listMinions = async (...extra: string[]): Promise<MinionView[]> =>
  json<{ minions: MinionView[] }>(await phoenix(['minions', '--out', 'json', ...extra], env())).minions;
const ping = async (...args: string[]): Promise<{ code: number; result: RunResult; stderr: string }> => {
  const out = await phoenix(['run', ...args, '--out', 'json'], env(), 90_000);
  return { code: out.code, result: json<RunResult>(out), stderr: out.stderr };
};

/** The file's cluster, started by the first test that needs it. */
let started: Promise<void> | undefined;
const cluster = (): Promise<void> => (started ??= startCluster());
async function startCluster(): Promise<void> {
  const started = await phoenix(
    ['up', '--detach', '--masters', '1', '--minions', '2', '--sandbox-root', sandbox(), '--out', 'json'],
    env(),
    120_000,
  );
  assert.equal(started.code, 0, started.stderr);
  const shown = json<{ minions: { accepted: number; connected: number; inService: number } }>(started);
  assert.deepEqual(
    shown.minions,
    { accepted: 2, connected: 2, inService: 2 },
    'phoenix up returns once both minions are in, past their first highstate',
  );
  ids = (await listMinions()).map((m) => m.minionId).sort();
  assert.equal(ids.length, 2);
}

after(async () => {
  for (const id of ids) {
    // A minion left frozen by a failed test must not outlive the cluster.
    await minionPid(id)
      .then((pid) => process.kill(pid, 'SIGCONT'))
      .catch(() => undefined);
  }
  await phoenix(['down'], env());
});

test('a minion connected to no master is reported at once; the job waits only for the connected one', async () => {
  await cluster();
  const [online, offline] = ids as [string, string];
  const pid = await minionPid(offline);
  process.kill(pid, 'SIGSTOP');
  try {
    await waitFor(async () => (await listMinions()).find((m) => m.minionId === offline)?.connected === false, {
      what: `the master to count ${offline} as gone`,
      timeoutMs: 20_000,
    });
    // A timeout far longer than the phoenix() bound of 90 s: had the job waited for the offline
    // minion it would be killed there, so finishing at all shows it did not.
    const { code, result, stderr } = await ping('*', 'test.ping', '--timeout', '600');
    assert.equal(code, 3, `exit status 3: only a not-connected minion is missing (${stderr})`);
    assert.deepEqual(Object.keys(result.returns), [online]);
    assert.deepEqual(result.notConnected, [offline]);
    assert.deepEqual(result.missing, []);
    assert.match(stderr, new RegExp(`${offline}: not connected to any master`));

    // As salt does, --wait-offline waits for it until the timeout, and still says why it is missing.
    const waited = await ping('*', 'test.ping', '--timeout', '2', '--wait-offline');
    assert.equal(waited.code, 3, waited.stderr);
    assert.deepEqual(waited.result.notConnected, [offline]);

    const jobs = await phoenix(['jobs', 'list', '--out', 'json', '--limit', '1'], env());
    const [last] = json<{ jobs: Array<{ jid: string; notConnected?: string[] }> }>(jobs).jobs;
    assert.deepEqual(last?.notConnected, [offline], 'the job record says who was not connected');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await waitFor(
    async () => {
      const back = await ping('*', 'test.ping', '--timeout', '10');
      return back.code === 0 && Object.keys(back.result.returns).length === 2;
    },
    { what: 'both minions to answer once the frozen one runs again', timeoutMs: 30_000 },
  );
});

test('--sandbox-root confines each local minion to its own directory; --version names the masters', async () => {
  await cluster();
  const wrote = await ping('*', 'state.single', 'file.managed', 'name=/etc/motd', 'contents=hello', 'makedirs=True');
  assert.equal(wrote.code, 0, wrote.stderr);
  for (const id of ids) {
    assert.equal(await readFile(join(sandbox(), id, 'etc', 'motd'), 'utf8'), 'hello\n', `${id} wrote in its sandbox`);
  }
  const version = await phoenix(['--version'], env());
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^phoenix \d+\.\d+\.\d+\nmaster i-[0-9a-f]{17} \d+\.\d+\.\d+\n$/);
});

test('failover by hand: add-master, freeze-master and thaw-master, kill-master --hard', async () => {
  await cluster();
  interface MasterView {
    masterId: string;
    liveness: string;
  }
  const masters = async (): Promise<MasterView[]> =>
    json<{ masters: MasterView[] }>(await phoenix(['masters', '--out', 'json'], env())).masters;
  const [first] = await masters();
  assert.ok(first !== undefined);
  assert.equal((await phoenix(['local', 'add-master'], env())).code, 0);
  const second = await waitFor(
    async () => (await masters()).find((m) => m.masterId !== first.masterId && m.liveness === 'live')?.masterId,
    { what: 'a second live master', timeoutMs: 30_000 },
  );
  const pid = Number(await readFile(join(home(), 'local', 'instances', second, 'master.pid'), 'utf8'));
  const state = async (): Promise<string> => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  };
  assert.equal((await phoenix(['local', 'freeze-master', second], env())).code, 0);
  await waitFor(async () => (await state()) === 'T', { what: `${second} to be stopped`, timeoutMs: 5_000 });
  assert.equal((await phoenix(['local', 'thaw-master', second], env())).code, 0);
  await waitFor(async () => (await state()) !== 'T', { what: `${second} to run again`, timeoutMs: 5_000 });
  const killed = await phoenix(['local', 'kill-master', second, '--hard', '--out', 'json'], env());
  assert.equal(killed.code, 0, killed.stderr);
  assert.deepEqual(json(killed), { instanceId: second, pid, signal: 'SIGKILL' });
  await waitFor(async () => (await masters()).find((m) => m.masterId === second)?.liveness === 'dead', {
    what: `${second} to be dead to the cluster`,
    timeoutMs: 30_000,
  });
  // Every minion answers through the master that is left.
  await waitFor(
    async () => {
      const { code, result } = await ping('*', 'test.ping', '--timeout', '10');
      return code === 0 && Object.keys(result.returns).length === ids.length;
    },
    { what: 'every minion to answer through the first master', timeoutMs: 30_000 },
  );
  const unknown = await phoenix(['local', 'kill-master', 'i-00000000000000000'], env());
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /not a master of the local cluster/);
});

test('accepting a rejected key again lets its minion back at once, not at its next retry', async () => {
  await cluster();
  const [, minion] = ids as [string, string];
  const rejected = await phoenix(['keys', 'reject', minion, '--include', '--out', 'json'], env());
  assert.equal(rejected.code, 0, rejected.stderr);
  assert.deepEqual(
    json<{ changes: Array<{ to: string }> }>(rejected).changes.map((c) => c.to),
    ['rejected'],
  );
  await waitFor(async () => (await listMinions()).find((m) => m.minionId === minion)?.connected === false, {
    what: `${minion} to be cut off`,
    timeoutMs: 10_000,
  });
  const accepted = await phoenix(['keys', 'accept', minion, '--include'], env());
  assert.equal(accepted.code, 0, accepted.stderr);
  // The minion asks again only every 10 s (enrolRetryMs) on its own: within 5 s, only the master's
  // word to the waiting minion can have brought it back.
  await waitFor(
    async () => {
      const { code } = await ping(minion, 'test.ping', '--timeout', '5');
      return code === 0;
    },
    { what: `${minion} to answer again after its key is accepted`, timeoutMs: 5_000 },
  );
});

test('a terminated instance leaves phoenix minions after the retention window; --all still shows it', async () => {
  await cluster();
  const scaled = await phoenix(['local', 'scale', '1'], env());
  assert.equal(scaled.code, 0, scaled.stderr);
  const gone = await waitFor(
    async () => (await listMinions('--all')).find((m) => m.lifecycle?.state === 'terminated')?.minionId,
    { what: 'one instance to be terminated', timeoutMs: 30_000 },
  );
  await waitFor(async () => !(await listMinions()).some((m) => m.minionId === gone), {
    what: `${gone} to leave phoenix minions once its retention window has passed`,
    timeoutMs: 20_000,
  });
  const all = await listMinions('--all');
  assert.equal(all.find((m) => m.minionId === gone)?.lifecycle?.state, 'terminated', '--all shows it');
  assert.equal((await listMinions()).length, 1, 'the instance in service is still listed');
});
