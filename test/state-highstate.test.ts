import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStateSandbox, type StateSandbox } from '@phoenix/minion/state/testing';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { json, phoenix } from './lib/cli.js';

/*
 * The state system through the cluster, as an operator uses it: two masters each serve a copy of
 * the fixture tree (test/fixtures/states) and render pillar; minions fetch salt:// files from
 * their master and act on a throwaway root with fake system tools first on PATH (see
 * createStateSandbox), so nothing outside temp directories changes.
 */

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/states/', import.meta.url));
const devstack = useDevstack();
const processes = useProcesses();
const tmp = useTempDir('phoenix-highstate-');

interface StateResult {
  __id__: string;
  result: boolean | null;
  comment: string;
  changes: Record<string, unknown>;
}
interface RunDocument {
  jid: string;
  returns: Record<string, { success: boolean; retcode: number; ret: unknown }>;
  failed: string[];
  missing: string[];
}
interface MasterRow {
  masterId: string;
  liveness: string;
  treeHash?: string;
  treeDiffers: boolean;
}

const byId = (ret: unknown): Record<string, StateResult> =>
  Object.fromEntries(Object.values(ret as Record<string, StateResult>).map((r) => [r.__id__, r]));
const changed = (ret: unknown): string[] =>
  Object.values(byId(ret))
    .filter((r) => Object.keys(r.changes).length > 0)
    .map((r) => r.__id__)
    .sort();

