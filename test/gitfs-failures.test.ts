import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess } from './lib/cluster.js';
import { json, phoenix } from './lib/cli.js';
import { TestRepository } from './lib/git-repo.js';
import { startGitHttpServer } from './lib/git-http.js';

/*
 * What a git root refuses, and what it survives. One master fetches the states repository over
 * HTTP with a token (git's own http-backend behind basic authentication, on loopback); a minion
 * asks it for files. A commit whose top file does not render, a forced push to an older commit, a
 * deleted branch, a wrong token and an unreachable remote each leave the last good commit served,
 * with the error in `phoenix masters`; a link out of the tree, a `..` path and a file over the size
 * limit are refused by name; the token appears in no log line, event, listing or answer.
 */

const devstack = useDevstack();
const processes = useProcesses();
const tmp = useTempDir('phoenix-gitfs-bad-');
const MASTER_BIN = fileURLToPath(new URL('../../packages/master/bin/phoenix-master.js', import.meta.url));

interface MasterRow {
  masterId: string;
  status: string;
  gitCommits?: Record<string, string>;
  fileServerErrors?: string[];
}
interface RunDocument {
  returns: Record<string, { success: boolean; retcode: number; ret: unknown }>;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

test('a malformed git remote in the config is refused at start-up, naming the key', async () => {
  const dir = tmp();
  for (const [remote, problem] of [
    ['ext::sh -c touch% /tmp/phoenix-pwned', /"fileRoots\.base\.0\.git": not a git remote Phoenix fetches/],
    [
      'https://deploy:s3cr3t-in-url@git.example.com/ops/states.git',
      /"fileRoots\.base\.0\.git": a URL must not carry credentials/,
    ],
    ['--upload-pack=touch /tmp/phoenix-pwned', /"fileRoots\.base\.0\.git": not a git remote/],
  ] as const) {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, JSON.stringify({ pkiDir: dir, fileRoots: { base: [{ git: remote }] } }));
    const child = processes.spawn(process.execPath, [MASTER_BIN, '--config', path]);
    const code = await waitFor(() => child.exitCode ?? undefined, { what: 'the master to exit', timeoutMs: 20_000 });
    assert.equal(code, 1);
    const output = processes.output(child);
    assert.match(output, problem);
    assert.match(output, /PHX_CONFIG_INVALID/);
    assert.doesNotMatch(output, /s3cr3t-in-url/, 'the refusal does not repeat a credential');
  }
  const path = join(dir, 'bad-ref.yaml');
  await writeFile(
    path,
    JSON.stringify({ pkiDir: dir, fileRoots: { base: [{ git: 'file:///srv/states.git', ref: '--force' }] } }),
  );
  const child = processes.spawn(process.execPath, [MASTER_BIN, '--config', path]);
  await waitFor(() => child.exitCode ?? undefined, { what: 'the master to exit', timeoutMs: 20_000 });
  assert.match(processes.output(child), /"fileRoots\.base\.0\.ref": a branch, tag or commit name/);
});

