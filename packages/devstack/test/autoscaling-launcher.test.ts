import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { PlaceholderLauncher } from '../src/autoscaling/index.js';
import { isRunning, stopProcess, waitFor } from '../src/testing.js';

const request = {
  instanceId: 'i-0123456789abcdef0',
  groupName: 'demo-web-test',
  identity: { document: '{}', signature: '' },
  privateIp: '10.0.0.4',
  availabilityZone: 'us-east-1a',
};

test('a placeholder instance is a real process that stop() ends, once however often it is asked', async () => {
  const instance = await new PlaceholderLauncher().launch(request);
  assert.ok(instance.pid !== undefined && (await isRunning(instance.pid)));
  await Promise.all([instance.stop(), instance.stop()]);
  assert.equal(await isRunning(instance.pid), false);
  await instance.stop();
});

test('a placeholder instance does not outlive a parent killed with SIGKILL', async (t) => {
  // A parent that launches one placeholder, prints its pid and idles until killed.
  const launcherUrl = new URL('../src/autoscaling/launcher.js', import.meta.url).href;
  const script = `
    const { PlaceholderLauncher } = await import(${JSON.stringify(launcherUrl)});
    const instance = await new PlaceholderLauncher().launch(${JSON.stringify(request)});
    console.log(instance.pid);
    setInterval(() => undefined, 60_000);`;
  const parent = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => stopProcess(parent));
  const [line] = (await once(parent.stdout, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  assert.ok(Number.isInteger(pid) && (await isRunning(pid)), `placeholder ${pid} runs`);

  parent.kill('SIGKILL');
  await waitFor(async () => !(await isRunning(pid)), {
    what: `placeholder ${pid} to exit after its parent died`,
    timeoutMs: 5_000,
  });
});