test(
  "phoenix run '*' state.highstate applies the fixture tree served by the masters: changes, then none, test=True predicts",
  { timeout: 240_000 },
  async () => {
    const dir = tmp();
    const cloud = devstack();
    // Each master serves its own copy of the tree, as two hosts would.
    const trees = ['m-1', 'm-2'].map((id) => join(dir, 'trees', id));
    for (const tree of trees) {
      await cp(join(FIXTURES, 'file_roots'), join(tree, 'salt'), { recursive: true });
      await cp(join(FIXTURES, 'pillar_roots'), join(tree, 'pillar'), { recursive: true });
      // Over 2 MiB: crosses the file server's chunk size.
      await mkdir(join(tree, 'salt', 'big'), { recursive: true });
    }
    const blob = randomBytes(2_500_000);
    for (const tree of trees) {
      await writeFile(join(tree, 'salt', 'big', 'blob.bin'), blob);
      await writeFile(
        join(tree, 'salt', 'big', 'init.sls'),
        'blob:\n  file.managed:\n    - name: /opt/blob.bin\n    - source: salt://big/blob.bin\n    - makedirs: True\n',
      );
    }
    const masters: RunningMaster[] = [];
    for (const [index, id] of ['m-1', 'm-2'].entries()) {
      const tree = trees[index] as string;
      masters.push(
        await startMasterProcess(cloud, dir, processes, id, undefined, {
          fileRoots: { base: [join(tree, 'salt')] },
          pillarRoots: { base: [join(tree, 'pillar')] },
          fileServer: { hashIntervalMs: 1_000 },
          heartbeatIntervalMs: 500,
        }),
      );
    }
    const cli = { PHOENIX_API: (masters[0] as RunningMaster).api, PHOENIX_TOKEN: ADMIN_TOKEN };
    const sandboxes = new Map<string, StateSandbox>();
    for (const id of ['web-1', 'db-1']) {
      const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
      sandboxes.set(id, sandbox);
      await startMinionProcess(cloud, dir, processes, id, masters, { state: { root: sandbox.root } }, sandbox.env);
    }
    try {
      await waitFor(
        async () => {
          const accepted = await phoenix(['keys', 'accept', '*', '--out', 'json'], cli);
          const ping = await phoenix(['run', '*', 'test.ping', '--out', 'json', '--timeout', '5'], cli);
          return accepted.code === 0 && ping.code === 0 && Object.keys(json<RunDocument>(ping).returns).length === 2
            ? true
            : undefined;
        },
        { what: 'both minions to be accepted and answer', timeoutMs: 60_000 },
      );
      for (const [id, role] of [
        ['web-1', 'web'],
        ['db-1', 'db'],
      ] as const) {
        const set = await phoenix(['run', id, 'grains.setval', 'role', role, '--out', 'json'], cli);
        assert.equal(set.code, 0, set.stdout + set.stderr);
      }
      const group = await phoenix(['run', 'web-1', 'grains.setval', 'service_group', 'web', '--out', 'json'], cli);
      assert.equal(group.code, 0, group.stdout + group.stderr);
      const web = sandboxes.get('web-1') as StateSandbox;
      await mkdir(join(web.root, 'etc'));
      await writeFile(join(web.root, 'etc', 'obsolete.conf'), 'remove me\n');

      const run = async (...args: string[]): Promise<RunDocument> => {
        const result = await phoenix(['run', '*', ...args, '--out', 'json', '--timeout', '90'], cli, 120_000);
        const document = json<RunDocument>(result);
        assert.deepEqual(document.missing, [], result.stderr);
        return document;
      };

      // Pillar is rendered on the master for each minion alone: the per-service_group and per-host
      // files reach web-1, and db-1 sees neither.
      const pillar = await run('state.show_pillar');
      assert.deepEqual((pillar.returns['web-1']?.ret as { nginx: unknown }).nginx, {
        port: 8080,
        worker_processes: 4,
        upstreams: ['10.0.0.1:3000', '10.0.0.2:3000'],
      });
      assert.deepEqual((pillar.returns['db-1']?.ret as { nginx: unknown }).nginx, { port: 80, worker_processes: 2 });

      // test=True on fresh hosts: every state predicts a change and nothing is touched.
      const predicted = await run('state.highstate', 'test=True');
      assert.deepEqual(predicted.failed, []);
      const predictions = byId(predicted.returns['web-1']?.ret);
      assert.deepEqual(
        Object.values(predictions)
          .filter((r) => r.result !== null)
          .map((r) => r.__id__),
        [],
        'every state of a fresh host predicts a change',
      );
      assert.ok(
        'nginx-config' in predictions && 'motd' in predictions,
        'the grain-matched top gives web-1 base and web',
      );
      assert.ok(!('/etc/db.conf' in predictions), 'web-1 does not get db');
      assert.ok('/etc/db.conf' in byId(predicted.returns['db-1']?.ret), 'db-1 gets db');
      assert.deepEqual(await readdir(web.root), ['etc'], 'test=True changed nothing');

      // First run: everything is put in place, templates rendered with the master's pillar.
      const first = await run('state.highstate');
      assert.deepEqual(first.failed, [], JSON.stringify(first.returns, null, 1));
      const firstWeb = byId(first.returns['web-1']?.ret);
      for (const result of Object.values(firstWeb))
        assert.equal(result.result, true, `${result.__id__}: ${result.comment}`);
      assert.deepEqual(
        changed(first.returns['web-1']?.ret),
        Object.keys(firstWeb).sort(),
        'every state changed something',
      );
      const nginxConf = await readFile(join(web.root, 'etc', 'nginx', 'nginx.conf'), 'utf8');
      assert.match(nginxConf, /worker_processes 4;/);
      assert.match(nginxConf, /listen 8080;/);
      assert.match(nginxConf, /server 10\.0\.0\.2:3000;/);
      assert.match(await readFile(join(web.root, 'etc', 'motd'), 'utf8'), /Welcome to Phoenix on web-1/);
      const db = sandboxes.get('db-1') as StateSandbox;
      assert.equal(await readFile(join(db.root, 'etc', 'db.conf'), 'utf8'), 'max_connections = 100\n');

      // Second run: nothing to do.
      const second = await run('state.highstate');
      assert.deepEqual(second.failed, []);
      assert.deepEqual(changed(second.returns['web-1']?.ret), []);
      assert.deepEqual(changed(second.returns['db-1']?.ret), []);
      // Without --out, a state run is shown as Salt's highstate outputter does, per minion.
      const shown = await phoenix(['run', 'web-1', 'state.highstate', '--timeout', '60'], cli, 90_000);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^web-1:\n {2}Name: \/etc\/motd - Function: file.managed - Result: Clean/);
      assert.match(shown.stdout, /Summary for web-1\n-+\nSucceeded: 11 \(changed=0\)\nFailed: {5}0/);
      // state.single takes the state's arguments as keyword arguments, as Salt's does.
      const single = await phoenix(
        [
          'run',
          'web-1',
          'state.single',
          'file.managed',
          '/etc/single.conf',
          'contents=hi',
          'mode=600',
          '--out',
          'json',
        ],
        cli,
      );
      assert.deepEqual(json<RunDocument>(single).failed, [], single.stdout);
      assert.equal(await readFile(join(web.root, 'etc', 'single.conf'), 'utf8'), 'hi\n');
      assert.equal((await stat(join(web.root, 'etc', 'single.conf'))).mode & 0o777, 0o600);
      // And test=True now predicts no change: every result true.
      const settled = await run('state.highstate', 'test=True');
      assert.ok(
        Object.values(byId(settled.returns['web-1']?.ret)).every(
          (r) => r.result === true && Object.keys(r.changes).length === 0,
        ),
      );

      // The trees agree; then one master's pillar is edited and `phoenix masters` flags it until the other follows.
      const mastersView = async (): Promise<MasterRow[]> =>
        json<{ masters: MasterRow[] }>(await phoenix(['masters', '--out', 'json'], cli)).masters;
      const before = await mastersView();
      assert.equal(new Set(before.map((m) => m.treeHash)).size, 1, 'both masters serve the same tree');
      assert.ok(before.every((m) => !m.treeDiffers && /^[0-9a-f]{64}$/.test(m.treeHash ?? '')));
      const hostPillar = 'nginx:\n  worker_processes: 8\n';
      await writeFile(join(trees[1] as string, 'pillar', 'hosts', 'web-1.sls'), hostPillar);
      const flagged = await waitFor(
        async () => {
          const rows = await mastersView();
          return rows.some((m) => m.treeDiffers) ? rows : undefined;
        },
        { what: 'phoenix masters to flag the master whose tree changed', timeoutMs: 15_000 },
      );
      assert.equal(new Set(flagged.map((m) => m.treeHash)).size, 2);
      const text = await phoenix(['masters'], cli);
      assert.match(text.stdout, /DIFFERS/);
      assert.match(text.stdout, /serves a different state tree/);
      await writeFile(join(trees[0] as string, 'pillar', 'hosts', 'web-1.sls'), hostPillar);
      await waitFor(
        async () => {
          const rows = await mastersView();
          return new Set(rows.map((m) => m.treeHash)).size === 1 && rows.every((m) => !m.treeDiffers)
            ? true
            : undefined;
        },
        { what: 'the trees to agree again', timeoutMs: 15_000 },
      );

      // The changed pillar changes the config, and the watch restarts the service.
      const restartsBefore = (await web.calls()).filter((call) => call === 'systemctl restart -- nginx').length;
      const third = await run('state.highstate');
      assert.deepEqual(third.failed, []);
      assert.deepEqual(changed(third.returns['web-1']?.ret), ['nginx', 'nginx-config', 'reload-log']);
      assert.deepEqual(changed(third.returns['db-1']?.ret), []);
      assert.match(await readFile(join(web.root, 'etc', 'nginx', 'nginx.conf'), 'utf8'), /worker_processes 8;/);
      const restartsAfter = (await web.calls()).filter((call) => call === 'systemctl restart -- nginx').length;
      assert.equal(restartsAfter, restartsBefore + 1, 'the watch restarted nginx once');

      // A file larger than one chunk arrives whole.
      const big = await phoenix(['run', 'web-1', 'state.sls', 'big', '--out', 'json', '--timeout', '60'], cli, 90_000);
      assert.deepEqual(json<RunDocument>(big).failed, [], big.stdout);
      assert.ok((await readFile(join(web.root, 'opt', 'blob.bin'))).equals(blob), 'the 2.5 MB file arrived intact');

      // A path out of the roots is refused by the master's file server, and nothing is written.
      const escape = await phoenix(
        [
          'run',
          'web-1',
          'state.single',
          'file.managed',
          'name=/etc/stolen',
          `args={"source": "salt://../../pillar/common.sls"}`,
          '--out',
          'json',
        ],
        cli,
      );
      const escaped = json<RunDocument>(escape);
      assert.deepEqual(escaped.failed, ['web-1']);
      assert.match(JSON.stringify(escaped.returns['web-1']?.ret), /outside the file roots/);
      await assert.rejects(readFile(join(web.root, 'etc', 'stolen')), { code: 'ENOENT' });
    } finally {
      await Promise.all([...sandboxes.values()].map((sandbox) => sandbox.close()));
    }
  },
);
