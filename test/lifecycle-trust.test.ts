import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { eventBridgeAction, hookMessage, snsNotification, strangerId } from './lib/aws-messages.js';
import { startMinionProcess } from './lib/cluster.js';
import { eventsOf, ignoredFor, useLifecycleCluster, type LifecycleCluster } from './lib/lifecycle-cluster.js';

// The queue is not trusted: anyone who can write to it (or a message from another account's rule)
// must not make the reactor accept, highstate or delete anything the Auto Scaling API does not
// confirm. Launching rows are checked against their group after two seconds here.
const cluster = useLifecycleCluster({ reactor: { launchingExpiryMs: 2_000 } });
const work = useTempDir('phoenix-impostors-');
const impostors = useProcesses();

/** Waits until the master has logged `count` ignored messages about `instanceId`. */
function ignored(c: LifecycleCluster, instanceId: string, count: number): Promise<string[]> {
  return waitFor(
    () => {
      const lines = ignoredFor(c.logged(), instanceId);
      return lines.length >= count && lines.map((line) => line.reason ?? '');
    },
    { what: `${count} messages about ${instanceId} ignored`, timeoutMs: 20_000 },
  );
}

/** Scales the minions group by `delta` instances booting `boot`; returns the new ones once held. */
async function launch(c: LifecycleCluster, delta: number, boot: 'minion' | 'nothing'): Promise<string[]> {
  const before = new Set(c.instances('Pending', 'Pending:Wait', 'InService'));
  c.boot = boot;
  c.scale(before.size + delta);
  return waitFor(
    () => {
      const fresh = c.instances('Pending:Wait', 'InService').filter((id) => !before.has(id));
      return fresh.length === delta && fresh;
    },
    { what: `${delta} new instances`, timeoutMs: 30_000 },
  );
}

test('a launch of an instance the group never launched is deleted with a log line, and nothing is done', async () => {
  const c = cluster();
  const id = strangerId();
  const message = { group: c.groups.minions, instanceId: id, transition: 'launching' } as const;
  await c.send(hookMessage(message));
  await c.send(eventBridgeAction(message));
  await c.send(snsNotification('autoscaling:EC2_INSTANCE_LAUNCH', c.groups.minions, id));
  const reasons = await ignored(c, id, 3);
  for (const reason of reasons)
    assert.match(reason, /not in group demo-web-devstack: the Auto Scaling API does not list it/);
  assert.equal(await c.store.minions.get(id), undefined, 'no phantom launching row');
  assert.deepEqual(
    (await c.deadLetters()).filter((body) => body.includes(id)),
    [],
    'not dead-lettered',
  );
});

test('a crafted TERMINATE of a live instance is ignored: its key is kept and it stays in service', async () => {
  const c = cluster();
  const [id] = await launch(c, 1, 'minion');
  assert.ok(id !== undefined);
  await waitFor(async () => (await c.store.minions.get(id))?.lifecycle?.state === 'in-service', {
    what: `${id} in service`,
    timeoutMs: 60_000,
  });
  const message = { group: c.groups.minions, instanceId: id, transition: 'terminating' } as const;
  await c.send(hookMessage(message));
  await c.send(eventBridgeAction(message));
  await c.send(snsNotification('autoscaling:EC2_INSTANCE_TERMINATE', c.groups.minions, id));
  for (const reason of await ignored(c, id, 3))
    assert.match(reason, /is InService in group demo-web-devstack: not a terminate/);
  const row = await c.store.minions.get(id);
  assert.equal(row?.keyState, 'accepted', 'the key is kept');
  assert.equal(row?.lifecycle?.state, 'in-service');
  assert.equal(await c.stateOf(id), 'InService');
  assert.equal(eventsOf(c.logged(), 'key/deleted', id).length, 0);

  // A server outside every group (its key accepted by an operator) cannot be terminated either.
  const outsider = strangerId();
  await c.store.minions.registerKey(outsider, { publicKey: 'pk-outsider', fingerprint: 'fp-outsider' });
  await c.store.minions.setKeyState(outsider, 'pending', 'accepted');
  await c.send(snsNotification('autoscaling:EC2_INSTANCE_TERMINATE', c.groups.minions, outsider));
  assert.match((await ignored(c, outsider, 1))[0] ?? '', /never saw it launch there/);
  assert.equal((await c.store.minions.get(outsider))?.keyState, 'accepted');
});

