import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import type { MasterRecord } from '@phoenix/store';
import { ClusterEvents, type ClusterEvent } from '../src/events.js';
import { GitTrees, type GitTreesOptions } from '../src/gitfs/git-trees.js';

/*
 * GitTrees, the master's git roots, against real repositories this test makes (git's own `file://`
 * transport): directories and git roots in configured order, a subdirectory and a tag served, a
 * missing directory refused, a master catching up with the commit another master's row shows
 * (and ready only then), and the interval fetch.
 */

const log = pino({ level: 'silent' });

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: cwd,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_AUTHOR_NAME: 'Phoenix Test',
      GIT_AUTHOR_EMAIL: 'test@phoenix.invalid',
      GIT_COMMITTER_NAME: 'Phoenix Test',
      GIT_COMMITTER_EMAIL: 'test@phoenix.invalid',
    },
  });
}

/** A bare remote and a clone that commits to its main branch and pushes. */
async function repository(dir: string): Promise<{
  url: string;
  bare: string;
  commit(files: Record<string, string>): Promise<string>;
  tag(name: string): void;
}> {
  const bare = join(dir, 'states.git');
  const work = join(dir, 'work');
  await mkdir(dir, { recursive: true });
  git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
  git(dir, 'init', '--quiet', '--initial-branch=main', work);
  git(work, 'remote', 'add', 'origin', pathToFileURL(bare).href);
  return {
    url: pathToFileURL(bare).href,
    bare,
    async commit(files) {
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), content);
      }
      git(work, 'add', '--all');
      git(work, 'commit', '--quiet', '-m', 'change');
      git(work, 'push', '--quiet', '--tags', 'origin', 'main');
      return git(work, 'rev-parse', 'HEAD').trim();
    },
    tag(name) {
      git(work, 'tag', name);
      git(work, 'push', '--quiet', 'origin', name);
    },
  };
}

function trees(
  dir: string,
  name: string,
  options: Pick<GitTreesOptions, 'fileRoots'> & Partial<GitTreesOptions>,
): { trees: GitTrees; events: ClusterEvent[] } {
  const events = new ClusterEvents(name, log);
  const seen: ClusterEvent[] = [];
  events.on((event) => void seen.push(event));
  return {
    trees: new GitTrees({
      pillarRoots: {},
      cacheDir: join(dir, `cache-${name}`),
      fetchIntervalMs: 600_000,
      maxFileBytes: 1024 * 1024,
      gitTimeoutMs: 30_000,
      renderTimeoutMs: 30_000,
      aws: { region: 'us-east-1', endpoints: {} },
      events,
      log,
      ...options,
    }),
    events: seen,
  };
}

