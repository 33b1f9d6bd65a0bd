import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Executor } from '../src/executor/executor.js';
import { splayDelay } from '../src/executor/splay.js';
import { GrainStore } from '../src/grains/index.js';

const bounded = { timeout: 20_000 };

test('a splay delay is a whole number of milliseconds in [0, splay], whatever the random source says', () => {
  assert.equal(
    splayDelay(0, () => 0.7),
    0,
  );
  assert.equal(
    splayDelay(-5, () => 0.7),
    0,
  );
  assert.equal(
    splayDelay(Number.NaN, () => 0.7),
    0,
  );
  assert.equal(
    splayDelay(1000, () => 0),
    0,
  );
  assert.equal(
    splayDelay(1000, () => 0.5),
    500,
  );
  assert.equal(
    splayDelay(1000, () => 0.9999999),
    1000,
  );
  assert.equal(
    splayDelay(1000, () => 1),
    1000,
    'a source that returns 1 is clamped',
  );
  assert.equal(
    splayDelay(1000, () => -3),
    0,
  );
  for (let i = 0; i < 1000; i++) {
    const delay = splayDelay(250);
    assert.ok(Number.isInteger(delay) && delay >= 0 && delay <= 250, String(delay));
  }
});

let cacheDir: string;
let random = 0;
let executor: Executor;
before(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'phoenix-splay-'));
  const grains = await GrainStore.open({ core: { id: 'splay-1' }, cacheDir });
  executor = new Executor({
    minionId: 'splay-1',
    grains,
    logger: pino({ level: 'silent' }),
    cacheDir,
    version: '0.0.0-test',
    random: () => random,
  });
});
after(async () => {
  await executor.killAll();
  await rm(cacheDir, { recursive: true, force: true });
});

let sequence = 0;
const nextJid = (): string => String(20240301000000000000n + BigInt(++sequence));

test('a splayed job waits its delay, then runs; no splay runs at once', bounded, async () => {
  random = 0.5;
  const started = performance.now();
  const outcome = await executor.run({ jid: nextJid(), fun: 'test.ping', args: [], kwargs: {}, splayMs: 600 });
  const waited = performance.now() - started;
  assert.equal(outcome.ret, true);
  assert.ok(waited >= 280, `waited ${waited} ms for a 300 ms splay`);
  const quick = performance.now();
  await executor.run({ jid: nextJid(), fun: 'test.ping', args: [], kwargs: {} });
  assert.ok(performance.now() - quick < 250);
});

test('a job killed while it waits out its splay returns at once, and never runs', bounded, async () => {
  random = 0.99;
  const jid = nextJid();
  const pending = executor.run({ jid, fun: 'grains.setval', args: ['ran', true], kwargs: {}, splayMs: 60_000 });
  assert.equal(executor.isRunning(jid), true, 'a waiting job is listed as running (saltutil.running)');
  const started = performance.now();
  assert.equal(executor.kill(jid), true);
  const outcome = await pending;
  assert.equal(outcome.success, false);
  assert.match(String(outcome.ret), /killed/i);
  assert.ok(performance.now() - started < 1_000);
  const grains = await executor.run({ jid: nextJid(), fun: 'grains.items', args: [], kwargs: {} });
  assert.equal((grains.ret as Record<string, unknown>).ran, undefined);
});

test("the job's timeout counts from the end of its splay", bounded, async () => {
  random = 0.99;
  // A 400 ms splay and a 300 ms timeout: the sleep of 0.1 s still finishes.
  const outcome = await executor.run({
    jid: nextJid(),
    fun: 'test.sleep',
    args: [0.1],
    kwargs: {},
    splayMs: 400,
    timeoutMs: 300,
  });
  assert.equal(outcome.success, true, JSON.stringify(outcome.ret));
});
