import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBusyRefusal } from '../src/reactor/highstate.js';

test('Salt’s “already running” answer is told apart from a failed highstate', () => {
  const busy = [
    'The function "state.highstate" is running as PID 4242 and was started at 2030, Jun 01 12:00:00.000123 with jid 20300601120000000123',
  ];
  assert.equal(isBusyRefusal({ retcode: 1, ret: busy }), true);
  // A highstate that ran and failed: a state result dictionary, or an error in words.
  assert.equal(isBusyRefusal({ retcode: 2, ret: { 'cmd_|-x_|-false_|-run': { result: false } } }), false);
  assert.equal(isBusyRefusal({ retcode: 1, ret: ['Rendering SLS "base:web" failed: line 3'] }), false);
  assert.equal(isBusyRefusal({ retcode: 0, ret: busy }), false);
  assert.equal(isBusyRefusal({ retcode: 1, ret: [...busy, 'another line'] }), false);
});
