import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';

// A minion that reports `role: db` about itself: it must not get the database's pillar, nor the
// jobs an operator targets at the database hosts by that grain.

// Masters stop before the local DynamoDB they heartbeat into (after hooks run in registration order).
const processes = useProcesses();
const devstack = useDevstack();
const dir = useTempDir();
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

test('pillar templates that try to escape get render errors; the secret stays, the master answers', async () => {
  const pillar = join(dir(), 'pillar');
  const keyFile = join(dir(), 'master-1', 'pki', 'cluster.key');
  const read = (path: string): string => `process.getBuiltinModule('fs').readFileSync('${path}', 'utf8')`;
  // Each a way out of a template that worked somewhere (nunjucks, Jinja2), or a file of the master's.
  const escapes = [
    `{{ range.constructor("return ${read(keyFile)}")() }}`,
    `{{ cycler.constructor.constructor("return ${read(keyFile)}")() }}`,
    '{{ cycler.__init__.__globals__ }}',
    '{{ joiner.__class__.__mro__[1].__subclasses__() }}',
    '{{ lipsum.__globals__["os"].popen("cat cluster.key").read() }}',
    '{{ "".constructor.constructor("return process")().env }}',
    '{{ grains.__proto__.constructor }}',
    '{{ range | attr("constructor") }}',
    '{{ "{0.__class__}".format(grains) }}',
    '{{ process.env }}',
    '{{ require("fs").readFileSync("cluster.key") }}',
    '{{ globalThis.process.mainModule }}',
    `{% include "../master-1/pki/cluster.key" %}`,
    `{% import_text "${keyFile}" as key %}{{ key }}`,
    `{{ "${keyFile}" | file_hashsum }}`,
  ];
  const names = escapes.map((_, i) => `escape${i}`);
  await Promise.all(escapes.map((text, i) => writeFile(join(pillar, `${names[i]}.sls`), `stolen: ${text}\n`)));
  await writeFile(join(pillar, 'probe.sls'), `key_exists: {{ salt['file.file_exists']('${keyFile}') }}\n`);
  const top = (evil: readonly string[]): string =>
    `base:\n  '*':\n    - common\n  'role:db':\n    - match: grain\n    - db\n  'evil-1':\n${evil.map((n) => `    - ${n}\n`).join('')}`;
  await writeFile(join(pillar, 'top.sls'), top(names));
  const out = await phoenix(['run', 'evil-1', 'state.show_pillar', '--out', 'json', '--timeout', '30'], env());
  assert.notEqual(out.code, 0);
  const errors = json<Run>(out).returns['evil-1']?.ret as string[];
  assert.ok(Array.isArray(errors), out.stdout);
  for (const name of names) {
    assert.ok(
      errors.some((e) => e.includes(`salt://${name}.sls`) || e.includes(`'base:${name}'`)),
      `${name} is a render error: ${JSON.stringify(errors)}`,
    );
  }
  const secret = devstack().clusterKeys.secretKey;
  assert.ok(!out.stdout.includes(secret), 'the cluster secret key is not revealed');
  assert.ok(!out.stdout.includes('AWS_') && !out.stdout.includes('/root'), 'nor the environment');

  // Where a minion may ask about its own files, a pillar template may not ask about the master's.
  await writeFile(join(pillar, 'top.sls'), top(['probe']));
  const probe = await run('evil-1', 'state.show_pillar');
  assert.deepEqual(probe.returns['evil-1']?.ret, { motd: 'welcome', key_exists: false });

  const db = await run('db-1', 'state.show_pillar');
  assert.equal((db.returns['db-1']?.ret as Record<string, unknown>).db_password, 'only-for-database-hosts');
  assert.equal((await fetch(`${master.api}/healthz`)).status, 200);
  assert.deepEqual(Object.keys((await run('*', 'test.ping')).returns).sort(), ['db-1', 'evil-1']);
});
