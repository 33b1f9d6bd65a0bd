import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createStateSandbox, type StateSandbox } from '@phoenix/minion/state/testing';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { json, phoenix } from './lib/cli.js';
import { TestRepository } from './lib/git-repo.js';

/*
 * States and pillar from git, cluster-wide: three masters serve the states repository's main
 * branch (base) and dev branch (dev) and a second repository's pillar, all from bare repositories
 * this test makes (file://). A push and `phoenix fileserver update` move every master to the new
 * commit; a state run in progress meanwhile finishes on the commit it started with; a master started
 * while the remote is out of reach is `starting` (no minion, /healthz 503) until it serves the
 * cluster's commit, retrying its fetch on its own, and is sent to minions only once it does.
 */

const devstack = useDevstack();
const processes = useProcesses();
const tmp = useTempDir('phoenix-gitfs-');

interface MasterRow {
  masterId: string;
  status: string;
  liveness: string;
  gitCommits?: Record<string, string>;
  fileServerErrors?: string[];
}
interface RunDocument {
  returns: Record<string, { success: boolean; retcode: number; ret: unknown }>;
  failed: string[];
  missing: string[];
}

const webSls = `motd:
  file.managed:
    - name: /etc/motd
    - source: salt://web/motd
    - makedirs: True
greeting:
  file.managed:
    - name: /etc/greeting
    - contents: {{ pillar['greeting'] | yaml_dquote }}
    - makedirs: True
`;