async function text(tree: GitTrees, path: string, env = 'base'): Promise<string | undefined> {
  const found = await (await tree.at()).tree.read(path, env, 0, 1024 * 1024);
  return found === undefined ? undefined : Buffer.from(found.content).toString('utf8');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function row(masterId: string, gitCommits: Record<string, string>): MasterRecord {
  const now = Date.now();
  return {
    masterId,
    host: '127.0.0.1',
    ports: { minion: 1, enrol: 2, peer: 3, api: 4 },
    status: 'active',
    heartbeatAt: now,
    startedAt: now,
    version: '0.1.0',
    minionCount: 0,
    gitCommits,
    expiresAt: Math.floor(now / 1000) + 60,
  };
}

test('directories and git roots in the order written; a root subdirectory, a tag, and a missing directory refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-gittrees-'));
  const { trees: gitTrees, events } = await (async () => {
    const repo = await repository(join(dir, 'repo'));
    await repo.commit({
      'README.md': 'not in the served root\n',
      'salt/top.sls': "base:\n  '*':\n    - web\n",
      'salt/web.sls': 'from: git v1\n',
      'salt/only-git.sls': 'only: git\n',
    });
    repo.tag('v1');
    await repo.commit({ 'salt/web.sls': 'from: git main\n' });
    const local = join(dir, 'local');
    await mkdir(local);
    await writeFile(join(local, 'web.sls'), 'from: directory\n');
    return trees(dir, 'm-1', {
      fileRoots: {
        base: [local, { git: repo.url, root: 'salt' }],
        prod: [{ git: repo.url, ref: 'v1', root: 'salt' }],
        qa: [{ git: repo.url, ref: 'main', root: 'nowhere' }],
      },
    });
  })();
  try {
    await gitTrees.start();
    await gitTrees.update('test');
    assert.equal(await text(gitTrees, 'web.sls'), 'from: directory\n', 'the directory comes first in base');
    assert.equal(await text(gitTrees, 'only-git.sls'), 'only: git\n', 'then the git root');
    assert.equal(await text(gitTrees, 'top.sls'), "base:\n  '*':\n    - web\n");
    assert.equal(await text(gitTrees, 'README.md'), undefined, 'only the root directory is served');
    assert.equal(await text(gitTrees, 'web.sls', 'prod'), 'from: git v1\n', 'prod serves the tag');
    assert.equal(await text(gitTrees, 'web.sls', 'qa'), undefined);
    const status = gitTrees.status();
    assert.deepEqual(
      status.map((s) => [s.key, s.ref, s.commit !== undefined]),
      [
        ['file:base:states', 'main|master', true],
        ['file:prod:states', 'v1', true],
        ['file:qa:states', 'main', false],
      ],
    );
    assert.match(status[2]?.error ?? '', /has no directory nowhere/);
    const failed = events.find((e) => e.tag === 'fileserver/update-failed');
    assert.deepEqual([failed?.data.root, failed?.data.code], ['file:qa:states', 'PHX_GIT_TREE_INVALID']);
  } finally {
    await gitTrees.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a master fetches the commit another master's row shows, and is ready only once it serves it", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-gittrees-'));
  const repo = await repository(join(dir, 'repo'));
  const first = await repo.commit({ 'top.sls': "base:\n  '*': []\n", 'motd.txt': 'one\n' });
  const fileRoots = { base: [{ git: repo.url }] };
  const a = trees(dir, 'a', { fileRoots }).trees;
  const b = trees(dir, 'b', { fileRoots }).trees;
  const live = () => true;
  try {
    await a.start();
    await b.start();
    await until('a and b to serve the first commit', async () =>
      a.commits()['file:base:states'] === first && b.commits()['file:base:states'] === first ? true : undefined,
    );
    await b.noteCluster([row('a', a.commits())], 'b', live);
    assert.equal(b.ready, true, 'b serves what a serves');

    // a fetches a newer commit (its interval, say); b reads a's row and fetches it at once.
    const second = await repo.commit({ 'motd.txt': 'two\n' });
    await a.update('interval');
    assert.equal(a.commits()['file:base:states'], second);
    await b.noteCluster([row('a', a.commits())], 'b', live);
    await until("b to fetch the commit in a's row", async () =>
      b.commits()['file:base:states'] === second ? true : undefined,
    );
    assert.equal(await text(b, 'motd.txt'), 'two\n');

    // A new master whose remote is out of reach: a's row shows a commit it cannot have, so it is not ready.
    await rename(repo.bare, `${repo.bare}.away`);
    const c = trees(dir, 'c', { fileRoots }).trees;
    try {
      await c.start();
      await c.update('test');
      await c.noteCluster([row('a', a.commits()), row('b', b.commits())], 'c', live);
      assert.equal(c.ready, false);
      assert.match(c.errors().join(), /file:base:states: fetching .* failed/);
      assert.equal(await text(c, 'motd.txt'), undefined, 'nothing is served from a root it never fetched');
      await rename(`${repo.bare}.away`, repo.bare);
      await c.update('test');
      assert.equal(c.commits()['file:base:states'], second);
      await c.noteCluster([row('a', a.commits()), row('b', b.commits())], 'c', live);
      assert.equal(c.ready, true);
    } finally {
      await c.stop();
    }
  } finally {
    await a.stop();
    await b.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('every fetchIntervalMs a master fetches on its own', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-gittrees-'));
  const repo = await repository(join(dir, 'repo'));
  const first = await repo.commit({ 'top.sls': "base:\n  '*': []\n" });
  const { trees: gitTrees, events } = trees(dir, 'm-1', {
    fileRoots: { base: [{ git: repo.url }] },
    fetchIntervalMs: 500,
  });
  try {
    await gitTrees.start();
    await until('the first commit', async () => (gitTrees.commits()['file:base:states'] === first ? true : undefined));
    const second = await repo.commit({ 'motd.txt': 'two\n' });
    await until('the interval fetch to serve the new commit', async () =>
      gitTrees.commits()['file:base:states'] === second ? true : undefined,
    );
    assert.ok(events.some((e) => e.tag === 'fileserver/updated' && e.data.reason === 'interval'));
  } finally {
    await gitTrees.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

const SSHD = '/usr/sbin/sshd';

/** A port that is free a moment ago on loopback. */
async function freeLoopbackPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

test(
  'an SSH remote with a deploy key and pinned host keys: served through a real sshd on loopback; a key it does not take, or another host key, leaves nothing served and no key in any message',
  { skip: existsSync(SSHD) ? false : `${SSHD} is not installed (Debian's openssh-server; .ci/run installs it)` },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'phoenix-gitssh-'));
    const keygen = (path: string): string => {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'phoenix-test', '-f', path]);
      return path;
    };
    const hostKey = keygen(join(dir, 'host_key'));
    const otherHostKey = keygen(join(dir, 'other_host_key'));
    const deployKey = keygen(join(dir, 'deploy_key'));
    const strangerKey = keygen(join(dir, 'stranger_key'));
    await writeFile(join(dir, 'authorized_keys'), await readFile(`${deployKey}.pub`, 'utf8'));
    const port = await freeLoopbackPort();
    const known = async (key: string): Promise<string> => {
      const [type, body] = (await readFile(`${key}.pub`, 'utf8')).split(' ');
      return `[127.0.0.1]:${port} ${type} ${body}\n`;
    };
    await writeFile(join(dir, 'known_hosts'), await known(hostKey));
    await writeFile(join(dir, 'other_known_hosts'), await known(otherHostKey));
    await writeFile(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'AuthenticationMethods publickey',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'StrictModes no',
        'UsePAM no',
        '',
      ].join('\n'),
    );
    // sshd started by root wants its privilege-separation directory.
    if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const sshd = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let sshdLog = '';
    sshd.stderr.on('data', (chunk: Buffer) => (sshdLog += chunk.toString()));
    const repo = await repository(join(dir, 'repo'));
    const commit = await repo.commit({ 'top.sls': "base:\n  '*':\n    - web\n", 'web.sls': 'from: ssh\n' });
    const url = `ssh://${userInfo().username}@127.0.0.1:${port}${repo.bare}`;
    const keyText = (await readFile(deployKey, 'utf8')).trim();
    const root = (key: string, hosts: string) => ({
      fileRoots: {
        base: [{ git: url, auth: { username: 'git', sshKey: { file: key }, knownHosts: { file: join(dir, hosts) } } }],
      },
    });
    const served = trees(dir, 'ssh-ok', root(deployKey, 'known_hosts'));
    const stranger = trees(dir, 'ssh-stranger', root(strangerKey, 'known_hosts'));
    const spoofed = trees(dir, 'ssh-spoofed', root(deployKey, 'other_known_hosts'));
    try {
      await until('sshd to listen', async () => ((await listening(port)) ? true : undefined));
      await served.trees.update('test');
      assert.equal(served.trees.commits()['file:base:states'], commit, sshdLog);
      assert.equal(await text(served.trees, 'web.sls'), 'from: ssh\n');

      for (const [what, tried, why] of [
        ['a deploy key the server does not take', stranger, /Permission denied \(publickey\)/],
        ['a server whose host key is not the pinned one', spoofed, /Host key verification failed/],
      ] as const) {
        await tried.trees.update('test');
        const [status] = tried.trees.status();
        assert.equal(status?.commit, undefined, `${what}: nothing served`);
        assert.match(status?.error ?? '', /fetching .* failed/, `${what}: the fetch is said to fail`);
        assert.match(status?.error ?? '', why, `${what}: and why, in ssh's words`);
        const said = JSON.stringify([tried.trees.status(), tried.events]);
        assert.ok(!said.includes(keyText.split('\n')[1] ?? keyText), `${what}: no key material in any message`);
      }
      assert.ok(!JSON.stringify([served.trees.status(), served.events]).includes(keyText.split('\n')[1] ?? keyText));
    } finally {
      await Promise.all([served.trees.stop(), stranger.trees.stop(), spoofed.trees.stop()]);
      sshd.kill('SIGTERM');
      await new Promise((resolve) => (sshd.exitCode !== null ? resolve(undefined) : sshd.once('exit', resolve)));
      await rm(dir, { recursive: true, force: true });
    }
  },
);
