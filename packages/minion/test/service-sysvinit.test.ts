import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalRoots } from '@phoenix/state';
import type { StateResult } from '@phoenix/state';
import { createTestExecutor } from '../src/executor/testing.js';
import type { TestExecutor } from '../src/executor/testing.js';
import { createModuleRegistry } from '../src/modules/index.js';
import type { Commands } from '../src/modules/commands.js';
import { createServiceModule } from '../src/modules/service.js';
import { hostServices } from '../src/modules/host-services.js';
import { sysvinitServices } from '../src/modules/sysvinit.js';
import { createStateModule } from '../src/state/index.js';
import { serviceStates } from '../src/state/functions/service.js';
import { testStates } from '../src/state/functions/test.js';
import { createStateSandbox } from '../src/state/testing.js';
import type { StateSandbox } from '../src/state/testing.js';

/*
 * A Debian host without systemd (a container, say): as Salt's debian_service, the service module and
 * states use the init scripts through `service` and update-rc.d. Fake tools stand in for them (and
 * for a systemctl whose systemd is offline); the init scripts live in the fakes' own directory.
 */

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/states/', import.meta.url));
const bounded = { timeout: 60_000 };

let sandbox: StateSandbox;
let env: TestExecutor;
let roots: string;
let sequence = 0;

before(async () => {
  sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
  for (const tool of await readdir(join(FIXTURES, 'fakes-sysvinit'))) {
    await copyFile(join(FIXTURES, 'fakes-sysvinit', tool), join(sandbox.dir, 'fake-bin', tool));
    await chmod(join(sandbox.dir, 'fake-bin', tool), 0o755);
  }
  await mkdir(join(sandbox.fakeState, 'etc', 'init.d'), { recursive: true });
  for (const name of ['nginx', 'cron']) await writeFile(join(sandbox.fakeState, 'etc', 'init.d', name), '#!/bin/sh\n');
  const dirs = { initDir: join(sandbox.fakeState, 'etc', 'init.d'), rcDir: join(sandbox.fakeState, 'etc') };
  const manager = (commands: Commands) => hostServices(commands, (c) => sysvinitServices(c, dirs));
  const commandEnv = { ...sandbox.env, PHOENIX_FAKE_SYSTEMD: 'offline' };
  roots = join(sandbox.dir, 'file_roots');
  await mkdir(roots);
  env = await createTestExecutor({
    modules: createModuleRegistry([
      createServiceModule({ root: sandbox.root, commandEnv }, manager),
      createStateModule({
        files: new LocalRoots({ base: [roots] }),
        root: sandbox.root,
        commandEnv,
        stateModules: [serviceStates(manager), testStates],
      }),
    ]),
  });
});

after(async () => {
  await env.close();
  await sandbox.close();
});

async function call(fun: string, ...args: unknown[]): Promise<unknown> {
  return (await env.executor.run({ jid: String(20250601000000000000n + BigInt(++sequence)), fun, args, kwargs: {} }))
    .ret;
}

async function apply(sls: string, test = false): Promise<Record<string, StateResult>> {
  const name = `s${++sequence}`;
  await writeFile(join(roots, `${name}.sls`), sls);
  const ret = (
    await env.executor.run({
      jid: String(20250601000000000000n + BigInt(++sequence)),
      fun: 'state.sls',
      args: [name],
      kwargs: test ? { test: true } : {},
    })
  ).ret;
  assert.ok(ret && typeof ret === 'object' && !Array.isArray(ret), JSON.stringify(ret));
  const byId: Record<string, StateResult> = {};
  for (const result of Object.values(ret as Record<string, StateResult>)) byId[result.__id__] = result;
  return byId;
}

test('without systemd, service.* answers through the init scripts, as Salt on Debian', bounded, async () => {
  assert.deepEqual([await call('service.available', 'nginx'), await call('service.available', 'ssh')], [true, false]);
  assert.deepEqual([await call('service.status', 'nginx'), await call('service.status', 'ssh')], [false, false]);
  assert.equal(await call('service.start', 'nginx'), true);
  assert.equal(await call('service.status', 'nginx'), true);
  assert.equal(await call('service.enabled', 'nginx'), false);
  assert.equal(await call('service.enable', 'nginx'), true);
  assert.equal(await call('service.enabled', 'nginx'), true);
  assert.equal(await call('service.stop', 'nginx'), true);
  assert.equal(await call('service.disable', 'nginx'), true);
  assert.deepEqual([await call('service.status', 'nginx'), await call('service.enabled', 'nginx')], [false, false]);
  assert.match(String(await call('service.start', 'ssh')), /Service 'ssh' not found/);
  const calls = await sandbox.calls();
  assert.ok(calls.includes('service nginx start') && calls.includes('update-rc.d nginx disable'), calls.join('\n'));
  assert.ok(!calls.some((line) => /^systemctl (start|stop|enable|disable)/.test(line)), 'systemd was never asked');
});

test('service.running with enable, then nothing to do; dead; a watch restarts', bounded, async () => {
  const sls = 'cron:\n  service.running:\n    - enable: True\n';
  const predicted = await apply(sls, true);
  assert.deepEqual([predicted.cron?.result, predicted.cron?.comment], [null, 'Service cron is set to start']);
  assert.equal(await call('service.status', 'cron'), false, 'test=True started nothing');
  const first = await apply(sls);
  assert.deepEqual(
    [first.cron?.result, first.cron?.changes, first.cron?.comment],
    [true, { cron: true }, 'Service cron has been enabled, and is running'],
  );
  const second = await apply(sls);
  assert.deepEqual([second.cron?.changes, second.cron?.comment], [{}, 'The service cron is already running']);
  const watched = await apply(
    'cron:\n  service.running:\n    - watch:\n      - test: changed\nchanged:\n  test.succeed_with_changes: []\n',
  );
  assert.deepEqual([watched.cron?.comment, watched.cron?.changes], ['Service restarted', { cron: true }]);
  assert.ok((await sandbox.calls()).includes('service cron restart'));
  const stopped = await apply('cron:\n  service.dead: []\n');
  assert.deepEqual([stopped.cron?.changes, stopped.cron?.comment], [{ cron: false }, 'Service cron was killed']);
});