test(
  'a git root keeps its last good commit through every failure, and refuses what leaves the tree or the limit',
  { timeout: 240_000 },
  async () => {
    const dir = tmp();
    const cloud = devstack();
    const token = `tok-${createHash('sha256').update(dir).digest('hex').slice(0, 24)}`;
    const wrongToken = `wrong-${token}`;
    const tokenFile = join(dir, 'git-token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const repo = await TestRepository.create(join(dir, 'repos'), 'states');
    repo.symlink('evil', '/etc/passwd');
    repo.symlink('inside', 'motd');
    const commitA = await repo.commit(
      { 'top.sls': "base:\n  '*': []\n", motd: 'version A\n', 'big.bin': 'x'.repeat(2_000) },
      'A',
    );
    const server = await startGitHttpServer(join(dir, 'repos'), 'x-access-token', token);
    // Closed here too when an assertion fails first: an open server would hold the file to its timeout.
    after(() => server.close().catch(() => undefined));
    const url = `${server.url}/states.git`;
    const master = await startMasterProcess(cloud, dir, processes, 'm-1', undefined, {
      fileRoots: { base: [{ git: url, auth: { token: { file: tokenFile } } }] },
      pillarRoots: { base: [join(dir, 'no-pillar')] },
      fileServer: { fetchIntervalMs: 600_000, gitCacheDir: join(dir, 'git'), maxFileBytes: 1_000 },
      heartbeatIntervalMs: 500,
    });
    const cli = { PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN };
    const row = async (): Promise<MasterRow> =>
      json<{ masters: MasterRow[] }>(await phoenix(['masters', '--out', 'json'], cli)).masters[0] as MasterRow;
    await waitFor(async () => ((await row()).status === 'active' ? true : undefined), {
      what: 'the master to serve commit A',
      timeoutMs: 60_000,
    });
    assert.equal((await row()).gitCommits?.['file:base:states'], commitA);
    assert.ok(server.requests() > 0 && server.refused() > 0, 'git fetched with the token, after being asked for it');

    await startMinionProcess(cloud, dir, processes, 'web-1', [master]);
    await waitFor(
      async () => {
        await phoenix(['keys', 'accept', '*', '--out', 'json'], cli);
        return (await phoenix(['run', 'web-1', 'test.ping', '--out', 'json', '--timeout', '5'], cli)).code === 0
          ? true
          : undefined;
      },
      { what: 'web-1 to answer', timeoutMs: 60_000 },
    );
    const ask = async (path: string): Promise<{ ok: boolean; ret: unknown }> => {
      const result = await phoenix(['run', 'web-1', 'cp.hash_file', path, '--out', 'json', '--timeout', '30'], cli);
      const ret = json<RunDocument>(result).returns['web-1'];
      return { ok: ret?.success === true, ret: ret?.ret };
    };
    const served = async (): Promise<string> => ((await ask('salt://motd')).ret as { hsum: string }).hsum;
    assert.equal(await served(), sha256('version A\n'));
    assert.deepEqual((await ask('salt://inside')).ret, { hash_type: 'sha256', hsum: sha256('version A\n') });

    // Refused by name: a link out of the tree, a path through `..`, a file over the size limit.
    const evil = await ask('salt://evil');
    assert.equal(evil.ok, false);
    assert.match(String(evil.ret), /the master says: refused to serve 'evil': it leads outside the file roots/);
    const dots = await ask('salt://../../etc/passwd');
    assert.equal(dots.ok, false);
    assert.match(String(dots.ret), /leads outside the file roots/);
    const big = await ask('salt://big.bin');
    assert.equal(big.ok, false);
    assert.match(String(big.ret), /big\.bin.*2000 bytes, over the file server's limit of 1000 bytes/);

    /** An update that fails: exit 1, the error shown, commit `serving` still served. */
    const failedUpdate = async (serving: string, error: RegExp): Promise<void> => {
      const update = await phoenix(['fileserver', 'update', '--wait', '5', '--out', 'json'], cli, 60_000);
      assert.equal(update.code, 1, update.stdout + update.stderr);
      const root = json<{ roots: Array<{ commit?: string; error?: string }> }>(update).roots[0];
      assert.equal(root?.commit, serving);
      assert.match(root?.error ?? '', error);
      const listed = await waitFor(
        async () => {
          const r = await row();
          return (r.fileServerErrors ?? []).some((e) => error.test(e)) ? r : undefined;
        },
        { what: 'phoenix masters to show the error', timeoutMs: 10_000 },
      );
      assert.equal(listed.gitCommits?.['file:base:states'], serving);
      assert.equal(listed.status, 'active');
      const text = await phoenix(['masters'], cli);
      assert.match(text.stdout, /ERROR file:base:states: /);
    };
    const goodUpdate = async (commit: string): Promise<void> => {
      const update = await phoenix(['fileserver', 'update', '--wait', '10', '--out', 'json'], cli, 60_000);
      assert.equal(update.code, 0, update.stdout + update.stderr);
      assert.equal((await row()).gitCommits?.['file:base:states'], commit);
    };

    // A commit whose top file does not render.
    await repo.commit({ 'top.sls': "base:\n  '*':\n{% if %}\n" }, 'broken top');
    await failedUpdate(commitA, /is not served: top\.sls does not render/);
    assert.equal(await served(), sha256('version A\n'));

    // A good commit, then a forced push back to A.
    const commitC = await repo.commit({ 'top.sls': "base:\n  '*': []\n", motd: 'version C\n' }, 'C');
    await goodUpdate(commitC);
    assert.equal(await served(), sha256('version C\n'));
    repo.forcePush('main', commitA);
    await failedUpdate(commitC, /moved back to .*a forced push to an older commit/);
    assert.equal(await served(), sha256('version C\n'));

    // The branch is gone (a bad ref).
    repo.git(repo.bare, 'config', 'receive.denyDeleteCurrent', 'ignore');
    repo.git(repo.work, 'push', '--quiet', 'origin', ':main');
    await failedUpdate(commitC, /the remote has no branch main or master/);
    repo.forcePush('main', commitC);
    await goodUpdate(commitC);
    // The row's errors clear with the master's next heartbeat after the good fetch.
    await waitFor(async () => ((await row()).fileServerErrors ?? []).length === 0, {
      what: 'the errors to clear from phoenix masters',
      timeoutMs: 10_000,
    });

    // A refused token, then an unreachable remote.
    await writeFile(tokenFile, wrongToken);
    await failedUpdate(commitC, /fetching .* failed/);
    await writeFile(tokenFile, token);
    await server.close();
    await failedUpdate(commitC, /fetching .* failed: .*(Failed to connect|Connection refused|Could not)/i);
    assert.equal(await served(), sha256('version C\n'));

    // Neither token is in any log line (events are logged too), listing or answer.
    const everything = [
      processes.output(master.process),
      (await phoenix(['masters', '--out', 'json'], cli)).stdout,
      (await phoenix(['fileserver', 'update', '--wait', '1', '--out', 'json'], cli)).stdout,
      await (
        await fetch(`${master.api}/api/v1/masters`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      ).text(),
    ].join('\n');
    assert.match(everything, /fileserver\/update-failed/, 'the failures were raised as events');
    for (const secret of [token, wrongToken]) assert.ok(!everything.includes(secret), 'no token anywhere');
  },
);
