import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import pino from 'pino';
import { parse, parseDocument } from 'yaml';
import { failoverOrder, ManualClock, type MasterEndpoint } from '@phoenix/protocol';
import { Store, type MasterRecord, type NewMaster } from '@phoenix/store';
import type { MasterAddress } from '../src/connection/master-address.js';
import {
  MasterListManager,
  type MasterListManagerOptions,
  type MasterListOutcome,
  type MastersTableReader,
} from '../src/master-list/index.js';

// ---------------------------------------------------------------------------------------------
// A real DynamoDB (dynalite, as devstack runs it) and temporary files, torn down after the file.

type Dynalite = (options: { createTableMs: number; deleteTableMs: number; updateTableMs: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as Dynalite;

let server: Server;
let client: DynamoDBClient;
let tableCount = 0;
const dirs: string[] = [];

before(async () => {
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});
after(async () => {
  client.destroy();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Each test gets its own tables (its own prefix) and a fresh temporary directory. */
async function freshStore(): Promise<Store> {
  const store = new Store(client, `ml${++tableCount}`);
  await store.createTables();
  return store;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-master-list-'));
  dirs.push(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Time as a parameter: a clock the test moves by hand.

/** Polls a condition within a bound: no sleeping and hoping. */
async function until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// ---------------------------------------------------------------------------------------------
// A manager wired to counters: onChange calls, outcomes, table reads and log lines.

interface LogLine {
  level: number;
  msg: string;
  code?: string;
}

function harness(options: Partial<MasterListManagerOptions> & { table?: MastersTableReader }) {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const changes: (readonly MasterAddress[])[] = [];
  const outcomes: MasterListOutcome[] = [];
  let reads = 0;
  const table = options.table;
  const clock = new ManualClock();
  const manager = new MasterListManager({
    minionId: 'web-1',
    clock,
    random: () => 0.5,
    log,
    onChange: (ordered) => void changes.push(ordered),
    onOutcome: (outcome) => void outcomes.push(outcome),
    ...options,
    ...(table === undefined
      ? {}
      : {
          table: {
            list: () => {
              reads++;
              return table.list();
            },
          },
        }),
  });
  return { manager, clock, changes, outcomes, lines, reads: () => reads };
}

const row = (
  masterId: string,
  host: string,
  heartbeatAt: number,
  status: MasterRecord['status'] = 'active',
): NewMaster => ({
  masterId,
  host,
  ports: { minion: 4506, enrol: 4505, peer: 4507, api: 8080 },
  status,
  heartbeatAt,
  startedAt: heartbeatAt,
  version: '0.1.0',
  minionCount: 0,
});

const endpoint = (id: string, host = `10.0.0.${id.slice(-1)}`): MasterEndpoint => ({
  id,
  host,
  port: 4506,
  enrolPort: 4505,
});
const ids = (list: readonly MasterAddress[]): (string | undefined)[] => list.map((m) => m.id);
const expectedOrder = (masterIds: string[]): string[] => failoverOrder('web-1', masterIds, (id) => id);

const CONFIG = `# phoenix-minion on web-1
id: web-1 # keep this comment
clusterPublicKey: "rq:cpUR3R#7i]U1v7Z<}kIJ)vh4RgOmA>qJ9OYOOu"
masters: # in failover order, kept by the master-list manager
  - { id: m-old, host: 10.9.9.9, port: 4506, enrolPort: 4505 }
pkiDir: /var/lib/phoenix/pki
# the cache
cacheDir: /var/cache/phoenix
heartbeatMs: 1000
`;

// ---------------------------------------------------------------------------------------------

test('a pushed list is put in failover order, written into the config file with every other key and comment kept, then handed to onChange', async () => {
  const dir = await tempDir();
  const configPath = join(dir, 'minion.yaml');
  await writeFile(configPath, CONFIG, { mode: 0o640 });
  const { manager, changes } = harness({ configPath, initial: [endpoint('m-old', '10.9.9.9')] });

  const pushed = ['m-1', 'm-2', 'm-3', 'm-4'].map((id) => endpoint(id));
  assert.equal(await manager.applyPushed(pushed), true);

  const order = expectedOrder(['m-1', 'm-2', 'm-3', 'm-4']);
  assert.deepEqual(ids(manager.current()), order);
  assert.equal(changes.length, 1);
  assert.deepEqual(ids(changes[0] ?? []), order);

  const text = await readFile(configPath, 'utf8');
  const written = parse(text) as Record<string, unknown>;
  assert.deepEqual(
    written.masters,
    manager.current().map((m) => ({ ...m })),
  );
  for (const kept of ['# phoenix-minion on web-1', '# keep this comment', '# the cache', 'heartbeatMs: 1000']) {
    assert.ok(text.includes(kept), `${kept} is kept:\n${text}`);
  }
  assert.equal(written.clusterPublicKey, 'rq:cpUR3R#7i]U1v7Z<}kIJ)vh4RgOmA>qJ9OYOOu');
  assert.equal(written.cacheDir, '/var/cache/phoenix');
  assert.equal((await stat(configPath)).mode & 0o777, 0o640, 'the file keeps its permissions');
  assert.deepEqual(await readdir(dir), ['minion.yaml'], 'no temporary file is left behind');
});

test('an unchanged list writes nothing (same inode and mtime) and calls nothing', async () => {
  const dir = await tempDir();
  const configPath = join(dir, 'minion.yaml');
  await writeFile(configPath, CONFIG);
  const { manager, changes } = harness({ configPath });
  const pushed = ['m-1', 'm-2'].map((id) => endpoint(id));
  assert.equal(await manager.applyPushed(pushed), true);
  const before = await stat(configPath);

  assert.equal(await manager.applyPushed([...pushed].reverse()), false, 'the same masters in another order');
  assert.equal(await manager.applyPushed(pushed), false);
  const afterwards = await stat(configPath);
  assert.equal(afterwards.ino, before.ino);
  assert.equal(afterwards.mtimeMs, before.mtimeMs);
  assert.equal(changes.length, 1, 'onChange ran for the first list only');
});

test('the file is replaced atomically: a reader looping on it meanwhile never sees a partial or invalid file', async () => {
  const dir = await tempDir();
  const configPath = join(dir, 'minion.yaml');
  await writeFile(configPath, CONFIG);
  const { manager } = harness({ configPath });
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  // A real thread, so its reads truly interleave with the writes rather than wait for them.
  const reader = new Worker(
    `
    const { workerData, parentPort } = require('node:worker_threads');
    const { readFileSync } = require('node:fs');
    const { parse } = require(workerData.yaml);
    const stop = new Int32Array(workerData.stop);
    let reads = 0, bad = [];
    while (Atomics.load(stop, 0) === 0) {
      const text = readFileSync(workerData.path, 'utf8');
      try {
        const config = parse(text);
        if (config.cacheDir !== '/var/cache/phoenix' || !Array.isArray(config.masters) || config.masters.length < 1) bad.push(text);
      } catch (err) { bad.push(text); }
      reads++;
    }
    parentPort.postMessage({ reads, bad: bad.slice(0, 3) });
    `,
    {
      eval: true,
      workerData: { path: configPath, stop: stopFlag.buffer, yaml: createRequire(import.meta.url).resolve('yaml') },
    },
  );
  const result = new Promise<{ reads: number; bad: string[] }>((resolve, reject) => {
    reader.once('message', resolve);
    reader.once('error', reject);
  });
  const many = Array.from({ length: 40 }, (_, i) => endpoint(`m-${i}`, `10.1.0.${i}`));
  for (let i = 0; i < 60; i++) {
    // Lists of different lengths, so a torn write would show as a different file, not the same one.
    assert.equal(await manager.applyPushed(many.slice(0, i % 2 === 0 ? 40 - (i % 5) : 3 + (i % 5))), true);
  }
  Atomics.store(stopFlag, 0, 1);
  const { reads, bad } = await result;
  await reader.terminate();
  assert.deepEqual(bad, [], 'every read saw a whole, valid config');
  assert.ok(reads > 0);
  assert.deepEqual(await readdir(dir), ['minion.yaml'], 'no temporary file is left behind');
});

test('dead masters (heartbeat older than deadAfter) are left out and draining ones go last', async () => {
  const store = await freshStore();
  const dir = await tempDir();
  const configPath = join(dir, 'minion.yaml');
  await writeFile(configPath, CONFIG);
  const { manager, clock, changes, outcomes } = harness({
    configPath,
    table: store.masters,
    deadAfterMs: 6_000,
  });
  const now = clock.now();
  await store.masters.put(row('m-a', '10.0.0.1', now - 1_000));
  await store.masters.put(row('m-b', '10.0.0.2', now - 5_999));
  await store.masters.put(row('m-c', '10.0.0.3', now - 6_000)); // exactly deadAfter: dead
  await store.masters.put(row('m-d', '10.0.0.4', now - 60_000)); // long dead
  await store.masters.put(row('m-e', '10.0.0.5', now, 'draining'));
  await store.masters.put(row('m-f', '10.0.0.6', now - 500));

  assert.equal(await manager.refreshFromTable(), true);
  assert.deepEqual(ids(manager.current()), [...expectedOrder(['m-a', 'm-b', 'm-f']), 'm-e']);
  assert.deepEqual(outcomes.at(-1)?.dead, ['m-c', 'm-d']);
  assert.deepEqual(outcomes.at(-1)?.draining, ['m-e']);
  const hostOf: Record<string, string> = { 'm-a': '10.0.0.1', 'm-b': '10.0.0.2', 'm-f': '10.0.0.6', 'm-e': '10.0.0.5' };
  assert.deepEqual(
    manager.current(),
    ids(manager.current()).map((id) => ({ id, host: hostOf[id as string], port: 4506, enrolPort: 4505 })),
    'the minion port and the enrol port come from the row',
  );
  const file = parse(await readFile(configPath, 'utf8')) as { masters: MasterAddress[] };
  assert.deepEqual(ids(file.masters), ids(manager.current()));

  // Time passes: m-b's heartbeat ages past deadAfter and it leaves the list; nothing else moves.
  clock.time += 1_000;
  assert.equal(await manager.refreshFromTable(), true);
  assert.deepEqual(ids(manager.current()), [...expectedOrder(['m-a', 'm-f']), 'm-e']);
  assert.equal(changes.length, 2);
});

test('Salt mode writes master + master_type: failover into the drop-in, keeps its other keys, and restarts exactly once per real change', async () => {
  const store = await freshStore();
  const dir = await tempDir();
  const dropIn = join(dir, 'minion.d', 'phoenix-masters.conf');
  const counter = join(dir, 'restarts');
  const { manager, clock, changes } = harness({
    table: store.masters,
    mode: 'salt',
    salt: { configPath: dropIn, restartCommand: `echo x >> '${counter}'`, masterAliveInterval: 10 },
  });
  const restarts = async (): Promise<number> =>
    (await readFile(counter, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  const now = clock.now();
  await store.masters.put(row('m-a', '10.0.0.1', now));
  await store.masters.put(row('m-b', '10.0.0.2', now));

  // The initial change creates the drop-in (and its directory) and restarts once.
  assert.equal(await manager.refreshFromTable(), true);
  const hosts = expectedOrder(['m-a', 'm-b']).map((id) => (id === 'm-a' ? '10.0.0.1' : '10.0.0.2'));
  assert.deepEqual(parse(await readFile(dropIn, 'utf8')), {
    master: hosts,
    master_type: 'failover',
    master_alive_interval: 10,
    retry_dns: 0,
  });
  assert.equal(await restarts(), 1);

  // An operator adds a key and a comment of their own: they stay.
  const doc = parseDocument(await readFile(dropIn, 'utf8'));
  doc.set('log_level', 'debug');
  doc.commentBefore = ' managed by Phoenix; log_level is ours';
  await writeFile(dropIn, String(doc));

  // Unchanged: nothing written, no restart.
  const before = await stat(dropIn);
  assert.equal(await manager.refreshFromTable(), false);
  assert.equal((await stat(dropIn)).mtimeMs, before.mtimeMs);
  assert.equal(await restarts(), 1);

  // A real change: a third master. One write, one more restart.
  await store.masters.put(row('m-c', '10.0.0.3', now));
  assert.equal(await manager.refreshFromTable(), true);
  const text = await readFile(dropIn, 'utf8');
  const written = parse(text) as Record<string, unknown>;
  assert.deepEqual(
    written.master,
    manager.current().map((m) => m.host),
  );
  assert.equal(written.master_type, 'failover');
  assert.equal(written.log_level, 'debug');
  assert.ok(text.includes('# managed by Phoenix; log_level is ours'), text);
  assert.equal(await restarts(), 2);
  assert.equal(await manager.refreshFromTable(), false);
  assert.equal(await restarts(), 2);
  assert.equal(changes.length, 2);
  assert.deepEqual(await readdir(join(dir, 'minion.d')), ['phoenix-masters.conf']);
});

test('Salt mode: a failed restart is reported, and run again at the next refresh even though the list is unchanged', async () => {
  const store = await freshStore();
  const dir = await tempDir();
  const counter = join(dir, 'restarts');
  const { manager, clock, outcomes, lines } = harness({
    table: store.masters,
    mode: 'salt',
    salt: {
      configPath: join(dir, 'drop-in.conf'),
      port: 4510,
      // Fails the first time, succeeds after.
      restartCommand: `echo x >> '${counter}'; test "$(wc -l < '${counter}')" -gt 1 || { echo broken >&2; exit 3; }`,
    },
  });
  await store.masters.put(row('m-a', '10.0.0.1', clock.now()));
  assert.equal(await manager.refreshFromTable(), true);
  assert.equal((parse(await readFile(join(dir, 'drop-in.conf'), 'utf8')) as { master_port: number }).master_port, 4510);
  assert.equal(outcomes.at(-1)?.restart?.exitCode, 3);
  assert.equal(outcomes.at(-1)?.error?.code, 'PHX_MASTER_LIST_RESTART_FAILED');
  assert.ok(lines.some((l) => l.msg.startsWith('restart command failed')));
  assert.ok(outcomes.at(-1)?.restart?.output.includes('broken'));

  assert.equal(await manager.refreshFromTable(), false);
  assert.equal(outcomes.at(-1)?.restart?.ok, true, 'the owed restart ran');
  assert.equal(await manager.refreshFromTable(), false);
  assert.equal(outcomes.at(-1)?.restart, undefined, 'and only once');
  assert.equal((await readFile(counter, 'utf8')).split('\n').filter(Boolean).length, 2);
});

test('a bad table row or an unreachable table is logged and changes nothing, without a crash', async () => {
  const store = await freshStore();
  const dir = await tempDir();
  const configPath = join(dir, 'minion.yaml');
  await writeFile(configPath, CONFIG);
  const initial = [endpoint('m-old', '10.9.9.9')];
  const { manager, clock, changes, lines, outcomes } = harness({ configPath, initial, table: store.masters });
  const before = await stat(configPath);
  await store.masters.put(row('m-a', '10.0.0.1', clock.now()));

  // A row that does not match the table's schema (written by hand or by another version).
  await client.send(
    new PutItemCommand({
      TableName: store.masters.tableName,
      Item: { masterId: { S: 'm-bad' }, host: { S: '10.0.0.9' } },
    }),
  );
  assert.equal(await manager.refreshFromTable(), false);
  assert.equal(outcomes.at(-1)?.error?.code, 'PHX_MASTER_LIST_TABLE_UNREADABLE');
  assert.match(outcomes.at(-1)?.error?.message ?? '', /m-bad/);
  await store.masters.delete('m-bad');

  // A live row that parses but is no usable address (port 0).
  await store.masters.put({
    ...row('m-zero', '10.0.0.8', clock.now()),
    ports: { minion: 0, enrol: 0, peer: 0, api: 0 },
  });
  assert.equal(await manager.refreshFromTable(), false);
  assert.equal(outcomes.at(-1)?.error?.code, 'PHX_MASTER_LIST_INVALID_MASTER');
  await store.masters.delete('m-zero');

  // A table nobody answers for.
  const unreachable = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const offline = harness({ configPath, initial, table: new Store(unreachable, 'nowhere').masters });
  assert.equal(await offline.manager.refreshFromTable(), false);
  unreachable.destroy();
  assert.equal(offline.outcomes.at(-1)?.error?.code, 'PHX_MASTER_LIST_TABLE_UNREADABLE');
  assert.ok(offline.lines.some((l) => l.level === 40 && l.code === 'PHX_MASTER_LIST_TABLE_UNREADABLE'));

  // Every live master dead: the list is kept, never traded for nothing.
  clock.time += 60_000;
  assert.equal(await manager.refreshFromTable(), false);
  assert.equal(outcomes.at(-1)?.error?.code, 'PHX_MASTER_LIST_NO_LIVE_MASTER');

  for (const m of [manager, offline.manager]) assert.deepEqual(m.current(), initial);
  assert.deepEqual(changes, []);
  assert.deepEqual(offline.changes, []);
  const afterwards = await stat(configPath);
  assert.equal(afterwards.mtimeMs, before.mtimeMs);
  assert.equal(afterwards.ino, before.ino);
  assert.ok(lines.filter((l) => l.level === 40).length >= 3, 'each refusal was logged as a warning');
});

test('an invalid or empty pushed list changes nothing', async () => {
  const { manager, changes, outcomes } = harness({ initial: [endpoint('m-1')] });
  const bad = [endpoint('m-2'), { id: 'm-3', host: '', port: 4506, enrolPort: 4505 }] as MasterEndpoint[];
  assert.equal(await manager.applyPushed(bad), false);
  assert.equal(outcomes.at(-1)?.error?.code, 'PHX_MASTER_LIST_INVALID_MASTER');
  assert.equal(await manager.applyPushed([]), false);
  assert.equal(outcomes.at(-1)?.error?.code, 'PHX_MASTER_LIST_NO_LIVE_MASTER');
  assert.deepEqual(ids(manager.current()), ['m-1']);
  assert.deepEqual(changes, []);
});

test('a config file that is not valid YAML is left alone; the new list still takes effect in memory', async () => {
  const dir = await tempDir();
  const configPath = join(dir, 'minion.yaml');
  const broken = 'id: web-1\nmasters: [\n';
  await writeFile(configPath, broken);
  const { manager, changes, outcomes } = harness({ configPath });
  assert.equal(await manager.applyPushed([endpoint('m-1')]), true);
  assert.equal(outcomes.at(-1)?.error?.code, 'PHX_MASTER_LIST_FILE_INVALID');
  assert.equal(await readFile(configPath, 'utf8'), broken);
  assert.deepEqual(ids(manager.current()), ['m-1']);
  assert.equal(changes.length, 1);
});

test('current() is a frozen copy: a caller cannot change the list', async () => {
  const { manager } = harness({ initial: [endpoint('m-1')] });
  const list = manager.current();
  assert.ok(Object.isFrozen(list) && Object.isFrozen(list[0]));
  assert.throws(() => (list as MasterAddress[]).push(endpoint('m-2')));
  assert.deepEqual(ids(manager.current()), ['m-1']);
});

test('newest wins: a table read that started before a push does not undo the pushed list', async () => {
  const store = await freshStore();
  await store.masters.put(row('m-a', '10.0.0.1', Date.now()));
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const slowTable: MastersTableReader = {
    list: async () => {
      const rows = await store.masters.list();
      await gate;
      return rows;
    },
  };
  const { manager, clock } = harness({ table: slowTable });
  clock.time = Date.now();
  const reading = manager.refreshFromTableOutcome();
  assert.equal(await manager.applyPushed([endpoint('m-1'), endpoint('m-2')]), true);
  release();
  const outcome = await reading;
  assert.equal(outcome.result, 'skipped');
  assert.deepEqual(ids(manager.current()).sort(), ['m-1', 'm-2']);
  // A read that starts after the push is newer, and wins.
  assert.equal(await manager.refreshFromTable(), true);
  assert.deepEqual(ids(manager.current()), ['m-a']);
});

test('the table is read at once with an empty list, never while connected, and every pollMs ±20% while disconnected', async () => {
  const store = await freshStore();
  const { manager, clock, reads, outcomes } = harness({
    table: store.masters,
    pollMs: 60_000,
    connectGraceMs: 5_000,
    random: () => 0.99,
  });
  await store.masters.put(row('m-a', '10.0.0.1', clock.now()));

  manager.start();
  assert.equal(reads(), 1, 'an empty list reads the table at once');
  await until(() => outcomes.length === 1, 'the first read to be applied');
  assert.deepEqual(ids(manager.current()), ['m-a']);
  // Still disconnected: the next read is a jittered pollMs away (0.8 + 0.4 × 0.99 of 60 s).
  assert.deepEqual(clock.pending(), [Math.round(60_000 * (0.8 + 0.4 * 0.99))]);

  manager.setConnected(true);
  assert.deepEqual(clock.pending(), [], 'connected: no poll at all');
  clock.advance(24 * 3_600_000);
  assert.equal(reads(), 1, 'a day connected costs no table read');

  // The master is lost; the connection gets connectGraceMs to reach another before the table is read.
  manager.setConnected(false);
  clock.advance(4_000);
  manager.setConnected(true);
  clock.advance(10 * 60_000);
  assert.equal(reads(), 1, 'reconnected within the grace: no read');

  manager.setConnected(false);
  clock.advance(6_000);
  assert.equal(reads(), 2);
  await until(() => outcomes.length === 2, 'the second read to be applied');
  clock.advance(59_999);
  assert.equal(reads(), 2);
  clock.advance(20_000);
  assert.equal(reads(), 3, 'then every pollMs (jittered) while disconnected');
  await until(() => outcomes.length === 3, 'the third read to be applied');
  await manager.stop();
  assert.deepEqual(clock.pending(), []);
});

test('a minion started with a list gives its connection connectGraceMs, then reads the table (an entirely dead list)', async () => {
  const store = await freshStore();
  const { manager, clock, reads, outcomes } = harness({
    table: store.masters,
    initial: [endpoint('m-dead', '10.9.9.9')],
    connectGraceMs: 5_000,
    random: () => 0.5,
  });
  await store.masters.put(row('m-a', '10.0.0.1', clock.now()));
  manager.start();
  assert.equal(reads(), 0);
  clock.advance(4_999);
  assert.equal(reads(), 0);
  clock.advance(1);
  assert.equal(reads(), 1);
  await until(() => outcomes.length === 1, 'the read to be applied');
  assert.deepEqual(ids(manager.current()), ['m-a']);
  await manager.stop();

  // With connectGraceMs 0 (the standalone command, no connection to wait for) the read is immediate.
  const standalone = harness({ table: store.masters, initial: [endpoint('m-dead')], connectGraceMs: 0 });
  standalone.manager.start();
  standalone.clock.advance(0);
  assert.equal(standalone.reads(), 1);
  await until(() => standalone.outcomes.length === 1, 'the standalone read to be applied');
  await standalone.manager.stop();
});
