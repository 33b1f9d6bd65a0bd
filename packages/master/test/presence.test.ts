import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Presence } from '../src/presence.js';

// One master's view of where the cluster's minions are, fed the cluster's connect and disconnect
// events in the orders two peers' links can deliver them.

const live = new Set(['m1', 'm2', 'm3']);
const dead = new Map<string, number>();

function presence(transitMs = 2_000): Presence {
  return new Presence({
    masterId: 'm2',
    connectedHere: () => false,
    liveMasters: () => live,
    deadSince: (masterId) => dead.get(masterId),
    transitMs,
  });
}

test('a move whose events cross (the new master heard first) leaves the minion on the new master, not connected nowhere', () => {
  // Seen in a chaos run at N = 1,000: a minion connected to m1 (busy: it had just accepted the
  // fleet) and moved to m3 within a second; m2 heard m3's hello first, then m1's late one, then
  // m1's goodbye, and called 33 minions connected nowhere for good: a job skipped them.
  const view = presence(0);
  view.connected('a', 'm3', 1_001);
  view.connected('a', 'm1', 1_000);
  view.disconnected('a', 'm1', true, 10_000);
  assert.equal(view.isConnected('a', 10_000), true);
  view.disconnected('a', 'm3', false, 11_000);
  assert.equal(view.isConnected('a', 11_000), false);
});

test('events in order move the minion; a goodbye counts as connected for the transit time only', () => {
  const view = presence(2_000);
  view.connected('a', 'm1', 1_000);
  view.disconnected('a', 'm1', true, 5_000);
  assert.equal(view.isConnected('a', 6_999), true, 'between masters');
  assert.equal(view.isConnected('a', 7_000), false, 'the transit time is over');
  view.connected('a', 'm3', 1_001);
  assert.equal(view.isConnected('a', 7_000), true);
});

test('a minion that says no hello time (an older minion) is placed by the last event, as before', () => {
  const view = presence(0);
  view.connected('a', 'm3');
  view.connected('a', 'm1');
  view.disconnected('a', 'm1', false, 1);
  assert.equal(view.isConnected('a', 1), false);
});

test('a peer list does not overrule a peer event, but does overrule the table and this master itself', () => {
  const view = presence(0);
  view.connected('a', 'm3', 5);
  view.listedBy('a', 'm1');
  view.disconnected('a', 'm1', false, 1);
  assert.equal(view.isConnected('a', 1), true, 'still on m3');

  view.readFromTable('b', 'm9');
  assert.equal(view.isConnected('b', 1), false, 'm9 is not live');
  view.listedBy('b', 'm1');
  assert.equal(view.isConnected('b', 1), true);

  view.connected('c', 'm2', 3);
  view.listedBy('c', 'm3');
  assert.equal(view.isConnected('c', 1), true, 'its session here ended in a freeze; m3 has it');
});

test('a minion on a master that died counts as connected for the transit time after the death', () => {
  const view = presence(2_000);
  view.connected('a', 'm4', 1);
  dead.set('m4', 10_000);
  assert.equal(view.isConnected('a', 11_999), true);
  assert.equal(view.isConnected('a', 12_000), false);
});
