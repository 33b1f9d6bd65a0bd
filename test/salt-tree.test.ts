import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStateSandbox, type StateSandbox } from '@phoenix/minion/state/testing';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess } from './lib/cluster.js';
import { json, phoenix, type CliResult } from './lib/cli.js';

/*
 * A service tree written for Salt (test/fixtures/salt-tree) works as written: through
 * `phoenix call --local` as a masterless Salt user runs it, and through a master with
 * `phoenix run '*' state.highstate`. The host is a throwaway root with fake system tools first on
 * PATH (createStateSandbox); nothing outside temporary directories changes.
 */

const TREE = fileURLToPath(new URL('../../test/fixtures/salt-tree/', import.meta.url));
const FAKES = fileURLToPath(new URL('../../test/fixtures/states/fakes/', import.meta.url));
const tmp = useTempDir('phoenix-salt-tree-');
const devstack = useDevstack();
const processes = useProcesses();

interface StateResult {
  __id__: string;
  __run_num__: number;
  result: boolean | null;
  comment: string;
  changes: Record<string, unknown>;
}
type Results = Record<string, StateResult>;

const changed = (results: Results): string[] =>
  Object.values(results)
    .filter((r) => Object.keys(r.changes).length > 0)
    .map((r) => r.__id__)
    .sort();
const inOrder = (results: Results): string[] =>
  Object.values(results)
    .sort((a, b) => a.__run_num__ - b.__run_num__)
    .map((r) => r.__id__);

const LISTENER = 'service_|-listener_nginx-service_|-nginx_|-mod_watch';

/** What the first highstate of a fresh web host in production must look like. */
async function assertFirstRun(results: Results, sandbox: StateSandbox): Promise<void> {
  const failed = Object.values(results).filter((r) => r.result !== true);
  assert.deepEqual(failed, [], 'every state succeeded');
  const order = inOrder(results);
  assert.equal(order.at(-2), 'app-report', 'order: last runs after every other state');
  assert.equal(order.at(-1), 'listener_nginx-service', 'the listener runs once, at the very end');
  assert.equal(order.filter((id) => id.startsWith('listener_')).length, 1);
  assert.ok(results[LISTENER], 'the listen_in restart is keyed as Salt keys it');
  const calls = await sandbox.calls();
  const restarts = calls.filter((line) => /^systemctl restart (-- )?nginx$/.test(line));
  assert.equal(restarts.length, 1, `three changed files, one restart: ${calls.join('; ')}`);

  const root = sandbox.root;
  assert.equal(
    await readFile(join(root, 'etc/motd'), 'utf8'),
    'Production host, changes go through review\nhost: web-1 (Debian)\n',
    'the per-environment pillar file was included because it exists',
  );
  assert.equal(
    await readFile(join(root, 'etc/nginx/nginx.conf'), 'utf8'),
    '# Managed by Salt for web-1\nuser www-data;\nworker_processes 4;\nevents {}\nhttp {\n  include sites-enabled/shop.conf;\n  include sites-enabled/status.conf;\n}\n',
    'map.jinja defaults merged with pillar nginx:lookup',
  );
  assert.equal(
    await readFile(join(root, 'etc/nginx/sites-enabled/status.conf'), 'utf8'),
    'server {\n  listen 8081;\n  server_name status.internal;\n}\n',
  );
  assert.equal(
    await readFile(join(root, 'srv/shop/config.json'), 'utf8'),
    '{"debug": false, "listen": "127.0.0.1:8000"}\n',
  );
  assert.deepEqual(await readdir(join(root, 'srv/shop')), ['RELEASE-2.0', 'config.json']);
}

