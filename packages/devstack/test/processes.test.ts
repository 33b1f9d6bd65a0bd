import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { isRunning, stopPid } from '../src/processes.js';

/** A node process that says when it is ready; `ignoreTerm` makes it shrug SIGTERM off. */
async function start(ignoreTerm: boolean) {
  const script = `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => {}, 1000); console.log('ready');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  return child;
}

test('stopPid ends a process by its pid: SIGTERM when that is enough, SIGKILL after the grace when not', async () => {
  const polite = await start(false);
  const stubborn = await start(true);
  try {
    assert.equal(await stopPid(polite.pid as number, 5_000), 'stopped');
    assert.equal(await isRunning(polite.pid as number), false);
    assert.equal(await stopPid(stubborn.pid as number, 200), 'killed');
    assert.equal(await isRunning(stubborn.pid as number), false);
    assert.equal(await stopPid(stubborn.pid as number, 200), 'stopped', 'a process already gone is stopped');
  } finally {
    polite.kill('SIGKILL');
    stubborn.kill('SIGKILL');
  }
});
