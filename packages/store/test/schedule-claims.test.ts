import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { scheduleClaimKey } from '../src/index.js';
import { startStore } from './local-dynamodb.js';

const TICK = Date.parse('2030-05-02T10:00:02Z');

let env: Awaited<ReturnType<typeof startStore>>;
before(async () => {
  env = await startStore('claims-test');
});
after(() => env.close());

test('a tick is claimed once: of many masters racing for it exactly one wins, and the claim says who', async () => {
  const masters = Array.from({ length: 8 }, (_, i) => `m-${i}`);
  const results = await Promise.all(masters.map((m) => env.store.scheduleClaims.claim('highstate', TICK, m, TICK + 5)));
  assert.equal(results.filter(Boolean).length, 1);
  const winner = masters[results.indexOf(true)];
  const claim = await env.store.scheduleClaims.get('highstate', TICK);
  assert.equal(claim?.claimedBy, winner);
  assert.equal(claim?.tickAt, TICK);
  assert.equal(claim?.schedule, 'highstate');
  // Kept as long as jobs are (one day by default), for AWS's TTL to clean up.
  assert.equal(claim?.expiresAt, Math.floor((TICK + 86_400_000) / 1000));
  // The winner asking again (a retry) does not win it twice.
  assert.equal(await env.store.scheduleClaims.claim('highstate', TICK, winner as string), false);
});

test('the next tick, and another entry on the same tick, are separate claims', async () => {
  assert.equal(await env.store.scheduleClaims.claim('highstate', TICK + 2_000, 'm-1'), true);
  assert.equal(await env.store.scheduleClaims.claim('ping', TICK, 'm-2'), true);
  assert.equal(await env.store.scheduleClaims.claim('ping', TICK, 'm-1'), false);
});

test('claims share the jobs table but never show as jobs, and their keys cannot be jids', async () => {
  assert.equal(scheduleClaimKey('highstate', TICK), 'schedule#highstate#2030-05-02T10:00:02.000Z');
  assert.doesNotMatch(scheduleClaimKey('highstate', TICK), /^\d{20}$/);
  const listed = await env.store.jobs.listRecent({ now: TICK });
  assert.deepEqual(listed.items, []);
});

test('a reaction is claimed once per event and rule, whichever masters hear the event', async () => {
  const masters = ['m-1', 'm-2', 'm-3'];
  const won = await Promise.all(
    masters.map((m) => env.store.reactionClaims.claim('ev-1', 'on-start', 'phoenix/minion/web-1/start', m, TICK)),
  );
  assert.equal(won.filter(Boolean).length, 1);
  assert.equal((await env.store.reactionClaims.get('ev-1', 'on-start'))?.claimedBy, masters[won.indexOf(true)]);
  // Another rule, or another event, is a claim of its own.
  assert.equal(await env.store.reactionClaims.claim('ev-1', 'other', 'phoenix/minion/web-1/start', 'm-2', TICK), true);
  assert.equal(
    await env.store.reactionClaims.claim('ev-2', 'on-start', 'phoenix/minion/web-1/start', 'm-3', TICK),
    true,
  );
  assert.deepEqual((await env.store.jobs.listRecent({ now: TICK })).items, []);
});
