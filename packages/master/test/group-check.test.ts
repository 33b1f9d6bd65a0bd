import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MinionRecord } from '@phoenix/store';
import { checkAgainstGroup, type ListedInstance } from '../src/reactor/group-check.js';
import { launchOverdue } from '../src/reactor/reactor.js';

const message = { group: 'web-prod-useast1', instanceId: 'i-0123456789abcdef0' };
const listed = (state: string, group = message.group): ListedInstance => ({ group, state });
const verdict = (...args: Parameters<typeof checkAgainstGroup>): string => {
  const check = checkAgainstGroup(...args);
  return check.ok ? 'ok' : check.reason;
};

test('a launch is acted on only for an instance the group has, joining it or already in service', () => {
  for (const state of ['Pending', 'Pending:Wait', 'Pending:Proceed', 'InService'])
    assert.equal(verdict('launch', message, listed(state), undefined), 'ok', state);
  assert.match(verdict('launch', message, undefined, undefined), /not in group web-prod-useast1.*does not list it/);
  assert.match(
    verdict('launch', message, listed('Pending:Wait', 'other-group'), undefined),
    /belongs to group other-group/,
  );
  assert.match(verdict('launch', message, listed('Terminating:Wait'), undefined), /is Terminating:Wait.*not a launch/);
  assert.match(verdict('launch', message, listed('Warmed:Stopped'), undefined), /not a launch/);
});

test('a termination is believed only of an instance leaving the group, or gone from the group it launched in', () => {
  for (const state of ['Terminating', 'Terminating:Wait', 'Terminating:Proceed', 'Warmed:Terminating:Wait'])
    assert.equal(verdict('terminate', message, listed(state), undefined), 'ok', state);
  assert.equal(verdict('terminate', message, undefined, message.group), 'ok', 'terminated before the message was read');
  // The crafted TERMINATE: a live instance, or one Phoenix never saw in that group.
  assert.match(verdict('terminate', message, listed('InService'), message.group), /is InService.*not a terminate/);
  assert.match(verdict('terminate', message, listed('Pending:Wait'), message.group), /not a terminate/);
  assert.match(verdict('terminate', message, undefined, undefined), /never saw it launch there/);
  assert.match(verdict('terminate', message, undefined, 'another-group'), /never saw it launch there/);
});

test('warm pools: into the pool and back to it only for an instance the pool holds', () => {
  for (const state of ['Warmed:Pending', 'Warmed:Pending:Wait', 'Warmed:Stopped', 'Warmed:Running']) {
    assert.equal(verdict('warm', message, listed(state), undefined), 'ok', state);
    assert.equal(verdict('return-to-pool', message, listed(state), message.group), 'ok', state);
  }
  assert.match(verdict('warm', message, listed('Pending:Wait'), undefined), /not a warm/);
  assert.match(verdict('return-to-pool', message, listed('InService'), message.group), /not a return-to-pool/);
  assert.match(verdict('return-to-pool', message, undefined, message.group), /does not list it/);
});

test('a launching row is overdue only after the expiry, and only while it is still launching', () => {
  const row = (state: string, launchedAt?: number): MinionRecord =>
    ({
      minionId: message.instanceId,
      lifecycle: { state, group: message.group, updatedAt: 500, ...(launchedAt === undefined ? {} : { launchedAt }) },
    }) as MinionRecord;
  assert.equal(launchOverdue(row('launching', 1_000), 60_999, 60_000), false);
  assert.equal(launchOverdue(row('launching', 1_000), 61_000, 60_000), true);
  assert.equal(launchOverdue(row('warming', 1_000), 61_000, 60_000), true);
  assert.equal(launchOverdue(row('launching'), 60_500, 60_000), true, 'without launchedAt, from its last update');
  for (const state of ['warmed', 'in-service', 'terminating', 'terminated'])
    assert.equal(launchOverdue(row(state, 1_000), 10_000_000, 60_000), false, state);
  assert.equal(launchOverdue({ minionId: 'x' }, 10_000_000, 60_000), false, 'a row with no lifecycle');
});
