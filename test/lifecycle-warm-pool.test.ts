import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@phoenix/devstack/testing';
import type { MinionRecord } from '@phoenix/store';
import { eventsOf, useLifecycleCluster } from './lib/lifecycle-cluster.js';

// A minions group with a warm pool of one (stopped instances, reused on scale-in), and the
// warm-pool highstate on. The hooks' default result is CONTINUE after 300 s, so every move within
// the bounds below was completed by the reactor.
const cluster = useLifecycleCluster({
  devstack: {
    hookTimeoutSeconds: 300,
    groups: { minions: { name: 'demo-web-devstack', desired: 0, warmPool: { minSize: 1, reuseOnScaleIn: true } } },
  },
  minionsGroup: { warmPoolHighstate: true },
});

/** The instance that is (or was first) in the pool. */
async function pooled(): Promise<string> {
  return waitFor(() => cluster().instances('Warmed:Stopped')[0], {
    what: 'a prepared instance stopped in the warm pool',
    timeoutMs: 90_000,
    intervalMs: 250,
  });
}

/** The row once the reactor has marked it in service (just after Auto Scaling has). */
function inService(id: string): Promise<MinionRecord> {
  return waitFor(
    async () => {
      const row = await cluster().store.minions.get(id);
      return row?.lifecycle?.state === 'in-service' && row;
    },
    { what: `${id}'s row in service`, timeoutMs: 10_000 },
  );
}

test('an instance entering the warm pool is prepared there and never marked in service', async () => {
  const c = cluster();
  const id = await pooled();
  const row = await c.store.minions.get(id);
  assert.equal(row?.lifecycle?.state, 'warmed', 'prepared, in the pool');
  assert.equal(row?.keyState, 'accepted', 'its key was accepted in the pool');
  assert.equal(row?.highstate?.result, 'success', 'its warm-pool highstate ran');
  const lines = c.logged();
  assert.deepEqual(
    eventsOf(lines, 'lifecycle/completed', id).map((e) => e.action),
    ['CONTINUE'],
  );
  assert.equal(eventsOf(lines, 'lifecycle/launching', id).length, 0, 'not launched into service');
});

test('scale-out takes it from the pool through the in-service path: a highstate of its own, then CONTINUE', async () => {
  const c = cluster();
  const id = await pooled();
  const before = await c.store.minions.get(id);
  c.scale(1);
  await waitFor(async () => (await c.stateOf(id)) === 'InService', {
    what: `${id} out of the pool and into service`,
    timeoutMs: 90_000,
    intervalMs: 250,
  });
  const row = await inService(id);
  assert.equal(row.fingerprint, before?.fingerprint, 'the same key');
  assert.equal(row.highstate?.result, 'success');
  assert.notEqual(row.highstate?.jid, before?.highstate?.jid, 'a first highstate in service, not the warm one');
  assert.equal(eventsOf(c.logged(), 'lifecycle/left-warm-pool', id).length, 1);
});

test('scale-in returns it to the pool with its key; leaving again runs its in-service highstate again', async () => {
  const c = cluster();
  c.scale(1);
  const id = await waitFor(() => c.instances('InService')[0], { what: 'an instance in service', timeoutMs: 90_000 });
  const first = await inService(id);
  c.scale(0);
  await waitFor(async () => (await c.stateOf(id)) === 'Warmed:Stopped', {
    what: `${id} back in the pool`,
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  const back = await c.store.minions.get(id);
  assert.equal(back?.lifecycle?.state, 'warmed');
  assert.equal(back?.keyState, 'accepted', 'an instance back in the pool keeps its key');
  assert.equal(back?.fingerprint, first.fingerprint);

  c.scale(1);
  await waitFor(async () => (await c.stateOf(id)) === 'InService', {
    what: `${id} in service again`,
    timeoutMs: 90_000,
    intervalMs: 250,
  });
  const again = await inService(id);
  assert.notEqual(again.highstate?.jid, first.highstate?.jid, 'its in-service highstate ran again');
  assert.equal(again.keyState, 'accepted');
});
