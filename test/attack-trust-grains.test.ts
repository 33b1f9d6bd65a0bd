import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';

// A minion that reports `role: db` about itself: it must not get the database's pillar, nor the
// jobs an operator targets at the database hosts by that grain.

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
let master: RunningMaster;
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN });

interface Run {
  returns: Record<string, { ret: unknown }>;
}
const run = async (...args: string[]): Promise<Run> => {
  const out = await phoenix(['run', ...args, '--out', 'json', '--timeout', '10'], env());
  return json<Run>(out);
};

test('a master with a database pillar, the database host and a minion that claims to be one', async () => {
  const pillar = join(dir(), 'pillar');
  await mkdir(pillar, { recursive: true });
  await writeFile(join(pillar, 'top.sls'), "base:\n  '*':\n    - common\n  'role:db':\n    - match: grain\n    - db\n");
  await writeFile(join(pillar, 'common.sls'), 'motd: welcome\n');
  await writeFile(join(pillar, 'db.sls'), 'db_password: only-for-database-hosts\n');
  master = await startMasterProcess(devstack(), dir(), processes, 'master-1', undefined, {
    pillarRoots: { base: [pillar] },
    fileRoots: { base: [join(dir(), 'salt')] },
  });
  await startMinionProcess(devstack(), dir(), processes, 'db-1', [master]);
  // The impostor's own grains file says it is a database host: grains are the minion's word.
  await mkdir(join(dir(), 'evil-1', 'cache'), { recursive: true });
  await writeFile(join(dir(), 'evil-1', 'cache', 'grains.yaml'), 'role: db\n');
  await startMinionProcess(devstack(), dir(), processes, 'evil-1', [master]);
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env())).keys
        .length === 2,
    { what: 'two pending keys', timeoutMs: 20_000 },
  );
  assert.equal((await phoenix(['keys', 'accept', '*'], env())).code, 0);
  await waitFor(async () => Object.keys((await run('*', 'test.ping')).returns).length === 2, {
    what: 'both minions to answer',
    timeoutMs: 30_000,
  });
  // The operator says which host is the database, through the master.
  assert.deepEqual((await run('db-1', 'grains.setval', 'role', 'db')).returns['db-1']?.ret, { role: 'db' });
});

test('pillar targeted at role:db goes to the host the master vouches for, not to the one claiming it', async () => {
  const pillar = await waitFor(
    async () => {
      const answer = await run('*', 'state.show_pillar');
      return Object.keys(answer.returns).length === 2 ? answer.returns : undefined;
    },
    { what: 'both pillars', timeoutMs: 20_000 },
  );
  assert.equal((pillar['db-1']?.ret as Record<string, unknown>).db_password, 'only-for-database-hosts');
  assert.deepEqual(pillar['evil-1']?.ret, { motd: 'welcome' }, 'the impostor gets the common pillar only');
});

test('grain targets match vouched grains: the impostor cannot opt into jobs for database hosts', async () => {
  assert.deepEqual(Object.keys((await run('-G', 'role:db', 'test.ping')).returns), ['db-1']);
  assert.deepEqual(Object.keys((await run('-C', 'G@role:db or G@id:nobody', 'test.ping')).returns), ['db-1']);
  assert.deepEqual(Object.keys((await run('-G', 'id:evil-*', 'test.ping')).returns), ['evil-1'], 'id is vouched');
});

test('the API shows what the minion reports apart from what the master vouches for', async () => {
  const answer = await fetch(`${master.api}/api/v1/minions/evil-1`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const body = (await answer.json()) as { grains: Record<string, unknown>; vouchedGrains: Record<string, unknown> };
  assert.equal(body.grains.role, 'db', 'self-reported');
  assert.deepEqual(body.vouchedGrains, { id: 'evil-1' });
  const db = (await (
    await fetch(`${master.api}/api/v1/minions/db-1`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  ).json()) as { vouchedGrains: Record<string, unknown> };
  assert.deepEqual(db.vouchedGrains, { id: 'db-1', role: 'db' });
  assert.equal((await fetch(`${master.api}/healthz`)).status, 200);
});

test('a pillar template that tries to escape gets a render error; the secret stays, the master answers', async () => {
  const pillar = join(dir(), 'pillar');
  await writeFile(
    join(pillar, 'top.sls'),
    "base:\n  '*':\n    - common\n  'role:db':\n    - match: grain\n    - db\n  'evil-1':\n    - escape\n",
  );
  await writeFile(
    join(pillar, 'escape.sls'),
    "stolen: {{ range.constructor(\"return process.getBuiltinModule('fs').readFileSync('cluster.key', 'utf8')\")() }}\n",
  );
  const out = await phoenix(['run', 'evil-1', 'state.show_pillar', '--out', 'json', '--timeout', '20'], env());
  assert.notEqual(out.code, 0);
  assert.match(out.stdout, /constructor.*cannot be used in a template/);
  assert.ok(!out.stdout.includes(devstack().clusterKeys.secretKey), 'the cluster secret key is not revealed');
  const db = await run('db-1', 'state.show_pillar');
  assert.equal((db.returns['db-1']?.ret as Record<string, unknown>).db_password, 'only-for-database-hosts');
  assert.equal((await fetch(`${master.api}/healthz`)).status, 200);
});