test('a message about an unknown group is deleted with a log line; only unparseable ones are dead-lettered', async () => {
  const c = cluster();
  const id = strangerId();
  const unknownGroup = hookMessage({ group: 'no-such-group', instanceId: id, transition: 'launching' });
  const unparseable = ['not json', JSON.stringify({ hello: 'world' })];
  await c.send(unknownGroup);
  for (const body of unparseable) await c.send(body);
  assert.match((await ignored(c, id, 1))[0] ?? '', /unknown auto-scaling group "no-such-group"/);
  const dead = new Set<string>();
  await waitFor(
    async () => {
      for (const body of await c.deadLetters()) dead.add(body);
      return unparseable.every((body) => dead.has(body));
    },
    { what: 'the unparseable messages in the dead-letter queue', timeoutMs: 60_000 },
  );
  assert.equal(dead.has(unknownGroup), false, 'the unknown group was not dead-lettered');
});

test('a launching row whose instance never came to be expires; a real instance held in Pending:Wait does not', async () => {
  const c = cluster();
  // A real instance with nothing on it: its launch hook holds it, its row stays launching.
  const [held] = await launch(c, 1, 'nothing');
  assert.ok(held !== undefined);
  const row = await waitFor(async () => (await c.store.minions.get(held))?.lifecycle, {
    what: `${held}'s launching row`,
    timeoutMs: 20_000,
  });
  // A row left launching by an instance that vanished unseen, written once the real one is overdue.
  const launchedAt = row.launchedAt ?? row.updatedAt;
  await waitFor(() => Date.now() > launchedAt + 2_000, { what: 'the held instance overdue', timeoutMs: 10_000 });
  const phantom = strangerId();
  await c.store.minions.setLifecycle(phantom, {
    state: 'launching',
    group: c.groups.minions,
    hookName: `${c.groups.minions}-launching`,
    token: 'token-of-a-vanished-launch',
    launchedAt: Date.now() - 60_000,
  });
  await c.store.minions.registerKey(phantom, { publicKey: 'pk-phantom', fingerprint: 'fp-phantom' });
  await waitFor(
    async () => {
      if (eventsOf(c.logged(), 'lifecycle/expired', phantom).length === 0) return false;
      const gone = await c.store.minions.get(phantom);
      return gone?.lifecycle?.state === 'terminated' && gone.keyState === undefined;
    },
    { what: 'the phantom row expired, its key deleted', timeoutMs: 20_000 },
  );
  assert.equal((await c.store.minions.get(held))?.lifecycle?.state, 'launching', 'the real instance is kept');
  assert.equal(await c.stateOf(held), 'Pending:Wait');
  assert.equal(eventsOf(c.logged(), 'lifecycle/expired', held).length, 0);
});

test('a process claiming a launched id without a valid identity document stays pending', async () => {
  const c = cluster();
  const [first, second] = await launch(c, 2, 'nothing');
  assert.ok(first !== undefined && second !== undefined);
  for (const id of [first, second]) {
    await waitFor(async () => (await c.store.minions.get(id))?.lifecycle?.state === 'launching', {
      what: `${id} launching`,
      timeoutMs: 20_000,
    });
  }
  const target = [{ id: c.master.id, ports: c.master.ports }];
  // One with no document at all; one with the genuine document of another instance.
  await startMinionProcess(c.devstack, work(), impostors, first, target);
  await startMinionProcess(c.devstack, work(), impostors, second, target, {
    identityDocument: c.identities.get(first),
  });
  const refusals = await waitFor(
    () => {
      const found = c
        .logged()
        .filter((e) => e.event === 'key/refused' && (e.minionId === first || e.minionId === second));
      return new Set(found.map((e) => e.minionId)).size === 2 && found;
    },
    { what: 'both impostors refused', timeoutMs: 20_000 },
  );
  assert.match(refusals.find((e) => e.minionId === first)?.reason ?? '', /no identity document/);
  assert.match(refusals.find((e) => e.minionId === second)?.reason ?? '', /instance|match/i);
  for (const id of [first, second]) assert.equal((await c.store.minions.get(id))?.keyState, 'pending');
});