test('phoenix call --local: the Salt tree predicts with test=True, applies, then changes nothing; a killswitch grain fails hard', async () => {
  const sandbox = await createStateSandbox({ fakes: FAKES });
  try {
    const config = join(tmp(), 'minion.yaml');
    await writeFile(
      config,
      JSON.stringify({
        id: 'web-1',
        clusterPublicKey: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
        pkiDir: join(tmp(), 'pki'),
        cacheDir: join(tmp(), 'cache'),
        imds: { enabled: false },
        state: { root: sandbox.root },
      }),
    );
    const call = (...args: string[]): Promise<CliResult> =>
      phoenix(
        [
          'call',
          '--local',
          '--config',
          config,
          '--file-root',
          join(TREE, 'salt'),
          '--pillar-root',
          join(TREE, 'pillar'),
          ...args,
        ],
        sandbox.env,
      );
    const highstate = async (...args: string[]): Promise<{ code: number; results: Results }> => {
      const out = await call('state.highstate', ...args, '--out', 'json');
      return { code: out.code, results: json<{ local: Results }>(out).local };
    };
    await mkdir(join(sandbox.root, 'etc'));
    for (const [key, value] of [
      ['role', 'web'],
      ['environment', 'prod'],
      ['os_family', 'Debian'],
    ] as const) {
      const set = await call('grains.setval', key, value, '--out', 'json');
      assert.equal(set.code, 0, set.stderr);
    }

    const predicted = await highstate('test=True');
    assert.equal(predicted.code, 0, JSON.stringify(predicted.results, null, 1));
    assert.deepEqual(
      Object.values(predicted.results)
        .filter((r) => r.result === false)
        .map((r) => r.__id__),
      [],
    );
    assert.ok(predicted.results[LISTENER], 'test=True predicts the listener restart');
    assert.deepEqual(await readdir(sandbox.root), ['etc'], 'test=True changed nothing');

    const first = await highstate();
    assert.equal(first.code, 0, JSON.stringify(first.results, null, 1));
    await assertFirstRun(first.results, sandbox);

    const second = await highstate();
    assert.equal(second.code, 0);
    assert.deepEqual(changed(second.results), [], 'the second run reports zero changes');
    assert.equal(second.results[LISTENER], undefined, 'nothing changed, nothing to restart');

    const set = await call('grains.setval', 'maintenance', 'True', '--out', 'json');
    assert.equal(set.code, 0, set.stderr);
    const killed = await highstate();
    assert.equal(killed.code, 2, 'a failed state is retcode 2');
    assert.deepEqual(inOrder(killed.results), ['maintenance-killswitch'], 'failhard: nothing after the killswitch ran');
    assert.equal(
      killed.results[
        'test_|-maintenance-killswitch_|-host web-1 is in maintenance, nothing is applied_|-fail_without_changes'
      ]?.result,
      false,
    );
  } finally {
    await sandbox.close();
  }
});

test(
  "phoenix run '*' state.highstate: the Salt tree served by a master, pillar rendered there",
  { timeout: 180_000 },
  async () => {
    const dir = tmp();
    const cloud = devstack();
    await cp(TREE, join(dir, 'tree'), { recursive: true });
    const master = await startMasterProcess(cloud, dir, processes, 'm-1', undefined, {
      fileRoots: { base: [join(dir, 'tree', 'salt')] },
      pillarRoots: { base: [join(dir, 'tree', 'pillar')] },
      heartbeatIntervalMs: 500,
    });
    const cli = { PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN };
    const sandbox = await createStateSandbox({ fakes: FAKES });
    try {
      await mkdir(join(sandbox.root, 'etc'));
      await startMinionProcess(
        cloud,
        dir,
        processes,
        'web-1',
        [master],
        { state: { root: sandbox.root } },
        sandbox.env,
      );
      await waitFor(
        async () => {
          const accepted = await phoenix(['keys', 'accept', '*', '--out', 'json'], cli);
          const ping = await phoenix(['run', '*', 'test.ping', '--out', 'json', '--timeout', '5'], cli);
          return accepted.code === 0 && ping.code === 0 ? true : undefined;
        },
        { what: 'the minion to be accepted and answer', timeoutMs: 60_000 },
      );
      for (const [key, value] of [
        ['role', 'web'],
        ['environment', 'prod'],
        ['os_family', 'Debian'],
      ] as const) {
        const set = await phoenix(['run', 'web-1', 'grains.setval', key, value, '--out', 'json'], cli);
        assert.equal(set.code, 0, set.stdout + set.stderr);
      }
      const highstate = async (...args: string[]): Promise<Results> => {
        const out = await phoenix(
          ['run', '*', 'state.highstate', ...args, '--out', 'json', '--timeout', '90'],
          cli,
          120_000,
        );
        const doc = json<{ returns: Record<string, { ret: Results }> }>(out);
        return doc.returns['web-1']?.ret ?? {};
      };
      const predicted = await highstate('test=True');
      assert.ok(
        Object.values(predicted).every((r) => r.result !== false),
        JSON.stringify(predicted, null, 1),
      );
      assert.deepEqual(await readdir(sandbox.root), ['etc'], 'test=True changed nothing');
      await assertFirstRun(await highstate(), sandbox);
      assert.deepEqual(changed(await highstate()), [], 'the second run reports zero changes');
    } finally {
      await sandbox.close();
    }
  },
);
