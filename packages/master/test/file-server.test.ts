import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { FILE_CHUNK_BYTES, type MasterMessage } from '@phoenix/protocol';
import { LocalRoots } from '@phoenix/state';
import { FileServer } from '../src/file-server/file-server.js';
import { PillarRenderer } from '../src/file-server/pillar-renderer.js';
import { StateTree } from '../src/file-server/state-tree.js';
import { Refusals } from '../src/limits/refusals.js';

type Reply = Extract<MasterMessage, { t: 'reply' }>;

const log = pino({ level: 'silent' });
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
let dir: string;
let salt: string;
let tree: StateTree;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'phoenix-file-server-'));
  salt = join(dir, 'salt');
  await mkdir(salt);
  await mkdir(join(dir, 'pillar'));
  await writeFile(join(dir, 'secret.txt'), 'not for minions');
  await symlink(join(dir, 'secret.txt'), join(salt, 'leak.txt'));
  tree = new StateTree({ base: [salt] }, { base: [join(dir, 'pillar')] });
});
after(() => rm(dir, { recursive: true, force: true }));

function server(files: { atOnce: number; runningPerMinion: number; waitingPerMinion: number }, refusals?: Refusals) {
  const pillar = new PillarRenderer({
    files: new LocalRoots({ base: [join(dir, 'pillar')] }),
    timeoutMs: 10_000,
    concurrency: 1,
    waitingPerMinion: 1,
    opts: {},
    log,
  });
  return new FileServer({
    trees: { at: () => Promise.resolve({ revision: undefined, tree, pillar: tree.pillar }) },
    pillar,
    grainsOf: () => undefined,
    files,
    ...(refusals === undefined ? {} : { refusals }),
    log,
  });
}

let req = 0;
const read = (files: FileServer, minionId: string, path: string, offset: number): Promise<Reply> =>
  files.answer(minionId, { v: 1, t: 'file', id: minionId, req: ++req, op: 'read', path, env: 'base', offset });

test('a file larger than a chunk is served piece by piece from its offset, with the whole file’s hash', async () => {
  const content = randomBytes(2 * FILE_CHUNK_BYTES + 12_345);
  await writeFile(join(salt, 'big.bin'), content);
  const files = server({ atOnce: 2, runningPerMinion: 1, waitingPerMinion: 8 });
  const pieces: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < 10 && offset < content.length; i++) {
    const reply = await read(files, 'web-1', 'big.bin', offset);
    assert.equal(reply.error, undefined);
    assert.equal(reply.hash, sha256(content));
    assert.equal(reply.size, content.length);
    assert.ok((reply.content?.byteLength ?? 0) <= FILE_CHUNK_BYTES, 'no reply carries more than a chunk');
    pieces.push(Buffer.from(reply.content ?? new Uint8Array()));
    offset += reply.content?.byteLength ?? 0;
  }
  assert.equal(pieces.length, 3);
  assert.ok(Buffer.concat(pieces).equals(content), 'the pieces make the file');

  const past = await read(files, 'web-1', 'big.bin', content.length + 10);
  assert.equal(past.content?.byteLength, 0, 'an offset past the end reads nothing');
  assert.equal(
    (
      await files.answer('web-1', {
        v: 1,
        t: 'file',
        id: 'web-1',
        req: ++req,
        op: 'hash',
        path: 'big.bin',
        env: 'base',
      })
    ).hash,
    sha256(content),
  );
});

test('a file rewritten between two chunks shows its new hash with the next chunk', async () => {
  const path = join(salt, 'changing.txt');
  await writeFile(path, 'a'.repeat(FILE_CHUNK_BYTES + 10));
  const files = server({ atOnce: 2, runningPerMinion: 1, waitingPerMinion: 8 });
  const first = await read(files, 'web-1', 'changing.txt', 0);
  await writeFile(path, 'b'.repeat(FILE_CHUNK_BYTES + 20));
  const second = await read(files, 'web-1', 'changing.txt', FILE_CHUNK_BYTES);
  assert.notEqual(second.hash, first.hash, 'the minion sees the change and starts over');
  assert.equal(second.hash, sha256(Buffer.from('b'.repeat(FILE_CHUNK_BYTES + 20))));
  assert.equal(Buffer.from(second.content ?? new Uint8Array()).toString(), 'b'.repeat(20));
});

test('a link out of the file roots is refused with a coded error, and a missing file is answered empty', async () => {
  const files = server({ atOnce: 2, runningPerMinion: 1, waitingPerMinion: 8 });
  const leak = await read(files, 'web-1', 'leak.txt', 0);
  assert.equal(leak.content, undefined);
  assert.match(leak.error?.message ?? '', /leads outside the file roots/);
  const missing = await read(files, 'web-1', 'nothing-here.sls', 0);
  assert.deepEqual([missing.error, missing.hash, missing.content], [undefined, undefined, undefined]);
});

test('one minion asking for a file hundreds of times is served in turn with another, and its excess refused as busy', async () => {
  await writeFile(join(salt, 'medium.bin'), randomBytes(256 * 1024));
  await writeFile(join(salt, 'small.txt'), 'hello');
  const refusals = new Refusals();
  const files = server({ atOnce: 1, runningPerMinion: 1, waitingPerMinion: 20 }, refusals);
  const finished: string[] = [];
  const noisy = Array.from({ length: 300 }, () =>
    read(files, 'noisy-1', 'medium.bin', 0).then((reply) => {
      finished.push(reply.error === undefined ? 'noisy' : 'busy');
      return reply;
    }),
  );
  const quiet = read(files, 'quiet-1', 'small.txt', 0).then((reply) => {
    finished.push('quiet');
    return reply;
  });
  assert.equal(Buffer.from((await quiet).content ?? new Uint8Array()).toString(), 'hello');
  const replies = await Promise.all(noisy);
  const served = replies.filter((r) => r.error === undefined).length;
  const busy = replies.filter((r) => r.error?.code === 'PHX_MASTER_BUSY').length;
  assert.equal(served, 21, 'one running and twenty waiting were served');
  assert.equal(busy, 279);
  const servedFirst = finished.filter((f) => f !== 'busy');
  assert.ok(
    servedFirst.indexOf('quiet') <= 1,
    `the quiet minion went second at the latest: ${servedFirst.slice(0, 4).join(', ')}`,
  );
  assert.deepEqual(refusals.entries(), [{ input: 'file', reason: 'busy', count: 279 }]);
});
