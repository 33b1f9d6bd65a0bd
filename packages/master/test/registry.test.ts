import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { ManualClock } from '@phoenix/protocol';
import type { NewMaster, Store } from '@phoenix/store';
import { MasterRegistry } from '../src/registry.js';
import { startLocalStore } from './local-store.js';

// A master's view of the masters table, through one real (local) DynamoDB, on a clock the test
// moves: what it tells a minion that connects between two reads of the table.

let local: Awaited<ReturnType<typeof startLocalStore>>;
let store: Store;
before(async () => {
  local = await startLocalStore('registry-test');
  store = local.store;
});
after(() => local.close());

const row = (masterId: string, port: number): Omit<NewMaster, 'heartbeatAt' | 'minionCount' | 'status'> => ({
  masterId,
  host: '127.0.0.1',
  ports: { minion: port, enrol: port + 1, peer: port + 2, api: port + 3 },
  startedAt: 1_700_000_000_000,
  version: 'test',
});

test('a minion that connects between two reads of the table is told the list the last change announced, so the next change reaches it', async () => {
  const clock = new ManualClock();
  const deadAfterMs = 2_000;
  const registry = new MasterRegistry({
    store,
    minionCount: () => 0,
    // No heartbeat timer fires during the test: each read of the table is the test's own.
    heartbeatMs: 3_600_000,
    deadAfterMs,
    clock,
    log: pino({ level: 'silent' }),
  });
  const names = (masters: readonly { masterId: string }[]): string[] => masters.map((m) => m.masterId);
  const announced: string[][] = [];
  registry.onChange((live) => announced.push(names(live)));
  await store.masters.put({ ...row('m2', 7100), status: 'active', heartbeatAt: clock.now(), minionCount: 0 });
  await registry.start(row('m1', 7000));
  try {
    assert.deepEqual(announced, [['m1', 'm2']]);
    assert.deepEqual(names(registry.announced()), ['m1', 'm2']);
    // m2 freezes. Before this master's next read, m2's heartbeat is past deadAfter: a list made from
    // the clock now would leave m2 out, and no change would ever put it back once m2 beats again.
    clock.advance(deadAfterMs + 100);
    assert.deepEqual(names(registry.announced()), ['m1', 'm2'], 'a minion connecting now is told what was announced');
    // m2 thaws and beats before the next read: nothing changed, and nothing is announced.
    await store.masters.heartbeat('m2', { minionCount: 0 }, clock.now());
    await registry.refresh();
    assert.deepEqual(announced, [['m1', 'm2']]);
    assert.deepEqual(names(registry.announced()), ['m1', 'm2']);
    // m2 freezes for good: the next read finds it dead, says so, and a connecting minion hears the same.
    clock.advance(deadAfterMs + 100);
    await registry.refresh();
    assert.deepEqual(announced, [['m1', 'm2'], ['m1']]);
    assert.deepEqual(names(registry.announced()), ['m1']);
  } finally {
    await registry.stop();
  }
});