test(
  'three masters serve one commit of git roots; a push and phoenix fileserver update move them all, runs stay on their commit',
  { timeout: 300_000 },
  async () => {
    const dir = tmp();
    const cloud = devstack();
    const sandbox: StateSandbox = await createStateSandbox();
    const started = join(sandbox.dir, 'started');
    const go = join(sandbox.dir, 'go');
    const states = await TestRepository.create(join(dir, 'states'), 'states');
    const pillar = await TestRepository.create(join(dir, 'pillar'), 'pillar');
    // A slow run: it waits for the test's go-ahead, then fetches salt://late.txt.
    const slowSls =
      `wait:\n  cmd.run:\n    - name: touch ${started}; i=0; while [ ! -e ${go} ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i+1)); done\n` +
      'late:\n  file.managed:\n    - name: /etc/late\n    - source: salt://late.txt\n    - makedirs: True\n    - require:\n      - cmd: wait\n';
    const commitA = await states.commit(
      {
        'top.sls': "base:\n  '*':\n    - web\n",
        'web/init.sls': webSls,
        'web/motd': 'version A\n',
        'late.txt': 'late A\n',
        'slow.sls': slowSls,
      },
      'A',
    );
    await states.commit({ 'web/motd': 'version dev\n' }, 'dev', 'dev');
    const devCommit = states.head('dev');
    const pillarA = await pillar.commit(
      { 'top.sls': "base:\n  '*':\n    - common\n", 'common.sls': 'greeting: hello from pillar A\n' },
      'pillar A',
    );

    const config = (id: string) => ({
      fileRoots: { base: [{ git: states.url }], dev: [{ git: states.url }] },
      pillarRoots: { base: [{ git: pillar.url }] },
      fileServer: { fetchIntervalMs: 600_000, gitCacheDir: join(dir, id, 'git'), hashIntervalMs: 1_000 },
      heartbeatIntervalMs: 500,
      deadAfterMs: 3_000,
    });
    const masters: RunningMaster[] = await Promise.all(
      ['m-1', 'm-2', 'm-3'].map((id) => startMasterProcess(cloud, dir, processes, id, undefined, config(id))),
    );
    const cli = (master: RunningMaster) => ({ PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN });
    const m1 = masters[0] as RunningMaster;
    const rows = async (): Promise<MasterRow[]> =>
      json<{ masters: MasterRow[] }>(await phoenix(['masters', '--out', 'json'], cli(m1))).masters;
    const expectA = { 'file:base:states': commitA, 'file:dev:states': devCommit, 'pillar:base:pillar': pillarA };
    await waitFor(
      async () => {
        const list = await rows();
        if (process.env.DEBUG_GITFS) console.log(JSON.stringify(list));
        return list.length === 3 && list.every((m) => m.status === 'active' && same(m.gitCommits, expectA))
          ? true
          : undefined;
      },
      { what: 'three active masters serving commit A', timeoutMs: 60_000 },
    );

    await startMinionProcess(cloud, dir, processes, 'web-1', masters, { state: { root: sandbox.root } }, sandbox.env);
    await waitFor(
      async () => {
        await phoenix(['keys', 'accept', '*', '--out', 'json'], cli(m1));
        const ping = await phoenix(['run', 'web-1', 'test.ping', '--out', 'json', '--timeout', '5'], cli(m1));
        return ping.code === 0 ? true : undefined;
      },
      { what: 'web-1 to be accepted and answer', timeoutMs: 60_000 },
    );
    const run = async (via: RunningMaster, ...args: string[]): Promise<RunDocument> => {
      const result = await phoenix(['run', 'web-1', ...args, '--out', 'json', '--timeout', '120'], cli(via), 150_000);
      const document = json<RunDocument>(result);
      assert.deepEqual([document.failed, document.missing], [[], []], result.stdout + result.stderr);
      return document;
    };
    const onHost = (path: string) => readFile(join(sandbox.root, path), 'utf8');

    await run(m1, 'state.highstate');
    assert.equal(await onHost('etc/motd'), 'version A\n');
    assert.equal(await onHost('etc/greeting'), 'hello from pillar A\n');
    // saltenv=dev: the dev branch's states.
    await run(m1, 'state.sls', 'web', 'saltenv=dev');
    assert.equal(await onHost('etc/motd'), 'version dev\n');

    // A run in progress while B is pushed and served: it finishes on A.
    const slow = phoenix(['run', 'web-1', 'state.sls', 'slow', '--out', 'json', '--timeout', '150'], cli(m1), 180_000);
    await waitFor(
      () =>
        access(started).then(
          () => true,
          () => undefined,
        ),
      {
        what: 'the slow run to start',
        timeoutMs: 60_000,
      },
    );
    const commitB = await states.commit({ 'web/motd': 'version B\n', 'late.txt': 'late B\n' }, 'B');
    const pillarB = await pillar.commit({ 'common.sls': 'greeting: hello from pillar B\n' }, 'pillar B');
    const expectB = { 'file:base:states': commitB, 'file:dev:states': devCommit, 'pillar:base:pillar': pillarB };
    const update = await phoenix(
      ['fileserver', 'update', '--wait', '60', '--out', 'json'],
      cli(masters[1] as RunningMaster),
      90_000,
    );
    assert.equal(update.code, 0, update.stdout + update.stderr);
    const updated = json<{ behind: string[]; masters: MasterRow[] }>(update);
    assert.deepEqual(updated.behind, []);
    assert.ok(updated.masters.length === 3 && updated.masters.every((m) => same(m.gitCommits, expectB)), update.stdout);
    await writeFile(go, '');
    const slowDone = json<RunDocument>(await slow);
    assert.deepEqual(slowDone.failed, [], JSON.stringify(slowDone));
    assert.equal(await onHost('etc/late'), 'late A\n', 'the run that started on A read A to its end');

    // A highstate through any master now applies B, with B's pillar. The first costs only the file
    // B changed: the minion holds the others by their hash (top.sls, web/init.sls), so every master
    // together sends one file's chunk, web/motd.
    const fileReads = async (): Promise<number> => {
      let total = 0;
      for (const master of masters) {
        const response = await fetch(`${master.api}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
        const line = /^phoenix_file_reads_total\{[^}]*\} (\d+)$/m.exec(await response.text());
        assert.ok(line, `${master.id} reports phoenix_file_reads_total`);
        total += Number(line[1]);
      }
      return total;
    };
    const readsBefore = await fileReads();
    for (const via of masters) {
      await run(via, 'state.highstate');
      if (via === m1) assert.equal((await fileReads()) - readsBefore, 1, 'one changed file sent, no other');
      assert.equal(await onHost('etc/motd'), 'version B\n');
      assert.equal(await onHost('etc/greeting'), 'hello from pillar B\n');
    }
    await run(m1, 'state.sls', 'slow');
    assert.equal(await onHost('etc/late'), 'late B\n');

    // A master started while the remote cannot be reached is starting, and stays out of service.
    await rename(states.bare, `${states.bare}.away`);
    const m4 = await startMasterProcess(cloud, dir, processes, 'm-4', undefined, config('m-4'));
    const starting = await waitFor(
      async () => {
        const row = (await rows()).find((m) => m.masterId === 'm-4');
        return row?.status === 'starting' && (row.fileServerErrors ?? []).length > 0 ? row : undefined;
      },
      { what: 'm-4 to be starting with its fetch error shown', timeoutMs: 30_000 },
    );
    assert.equal(starting.liveness, 'starting');
    assert.match((starting.fileServerErrors ?? []).join('\n'), /file:base:states: fetching .* failed/);
    const health = await fetch(`${m4.api}/healthz`);
    assert.equal(health.status, 503);
    assert.equal(((await health.json()) as { error: { code: string } }).error.code, 'PHX_API_NOT_READY');
    const text = await phoenix(['masters'], cli(m1));
    assert.match(text.stdout, /m-4 +starting/);
    assert.match(text.stdout, /ERROR file:base:states: fetching/);

    // It is in no minion's list: web-1's config names the three active masters only.
    const listed = async (): Promise<string[]> =>
      (parse(await readFile(join(dir, 'web-1.yaml'), 'utf8')) as { masters: Array<{ id: string }> }).masters
        .map((m) => m.id)
        .sort();
    assert.deepEqual(await listed(), ['m-1', 'm-2', 'm-3']);

    // A minion configured by hand with m-4 first reaches it, and is told to go elsewhere: a starting
    // master serves no minion while another master can.
    await startMinionProcess(cloud, dir, processes, 'hand-1', [m4, m1], {}, sandbox.env);
    const handOn = async (): Promise<string | undefined> => {
      await phoenix(['keys', 'accept', 'hand-1', '--out', 'json'], cli(m1));
      const { minions } = json<{ minions: Array<{ minionId: string; connected: boolean; connectedMaster?: string }> }>(
        await phoenix(['minions', 'hand-1', '--out', 'json'], cli(m1)),
      );
      const hand = minions.find((m) => m.minionId === 'hand-1');
      return hand?.connected === true ? hand.connectedMaster : undefined;
    };
    // Where it goes is its own failover order over the active masters pushed to it.
    await waitFor(async () => (['m-1', 'm-2', 'm-3'].includes((await handOn()) ?? '') ? true : undefined), {
      what: 'hand-1, configured with the starting m-4 first, to be on an active master',
      timeoutMs: 30_000,
    });

    // The remote is back: m-4 retries on its own (a starting master does not wait a whole
    // fetchIntervalMs), serves B, goes active, and only then is it sent to minions.
    await rename(`${states.bare}.away`, states.bare);
    const m4Row = await waitFor(
      async () => {
        const row = (await rows()).find((m) => m.masterId === 'm-4');
        return row?.status === 'active' ? row : undefined;
      },
      { what: 'm-4 to go active', timeoutMs: 30_000 },
    );
    assert.ok(same(m4Row.gitCommits, expectB), JSON.stringify(m4Row));
    assert.deepEqual(m4Row.fileServerErrors, []);
    assert.equal((await fetch(`${m4.api}/healthz`)).status, 200);
    await waitFor(async () => ((await listed()).includes('m-4') ? true : undefined), {
      what: "m-4 in web-1's list once active",
      timeoutMs: 20_000,
    });
    await sandbox.close();
  },
);

function same(actual: Record<string, string> | undefined, expected: Record<string, string>): boolean {
  return JSON.stringify(Object.entries(actual ?? {}).sort()) === JSON.stringify(Object.entries(expected).sort());
}
