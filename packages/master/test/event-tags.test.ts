import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tagProblem, taggedEvent } from '../src/event-tags.js';

const event = (tag: string, data: Record<string, unknown>) => ({ id: 'e1', tag, at: 0, masterId: 'm1', data });

test("the cluster's events as Salt-style tags, with Salt's id in their data", () => {
  assert.deepEqual(taggedEvent(event('minion/connected', { minionId: 'web-1' })), {
    tag: 'phoenix/minion/web-1/start',
    data: { minionId: 'web-1', id: 'web-1', master: 'm1' },
  });
  assert.equal(
    taggedEvent(event('highstate/finished', { minionId: 'i-1', result: 'failure' }))?.tag,
    'phoenix/highstate/i-1/failed',
  );
  assert.equal(taggedEvent(event('job/return', { minionId: 'web-1', jid: '1' }))?.tag, 'phoenix/job/1/ret/web-1');
  // Key changes are spoken for by the master that made them only.
  assert.equal(taggedEvent(event('key/changed', { minionId: 'web-1', to: 'accepted', local: false })), undefined);
  assert.equal(
    taggedEvent(event('key/changed', { minionId: 'web-1', to: 'accepted', local: true }))?.tag,
    'phoenix/key/web-1/accepted',
  );
  // A minion's own event: its tag, its data, its id stamped by the master.
  assert.deepEqual(
    taggedEvent(event('minion/event', { minionId: 'web-1', tag: 'app/up', data: { v: 1, id: 'forged' } })),
    {
      tag: 'app/up',
      data: { v: 1, id: 'web-1' },
    },
  );
  assert.equal(taggedEvent(event('schedule/fired', {})), undefined);
});

test("a rule's tag: any tag of a minion's own, and in phoenix/ only one the cluster emits", () => {
  for (const ok of [
    'phoenix/minion/*/start',
    'phoenix/*',
    'phoenix/minion/web-*/start',
    'phoenix/job/*/ret/*',
    'myapp/deploy/*',
    '*',
  ])
    assert.equal(tagProblem(ok), undefined, ok);
  for (const bad of ['phoenix/minoin/*/start', 'phoenix/minion/*/stop', 'phoenix/key/*/eaten', 'has space', ''])
    assert.notEqual(tagProblem(bad), undefined, bad);
});
