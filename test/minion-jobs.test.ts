import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();

interface RunResult {
  jid: string;
  returns: Record<string, { success: boolean; retcode: number; ret: unknown }>;
  failed: string[];
  missing: string[];
}

let master: RunningMaster;
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN, PHOENIX_HOME: dir() });
const run = async (...args: string[]): Promise<{ code: number; result: RunResult }> => {
  const out = await phoenix(['run', ...args, '--out', 'json', '--timeout', '10'], env());
  return { code: out.code, result: json<RunResult>(out) };
};

test('minions enrol as pending, are accepted with phoenix keys, and answer jobs', async () => {
  // The master's own state tree and pillar (never the host's /srv).
  const pillarRoot = join(dir(), 'pillar');
  await mkdir(pillarRoot, { recursive: true });
  await writeFile(join(pillarRoot, 'top.sls'), "base:\n  '*':\n    - common\n  'web-*':\n    - web\n");
  await writeFile(join(pillarRoot, 'common.sls'), 'site: lab\n');
  await writeFile(join(pillarRoot, 'web.sls'), "tier: {{ 'front' if grains['id'].startswith('web') else 'back' }}\n");
  await mkdir(join(dir(), 'salt'), { recursive: true });
  master = await startMasterProcess(devstack(), dir(), processes, 'master-1', undefined, {
    fileRoots: { base: [join(dir(), 'salt')] },
    pillarRoots: { base: [pillarRoot] },
  });
  for (const id of ['web-1', 'web-2', 'db-1']) await startMinionProcess(devstack(), dir(), processes, id, [master]);

  const pending = await waitFor(
    async () => {
      const listed = json<{ keys: Array<{ minionId: string; state: string }> }>(
        await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env()),
      );
      return listed.keys.length === 3 ? listed.keys : undefined;
    },
    { what: 'three pending keys', timeoutMs: 20_000 },
  );
  assert.deepEqual(
    pending.map((k) => k.minionId),
    ['db-1', 'web-1', 'web-2'],
  );

  const accepted = await phoenix(['keys', 'accept', '*', '--out', 'json'], env());
  assert.equal(accepted.code, 0, accepted.stderr);
  assert.equal(json<{ changes: unknown[] }>(accepted).changes.length, 3);

  const ping = await waitFor(
    async () => {
      const { code, result } = await run('*', 'test.ping');
      return code === 0 && Object.keys(result.returns).length === 3 ? result : undefined;
    },
    { what: 'all three minions to answer test.ping', timeoutMs: 30_000 },
  );
  for (const id of ['web-1', 'web-2', 'db-1'])
    assert.deepEqual(ping.returns[id], { success: true, retcode: 0, ret: true });
});

test('glob, list, grain and compound targets select exactly the right minions', async () => {
  const selected = async (...args: string[]): Promise<string[]> =>
    Object.keys((await run(...args)).result.returns).sort();
  assert.deepEqual(await selected('web-*', 'test.ping'), ['web-1', 'web-2']);
  assert.deepEqual(await selected('-L', 'web-1,db-1', 'test.ping'), ['db-1', 'web-1']);
  assert.deepEqual(await selected('-G', 'id:db-*', 'test.ping'), ['db-1']);
  assert.deepEqual(await selected('-C', 'G@id:web-* and not web-2', 'test.ping'), ['web-1']);

  const set = await run('web-2', 'grains.setval', 'role', 'cache');
  assert.equal(set.code, 0);
  assert.deepEqual(
    await selected('-G', 'role:cache', 'test.ping'),
    ['web-2'],
    'a grain set by grains.setval is targetable at once',
  );
});

test('execution modules return real results and failures exit non-zero', async () => {
  const echo = await run('web-1', 'test.echo', 'hello world');
  assert.equal(echo.result.returns['web-1']?.ret, 'hello world');

  const cmd = await run('web-1', 'cmd.run', 'echo $PHX_TEST_VALUE', 'env={"PHX_TEST_VALUE":"from-env"}');
  assert.equal(cmd.result.returns['web-1']?.ret, 'from-env');

  const failing = await run('db-1', 'cmd.run', 'exit 3');
  assert.equal(failing.code, 1);
  assert.deepEqual(failing.result.failed, ['db-1']);
  assert.equal(failing.result.returns['db-1']?.retcode, 3);

  const unknown = await run('db-1', 'nosuch.function');
  assert.equal(unknown.code, 1);
  assert.match(String(unknown.result.returns['db-1']?.ret), /nosuch\.function/);

  const shown = json<{ returns: unknown[]; missing: string[] }>(
    await phoenix(['jobs', 'show', echo.result.jid, '--out', 'json'], env()),
  );
  assert.equal(shown.returns.length, 1);
  assert.deepEqual(shown.missing, []);
});

