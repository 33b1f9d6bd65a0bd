import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { JobOutcome } from '../src/executor/index.js';
import { createTestExecutor } from '../src/executor/testing.js';
import type { TestExecutor } from '../src/executor/testing.js';
import type { Grains } from '../src/grains/index.js';

const core = {
  id: 'web-1',
  os: 'Ubuntu',
  os_family: 'Debian',
  ip4_interfaces: { eth0: ['10.0.0.5', '10.0.0.6'] },
  roles: ['web', 'cache'],
};

let env: TestExecutor;
before(async () => {
  env = await createTestExecutor({ minionId: 'web-1', core });
});
after(() => env.close());

/** Every test that waits on a job or a process is bounded, even if a kill were to fail. */
const bounded = { timeout: 20_000 };

let sequence = 0;
const run = (fun: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<JobOutcome> =>
  env.executor.run({ jid: String(20240404000000000000n + BigInt(++sequence)), fun, args, kwargs });

test('grains.items returns every grain; grains.ls their sorted names', bounded, async () => {
  assert.deepEqual((await run('grains.items')).ret, core);
  assert.deepEqual((await run('grains.ls')).ret, ['id', 'ip4_interfaces', 'os', 'os_family', 'roles']);
});

test("grains.get walks nested keys with ':' and falls back to the default", bounded, async () => {
  assert.equal((await run('grains.get', ['os'])).ret, 'Ubuntu');
  assert.equal((await run('grains.get', ['ip4_interfaces:eth0:1'])).ret, '10.0.0.6');
  assert.deepEqual((await run('grains.get', ['ip4_interfaces:eth0'])).ret, ['10.0.0.5', '10.0.0.6']);
  assert.equal((await run('grains.get', ['missing'])).ret, '', "Salt's default is an empty string");
  assert.equal((await run('grains.get', ['missing'], { default: 'fallback' })).ret, 'fallback');
  assert.equal((await run('grains.get', ['ip4_interfaces:eth9'], { default: 0 })).ret, 0);
  assert.equal((await run('grains.get', ['ip4_interfaces/eth0/0'], { delimiter: '/' })).ret, '10.0.0.5');
  assert.equal((await run('grains.get', ['os:constructor'])).ret, '', 'never reaches into prototypes');
  assert.equal((await run('grains.get', ['roles:length'])).ret, '');
});

test('grains.setval persists a custom grain, shows it at once and tells the listener', bounded, async () => {
  const seen: Array<{ grains: Grains; key: string }> = [];
  const unsubscribe = env.grains.onChange((grains, change) => seen.push({ grains, key: change.key }));
  try {
    const outcome = await run('grains.setval', ['deploy', { version: 42, canary: true }]);
    assert.deepEqual([outcome.success, outcome.ret], [true, { deploy: { version: 42, canary: true } }]);
    assert.deepEqual((await run('grains.get', ['deploy:version'])).ret, 42);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.key, 'deploy');
    assert.deepEqual(seen[0]?.grains.deploy, { version: 42, canary: true });
    assert.deepEqual(parse(await readFile(env.grains.file, 'utf8')), { deploy: { version: 42, canary: true } });

    const override = await run('grains.setval', [], { key: 'os', val: 'Custom' });
    assert.equal(override.success, true);
    assert.equal((await run('grains.get', ['os'])).ret, 'Custom', 'a custom grain wins over a core grain');
  } finally {
    unsubscribe();
  }
});

test(
  'grains.delval empties a custom grain, destructive=True removes it; a core grain it overrode shows again',
  bounded,
  async () => {
    await run('grains.setval', ['temporary', 'x']);
    assert.deepEqual((await run('grains.delval', ['temporary'])).ret, { temporary: null }, "Salt's delval sets None");
    assert.ok(((await run('grains.ls')).ret as string[]).includes('temporary'), 'the empty grain stays');
    assert.deepEqual((await run('grains.delval', ['temporary'], { destructive: true })).ret, { temporary: null });
    assert.equal((await run('grains.get', ['temporary'])).ret, '');
    assert.ok(!((await run('grains.ls')).ret as string[]).includes('temporary'));

    await run('grains.setval', ['os', 'Custom']);
    assert.deepEqual((await run('grains.delkey', ['os'])).ret, { os: 'Ubuntu' });
    const coreDelete = await run('grains.delval', ['os_family'], { destructive: true });
    assert.equal(coreDelete.success, false);
    assert.match(String(coreDelete.ret), /^ERROR: grain 'os_family' is a core grain/);
    assert.equal((await run('grains.delkey', ['never-set'])).success, true, 'deleting what is not there is a no-op');
  },
);

test('grains.setval refuses the id grain and values that are not data', bounded, async () => {
  const id = await run('grains.setval', ['id', 'someone-else']);
  assert.equal(id.success, false);
  assert.match(String(id.ret), /grain 'id' is the minion's identity/);
  assert.equal((await run('grains.get', ['id'])).ret, 'web-1');
  const missing = await run('grains.setval', ['key-only']);
  assert.equal(missing.ret, "Passed invalid arguments to grains.setval: missing required argument 'val'");
  assert.match(String((await run('grains.setval', ['', 1])).ret), /argument 'key'/);
});
