import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from 'zeromq';
import pino from 'pino';
import { generateCurveKeyPair, ManualClock, messageKey } from '@phoenix/protocol';
import { Enrolment } from '../src/connection/enrolment.js';
import type { SocketSettings } from '../src/connection/master-socket.js';

// How long an enrolment waits for a master that takes its connection but never answers, judged on
// the enrolment's clock, against a real CURVE router on loopback.

test('an enrolment a connected master never answers is given up when its clock says so, not the wall', async () => {
  const cluster = generateCurveKeyPair();
  const minionKeys = generateCurveKeyPair();
  const clock = new ManualClock();
  const settings: SocketSettings = {
    clusterPublicKey: cluster.publicKey,
    keyPair: minionKeys,
    messageKey: messageKey(minionKeys.secretKey, cluster.publicKey),
    log: pino({ level: 'silent' }),
    clock,
  };
  const router = new Router({ curveServer: true, curveSecretKey: cluster.secretKey, linger: 0 });
  await router.bind('tcp://127.0.0.1:*');
  const port = Number(/:(\d+)$/.exec(router.lastEndpoint ?? '')?.[1]);
  let asked = 0;
  void (async () => {
    try {
      for await (const _frames of router) asked++; // takes every enrolment, answers none
    } catch {
      // closed
    }
  })();
  const answerMs = 100;
  const waitMs = 200;
  const enrolment = new Enrolment(settings, { id: 'm1', host: '127.0.0.1', port, enrolPort: port });
  let outcome: string | undefined;
  const run = enrolment
    .run({ id: 'web-1', grains: {}, answerMs, waitMs, onWaiting: () => undefined }, minionKeys.publicKey)
    .then((o) => (outcome = o));
  try {
    // The enrolment reached the master (bounded wait for the condition).
    for (let i = 0; i < 200 && asked === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(asked, 1, 'the master got the enrolment');
    // Three times the allowance of wall time, the clock standing still: still waiting.
    await new Promise((r) => setTimeout(r, (answerMs + waitMs) * 3));
    assert.equal(outcome, undefined);
    clock.advance(answerMs + waitMs);
    assert.equal(await run, 'unreachable');
  } finally {
    enrolment.close();
    router.close();
  }
});
