import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMasterMessage,
  decodePeerMessage,
  disabledSkipReason,
  encodeMessage,
  skipsDisabledMinions,
  STATE_RUNS_DISABLED_GRAIN,
  stateRunsDisabled,
  type MasterMessage,
  type PeerMessage,
} from '../src/index.js';

const JID = '20261124213022123456';

test('the state_runs_disabled grain says who disabled a minion; absent or null means allowed', () => {
  const value = { by: 'alice', at: '2030-01-02T03:04:05.000Z', reason: 'disk errors' };
  assert.deepEqual(stateRunsDisabled({ os: 'Debian', [STATE_RUNS_DISABLED_GRAIN]: value }), value);
  assert.equal(stateRunsDisabled({ os: 'Debian' }), undefined);
  assert.equal(stateRunsDisabled({ [STATE_RUNS_DISABLED_GRAIN]: null }), undefined);
  // Set by hand in another shape: still disabled, and the value is shown as the reason.
  assert.deepEqual(stateRunsDisabled({ [STATE_RUNS_DISABLED_GRAIN]: ['highstate'] }), {
    by: 'unknown',
    at: 'unknown',
    reason: '["highstate"]',
  });
  assert.equal(disabledSkipReason(value), 'state runs disabled by alice at 2030-01-02T03:04:05.000Z: disk errors');
});

test('only state runs that act skip disabled minions; test=True and other functions do not', () => {
  for (const fun of ['state.highstate', 'state.apply', 'state.sls', 'state.sls_id', 'state.single']) {
    assert.equal(skipsDisabledMinions(fun, {}), true, fun);
    assert.equal(skipsDisabledMinions(fun, { test: false }), true, fun);
    assert.equal(skipsDisabledMinions(fun, { test: 'False' }), true, fun);
    for (const test of [true, 'True', 'true', '1', 'yes']) assert.equal(skipsDisabledMinions(fun, { test }), false);
  }
  for (const fun of ['test.ping', 'cmd.run', 'state.enable', 'state.disable', 'state.show_sls', 'grains.items']) {
    assert.equal(skipsDisabledMinions(fun, {}), false, fun);
  }
});

test('a job may carry a splay to minions and between masters; a negative or fractional one is refused', () => {
  const job: MasterMessage = { v: 1, t: 'job', jid: JID, fun: 'state.highstate', args: [], kwargs: {}, splayMs: 5000 };
  assert.deepEqual(decodeMasterMessage(encodeMessage(job)), { ok: true, message: job });
  const peer: PeerMessage = { ...job, t: 'peer-job', from: 'm-1', expected: ['web-1'] };
  assert.deepEqual(decodePeerMessage(encodeMessage(peer)), { ok: true, message: peer });
  for (const splayMs of [-1, 1.5, 86_400_001]) {
    const bad = decodeMasterMessage(encodeMessage({ ...job, splayMs }));
    assert.equal(bad.ok, false, String(splayMs));
    if (!bad.ok) assert.match(bad.reason, /splayMs/);
  }
});
