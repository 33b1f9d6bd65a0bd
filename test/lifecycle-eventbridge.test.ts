import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '@phoenix/devstack/testing';
import { eventsOf, useLifecycleCluster } from './lib/lifecycle-cluster.js';

// Lifecycle hooks without a queue of their own: Auto Scaling's events reach the lifecycle queue
// through an EventBridge rule (source aws.autoscaling, target the queue), AWS's event-bus route.
// The hooks' default result is CONTINUE after 300 s: an instance in service within the bounds
// below was continued by the reactor, not by the timeout.
const cluster = useLifecycleCluster({ devstack: { lifecycleDelivery: 'eventbridge', hookTimeoutSeconds: 300 } });

test('an instance whose launch action arrives through EventBridge is accepted, highstated and continued', async () => {
  const c = cluster();
  c.scale(1);
  const [id] = await waitFor(() => c.instances('Pending:Wait').length === 1 && c.instances('Pending:Wait'), {
    what: 'an instance held by its launch hook',
    timeoutMs: 30_000,
  });
  assert.ok(id !== undefined);
  await waitFor(async () => (await c.stateOf(id)) === 'InService', {
    what: `${id} continued into service by the reactor`,
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  const lines = c.logged();
  assert.equal(eventsOf(lines, 'key/accepted', id).length, 1, 'its key was accepted');
  assert.equal(eventsOf(lines, 'highstate/finished', id)[0]?.result, 'success');
  assert.deepEqual(
    eventsOf(lines, 'lifecycle/completed', id).map((e) => e.action),
    ['CONTINUE'],
  );
  const row = await c.store.minions.get(id);
  assert.equal(row?.lifecycle?.state, 'in-service');
  assert.deepEqual(await c.deadLetters(), [], 'nothing went to the dead-letter queue');
});

test('scale-in through EventBridge: the terminate action deletes the key, then continues', async () => {
  const c = cluster();
  c.scale(1);
  const id = await waitFor(() => c.instances('InService')[0], { what: 'an instance in service', timeoutMs: 90_000 });
  await waitFor(async () => (await c.store.minions.get(id))?.keyState === 'accepted', {
    what: `${id}'s key accepted`,
    timeoutMs: 30_000,
  });
  c.scale(0);
  await waitFor(async () => (await c.stateOf(id)) === undefined, {
    what: `${id} terminated`,
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  const row = await c.store.minions.get(id);
  assert.equal(row?.keyState, undefined, 'its key is gone');
  assert.equal(row?.lifecycle?.state, 'terminated');
  assert.ok(
    eventsOf(c.logged(), 'lifecycle/terminating', id).length >= 1,
    'the terminate action was handled, not its timeout',
  );
  assert.deepEqual(await c.deadLetters(), []);
});
