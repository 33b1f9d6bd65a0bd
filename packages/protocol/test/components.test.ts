import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startComponents, type Component } from '../src/components.js';

/** Components that write what happens to them into `calls`. */
function parts(names: readonly string[], calls: string[], failing: Partial<Record<string, 'start' | 'stop'>> = {}) {
  return names.map((name): Component => ({
    name,
    start: async () => {
      calls.push(`start ${name}`);
      if (failing[name] === 'start') throw new Error(`${name} cannot start`);
    },
    stop: async () => {
      calls.push(`stop ${name}`);
      if (failing[name] === 'stop') throw new Error(`${name} cannot stop`);
    },
  }));
}

const quiet = { warn: () => undefined };

test('components start in order and stop in reverse, once', async () => {
  const calls: string[] = [];
  const started = await startComponents(parts(['a', 'b', 'c'], calls), quiet);
  assert.deepEqual(calls, ['start a', 'start b', 'start c']);
  calls.length = 0;
  await started.stop();
  await started.stop();
  assert.deepEqual(calls, ['stop c', 'stop b', 'stop a']);
});

test('a part that fails to start stops itself and those before it, last first, and its error is thrown', async () => {
  const calls: string[] = [];
  const warnings: unknown[] = [];
  await assert.rejects(
    startComponents(parts(['a', 'b', 'c', 'd'], calls, { c: 'start' }), { warn: (facts) => warnings.push(facts) }),
    /c cannot start/,
  );
  assert.deepEqual(calls, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  assert.deepEqual(
    warnings.map((w) => (w as { component: string }).component),
    ['c'],
  );
});

test('a part that fails to stop is logged, the others still stop, and its error is thrown at the end', async () => {
  const calls: string[] = [];
  const warnings: string[] = [];
  const started = await startComponents(parts(['a', 'b', 'c'], calls, { b: 'stop' }), {
    warn: (facts, message) => warnings.push(`${(facts as { component: string }).component}: ${message}`),
  });
  calls.length = 0;
  await assert.rejects(started.stop(), /b cannot stop/);
  assert.deepEqual(calls, ['stop c', 'stop b', 'stop a']);
  assert.deepEqual(warnings, ['b: stop failed']);
});

test('parts without a start or a stop are passed over', async () => {
  const calls: string[] = [];
  const started = await startComponents(
    [
      { name: 'clients', stop: () => void calls.push('stop clients') },
      { name: 'loader', start: () => void calls.push('start loader') },
    ],
    quiet,
  );
  await started.stop();
  assert.deepEqual(calls, ['start loader', 'stop clients']);
});
