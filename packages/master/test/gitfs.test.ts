import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRevision, encodeRevision, standing } from '../src/gitfs/revision.js';
import { gitSources, GitRootSchema, remoteKind, repositoryName } from '../src/gitfs/git-root.js';
import { redact } from '../src/gitfs/git.js';
import { nextFetchDelay } from '../src/gitfs/git-trees.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

test('a revision names each git root’s commit, sorted, and only that', () => {
  const revision = encodeRevision({ 'pillar:base:pillar': B, 'file:base:states': A });
  assert.equal(revision, `file:base:states=${A};pillar:base:pillar=${B}`);
  assert.deepEqual(decodeRevision(revision), { 'file:base:states': A, 'pillar:base:pillar': B });
  for (const bad of ['', 'file:base:states=abc', `file:base:states=${A};x`, `../etc=${A}`, `file:base:a b=${A}`]) {
    assert.equal(decodeRevision(bad), undefined, bad);
  }
});

test("a master stands against the others' commits: same, ahead, behind or unknown", () => {
  const older = (c: string) => (c === B ? ('older' as const) : ('unknown' as const));
  assert.equal(standing(A, [], older), 'same');
  assert.equal(standing(A, [A], older), 'same');
  assert.equal(standing(A, [B], older), 'ahead');
  assert.equal(standing(A, [B, 'c'.repeat(40)], older), 'unknown');
  assert.equal(
    standing(A, [B], () => 'newer'),
    'behind',
  );
  assert.equal(standing(undefined, [], older), 'unknown', 'nothing fetched yet: not ready');
  assert.equal(standing(undefined, [A], older), 'behind');
});

test('git remotes: only the transports Phoenix fetches, never an option, never credentials in the URL', () => {
  assert.equal(remoteKind('https://git.example.com/ops/states.git'), 'https');
  assert.equal(remoteKind('git@git.example.com:ops/states.git'), 'ssh');
  assert.equal(remoteKind('ssh://git@git.example.com/ops/states.git'), 'ssh');
  assert.equal(remoteKind('file:///srv/states.git'), 'file');
  for (const bad of ['ext::sh -c id', '--upload-pack=id', 'git://host/x.git', 'file://host/x', '/srv/states.git']) {
    assert.equal(remoteKind(bad), undefined, bad);
  }
  const parsed = GitRootSchema.safeParse({ git: 'https://me:tok@git.example.com/x.git' });
  assert.equal(parsed.success, false);
  assert.match(JSON.stringify(parsed.error?.issues), /must not carry credentials/);
  assert.equal(GitRootSchema.safeParse({ git: 'file:///srv/x.git', ref: '-f' }).success, false);
  assert.equal(GitRootSchema.safeParse({ git: 'file:///srv/x.git', root: '../up' }).success, false);
  assert.equal(
    GitRootSchema.safeParse({ git: 'file:///srv/x.git', auth: { sshKey: { file: '/k' } } }).success,
    false,
    'a deploy key is for SSH',
  );
  assert.equal(repositoryName('git@host:ops/pillar-prod.git'), 'pillar-prod');
});

test('a second remote of one name in one environment is a config error naming it', () => {
  const { sources, problems } = gitSources(
    { base: ['/srv/salt', { git: 'file:///a/states.git' }, { git: 'file:///b/states.git' }] },
    { base: [{ git: 'file:///a/states.git' }] },
  );
  assert.deepEqual(
    sources.map((s) => [s.key, s.where]),
    [
      ['file:base:states', 'fileRoots.base.1'],
      ['pillar:base:states', 'pillarRoots.base.0'],
    ],
  );
  assert.match(problems.join(), /"fileRoots\.base\.2": a second git remote named "states"/);
});

test('secrets are blanked in any message, as written and URL-encoded', () => {
  assert.equal(redact('auth for tok/en+1 failed (tok%2Fen%2B1)', ['tok/en+1']), 'auth for *** failed (***)');
});

test('a starting master whose fetch failed retries after 1 s, 2 s, 4 s … up to the interval; a ready one every interval', () => {
  const delay = (ready: boolean, failedStarts: number, random = 0.5) =>
    nextFetchDelay({ intervalMs: 60_000, ready, failedStarts, random: () => random });
  assert.deepEqual(
    [1, 2, 3, 4, 6, 7, 30].map((n) => delay(false, n)),
    [1_000, 2_000, 4_000, 8_000, 32_000, 60_000, 60_000],
  );
  assert.equal(delay(false, 0), 60_000, 'starting, but nothing failed: it waits for the others, not the remote');
  assert.equal(delay(true, 5), 60_000, 'ready: the interval, whatever failed');
  assert.equal(delay(true, 0, 0), 54_000, '±10 % so that masters started together fetch apart');
  assert.equal(delay(true, 0, 1), 66_000);
  assert.equal(delay(false, 1, 0), 900);
});
