import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { isPhoenixError } from '@phoenix/protocol';
import { CUSTOM_GRAINS_FILE, GrainStore } from '../src/grains/index.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-grains-'));
  dirs.push(dir);
  return dir;
}
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

const core = { id: 'm1', os: 'Debian', mem_total: 2048, nested: { a: [1, 2] } };

test('custom grains persist across two GrainStore instances on the same directory', async () => {
  const cacheDir = await tempDir();
  const first = await GrainStore.open({ core, cacheDir });
  await first.setval('role', 'web');
  await first.setval('os', 'Custom');
  await first.setval('limits', { cpu: 2, tags: ['a', 'b'] });
  await first.setval('gone', true);
  assert.equal(await first.delval('gone'), true);

  const second = await GrainStore.open({ core: { ...core, mem_total: 4096 }, cacheDir });
  assert.deepEqual(second.custom(), { role: 'web', os: 'Custom', limits: { cpu: 2, tags: ['a', 'b'] } });
  assert.equal(second.items().os, 'Custom', 'custom wins over core');
  assert.equal(second.items().mem_total, 4096, 'core grains come from this start, not the file');
  assert.equal(second.items().gone, undefined);
  assert.equal(first.file, join(cacheDir, CUSTOM_GRAINS_FILE));
});

test('the file is written atomically: a reader never sees a partial file, and no temp file is left', async () => {
  const cacheDir = await tempDir();
  const store = await GrainStore.open({ core, cacheDir });
  await store.setval('seed', 0);
  const big = 'x'.repeat(64 * 1024);
  let reads = 0;
  let writing = true;
  const reader = (async () => {
    while (writing) {
      const parsed = parse(await readFile(store.file, 'utf8')) as Record<string, unknown>;
      assert.equal(typeof parsed, 'object', 'every read is a whole YAML mapping');
      assert.equal(parsed.seed, 0, 'every read holds everything written before');
      reads++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  await Promise.all(Array.from({ length: 40 }, (_, i) => store.setval(`key${i}`, `${i}${big}`)));
  writing = false;
  await reader;
  assert.ok(reads > 0);
  assert.deepEqual(await readdir(cacheDir), [CUSTOM_GRAINS_FILE]);
  const onDisk = parse(await readFile(store.file, 'utf8')) as Record<string, unknown>;
  assert.equal(Object.keys(onDisk).length, 41, 'concurrent setvals do not lose one another');
});

test('a failed write changes nothing, and the next write still works', async () => {
  const cacheDir = await tempDir();
  const store = await GrainStore.open({ core, cacheDir });
  await store.setval('kept', 1);
  const before = store.items();
  await rm(store.file);
  await mkdir(store.file); // a directory where the file should be: rename onto it fails
  const changes: string[] = [];
  store.onChange((_grains, change) => changes.push(change.key));
  await assert.rejects(store.setval('lost', 2), { code: 'PHX_GRAINS_WRITE_FAILED' });
  assert.equal(store.items(), before, 'the snapshot is unchanged');
  assert.deepEqual(changes, []);
  await rm(store.file, { recursive: true });
  await store.setval('after', 3);
  assert.deepEqual(store.custom(), { kept: 1, after: 3 });
  assert.deepEqual(await readdir(cacheDir), [CUSTOM_GRAINS_FILE], 'the failed temp file was removed');
});

test('snapshots are frozen copies: no caller can change the store', async () => {
  const cacheDir = await tempDir();
  const input = { id: 'm1', nested: { list: [1] } };
  const store = await GrainStore.open({ core: input, cacheDir });
  input.nested.list.push(2);
  const items = store.items();
  assert.deepEqual(items.nested, { list: [1] }, 'the store copied its core grains');
  assert.ok(Object.isFrozen(items) && Object.isFrozen(items.nested));
  assert.throws(() => {
    (items as Record<string, unknown>).id = 'other';
  }, TypeError);
  const value = { deep: ['a'] };
  await store.setval('mine', value);
  value.deep.push('b');
  assert.deepEqual(store.items().mine, { deep: ['a'] });
  assert.notEqual(store.items(), items, 'a change makes a new snapshot');
  assert.equal(items.mine, undefined, 'an old snapshot stays as it was');
});

test('listeners see each change with the new snapshot; a throwing listener does not undo it', async () => {
  const cacheDir = await tempDir();
  const store = await GrainStore.open({ core, cacheDir });
  const seen: unknown[] = [];
  store.onChange(() => {
    throw new Error('listener bug');
  });
  const off = store.onChange((grains, change) => seen.push([change.key, change.value, grains.role]));
  await store.setval('role', 'db');
  await store.delval('role');
  off();
  await store.setval('role', 'web');
  assert.deepEqual(seen, [
    ['role', 'db', 'db'],
    ['role', undefined, undefined],
  ]);
  assert.equal(store.items().role, 'web');
});

test('bad grains are refused and change nothing', async () => {
  const cacheDir = await tempDir();
  const store = await GrainStore.open({ core, cacheDir });
  await assert.rejects(store.setval('id', 'x'), { code: 'PHX_GRAINS_READ_ONLY' });
  await assert.rejects(store.setval('', 'x'), { code: 'PHX_GRAINS_INVALID_GRAIN' });
  await assert.rejects(store.setval('__proto__', { polluted: true }), { code: 'PHX_GRAINS_INVALID_GRAIN' });
  await assert.rejects(
    store.setval('f', () => 1),
    { code: 'PHX_GRAINS_INVALID_GRAIN' },
  );
  await assert.rejects(store.delval('os'), { code: 'PHX_GRAINS_READ_ONLY' });
  assert.equal(await store.delval('never'), false);
  assert.deepEqual(await readdir(cacheDir), [], 'nothing was written');
});

test('a custom grains file that is not a mapping is a clear error naming the file', async () => {
  const cacheDir = await tempDir();
  const file = join(cacheDir, CUSTOM_GRAINS_FILE);
  for (const [text, reason] of [
    ['- a\n- b\n', /expected a mapping/],
    ['role: [unclosed\n', /not valid YAML/],
  ] as const) {
    await writeFile(file, text);
    await assert.rejects(GrainStore.open({ core, cacheDir }), (err) => {
      assert.ok(isPhoenixError(err));
      assert.equal(err.code, 'PHX_GRAINS_FILE_INVALID');
      assert.ok(err.message.includes(file));
      assert.match(err.message, reason);
      return true;
    });
  }
  await writeFile(file, '# only a comment\n');
  assert.deepEqual((await GrainStore.open({ core, cacheDir })).custom(), {});
  await writeFile(file, 'role: web\nports: [80, 443]\n');
  assert.deepEqual((await GrainStore.open({ core, cacheDir })).custom(), { role: 'web', ports: [80, 443] });
});

test('a cache directory that does not exist yet is created on the first setval', async () => {
  const cacheDir = join(await tempDir(), 'not', 'yet');
  const store = await GrainStore.open({ core, cacheDir });
  await store.setval('role', 'web');
  assert.deepEqual(parse(await readFile(join(cacheDir, CUSTOM_GRAINS_FILE), 'utf8')), { role: 'web' });
});