test('every execution module answers through the master', async () => {
  const ret = async (...args: string[]): Promise<unknown> => {
    const { result } = await run('web-1', ...args);
    assert.ok(result.returns?.['web-1'], `web-1 answered ${args.join(' ')}: ${JSON.stringify(result)}`);
    return result.returns['web-1']?.ret;
  };
  assert.match(String(await ret('test.version')), /^\d+\.\d+\.\d+/);
  assert.equal(await ret('test.sleep', '0.1'), true);
  assert.equal(await ret('cmd.retcode', 'exit 0'), 0);
  const all = (await ret('cmd.run_all', 'echo out; echo err >&2')) as {
    stdout: string;
    stderr: string;
    retcode: number;
  };
  assert.deepEqual([all.stdout, all.stderr, all.retcode], ['out', 'err', 0]);
  const items = (await ret('grains.items')) as Record<string, unknown>;
  assert.equal(items.id, 'web-1');
  assert.equal(typeof items.kernel, 'string');
  assert.equal(await ret('grains.get', 'id'), 'web-1');
  assert.equal((await ret('grains.setval', 'colour', 'blue')) !== undefined, true);
  assert.equal(await ret('grains.get', 'colour'), 'blue');
  await ret('grains.delval', 'colour');
  assert.equal(await ret('grains.get', 'colour'), null, "Salt's delval leaves the grain, set to None");
  await ret('grains.delval', 'colour', 'destructive=True');
  assert.equal(await ret('grains.get', 'colour'), '');
  // The modules operators call every day, as `phoenix run '*' ...` through a real master: each
  // minion's own pillar (rendered by the master), its grains, its files and its services.
  const everyone = async (...args: string[]) => (await run('*', ...args)).result.returns;
  assert.deepEqual(Object.fromEntries(Object.entries(await everyone('pillar.items')).map(([id, r]) => [id, r.ret])), {
    'web-1': { site: 'lab', tier: 'front' },
    'web-2': { site: 'lab', tier: 'front' },
    'db-1': { site: 'lab' },
  });
  const os = await everyone('grains.item', 'os');
  assert.deepEqual(Object.keys(os).sort(), ['db-1', 'web-1', 'web-2']);
  for (const [id, r] of Object.entries(os)) {
    assert.deepEqual(Object.keys(r.ret as object), ['os'], id);
    assert.equal(typeof (r.ret as { os: unknown }).os, 'string', id);
  }
  const hosts = await everyone('file.file_exists', '/etc/hosts');
  assert.deepEqual(
    Object.values(hosts).map((r) => r.ret),
    [true, true, true],
  );
  const ssh = await everyone('service.status', 'ssh');
  assert.deepEqual(Object.keys(ssh).sort(), ['db-1', 'web-1', 'web-2']);
  for (const [id, r] of Object.entries(ssh)) {
    // A host without a service manager answers with the reason, as a failed job, never a crash.
    assert.ok(
      (r.success && typeof r.ret === 'boolean') ||
        (!r.success && /systemd is not running|not found on PATH/.test(String(r.ret))),
      `${id}: service.status answers, or says why it cannot: ${JSON.stringify(r)}`,
    );
  }
  assert.equal(await ret('test.ping'), true, 'the minions still answer');
  assert.ok(((await ret('sys.list_functions', 'test')) as string[]).includes('test.ping'));
  assert.match(JSON.stringify(await ret('sys.doc', 'test.ping')), /test\.ping/);
  assert.deepEqual(await ret('saltutil.running'), []);
  assert.equal((await ret('saltutil.is_running', 'test.sleep')) instanceof Array, true);

  // A long job, seen running and then killed from a second job.
  const sleeping = json<{ jid: string }>(
    await phoenix(['run', 'web-1', 'test.sleep', '60', '--async', '--out', 'json'], env()),
  );
  await waitFor(
    async () => ((await ret('saltutil.running')) as Array<{ jid: string }>).some((job) => job.jid === sleeping.jid),
    { what: 'the sleep to show in saltutil.running' },
  );
  await ret('saltutil.kill_job', sleeping.jid);
  const shown = await waitFor(
    async () => {
      const out = json<{ returns: Array<{ success: boolean; ret: unknown }> }>(
        await phoenix(['jobs', 'show', sleeping.jid, '--out', 'json'], env()),
      );
      return out.returns[0];
    },
    { what: 'the killed job to return' },
  );
  assert.equal(shown.success, false);
  assert.match(String(shown.ret), /killed/);
});

test('garbage bytes and oversized frames sent to the master sockets leave it serving jobs', async () => {
  // Random bytes, and a ZMTP-looking greeting followed by a frame header claiming 2^62 bytes.
  const oversized = Buffer.concat([
    Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f]),
    Buffer.alloc(64),
    Buffer.from([0x02, 0x40, 0, 0, 0, 0, 0, 0, 0]),
  ]);
  for (const port of [master.ports.enrol, master.ports.minion]) {
    for (const payload of [randomBytes(64 * 1024), oversized]) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.write(payload));
        // The master may hold the connection open waiting for more: give it a moment, then hang up.
        socket.setTimeout(1_000, () => socket.destroy());
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
      });
    }
  }
  const { code, result } = await run('*', 'test.ping');
  assert.equal(code, 0);
  assert.equal(Object.keys(result.returns).length, 3);
});

test('a deleted key stops the minion from receiving jobs', async () => {
  const deleted = await phoenix(['keys', 'delete', 'db-1', '--out', 'json'], env());
  assert.deepEqual(
    json<{ changes: Array<{ minionId: string }> }>(deleted).changes.map((c) => c.minionId),
    ['db-1'],
  );
  const after = await run('*', 'test.ping');
  assert.deepEqual(Object.keys(after.result.returns).sort(), ['web-1', 'web-2']);
  const targeted = await phoenix(['run', 'db-1', 'test.ping', '--out', 'json'], env());
  assert.equal(targeted.code, 1);
  assert.match(targeted.stderr, /no accepted minion matches/);
});
