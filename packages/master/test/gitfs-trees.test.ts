import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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
