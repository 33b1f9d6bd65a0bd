import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { STATE_RUNS_DISABLED_GRAIN } from '@phoenix/protocol';
import { MinionConfigSchema } from '../src/config.js';
import { Executor } from '../src/executor/executor.js';
import { createMinionExecutor } from '../src/executor/minion-executor.js';
import { GrainStore, type Grains } from '../src/grains/index.js';
import { createModuleRegistry } from '../src/modules/index.js';
import { createStateModule, localStateOptions } from '../src/state/index.js';
import { KILLSWITCH_FILE } from '../src/state/run/killswitch.js';

/*
 * The killswitch reaches the masters as the `state_runs_disabled` grain: the grains listener is
 * what sends the minion's grains to its master, so a change it hears is a change the master hears.
 */

const bounded = { timeout: 20_000 };
const quiet = pino({ level: 'silent' });
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'phoenix-killswitch-grain-'));
});
after(() => rm(dir, { recursive: true, force: true }));

let sequence = 0;
const nextJid = (): string => String(20250401000000000000n + BigInt(++sequence));

async function minion(name: string): Promise<{ executor: Executor; grains: GrainStore; cacheDir: string }> {
  const cacheDir = join(dir, name);
  const grains = await GrainStore.open({ core: { id: name, os: 'Debian' }, cacheDir });
  const executor = new Executor({
    minionId: name,
    grains,
    logger: quiet,
    cacheDir,
    version: '0.0.0-test',
    modules: createModuleRegistry([
      createStateModule({ ...localStateOptions({ fileRoots: { base: [dir] }, pillarRoots: { base: [dir] } }) }),
    ]),
  });
  return { executor, grains, cacheDir };
}

test('state.disable shows the killswitch in the grains at once; state.enable removes it', bounded, async () => {
  const { executor, grains, cacheDir } = await minion('web-1');
  const heard: Array<unknown> = [];
  grains.onChange((snapshot: Grains) => heard.push(snapshot[STATE_RUNS_DISABLED_GRAIN] ?? null));
  const run = (fun: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}) =>
    executor.run({ jid: nextJid(), fun, args, kwargs });

  const disabled = await run('state.disable', [], { reason: 'disk errors', by: 'alice' });
  assert.equal(disabled.retcode, 0, JSON.stringify(disabled.ret));
  const { at } = disabled.ret as { at: string };
  const expected = { by: 'alice', at, reason: 'disk errors' };
  assert.deepEqual(grains.items()[STATE_RUNS_DISABLED_GRAIN], expected);
  assert.deepEqual(heard, [expected]);
  assert.deepEqual((await run('grains.get', [STATE_RUNS_DISABLED_GRAIN])).ret, expected);

  // It mirrors the killswitch file: not a custom grain, not settable or deletable by hand.
  await assert.rejects(readFile(grains.file, 'utf8'), { code: 'ENOENT' });
  const forged = await run('grains.setval', [STATE_RUNS_DISABLED_GRAIN, 'nothing']);
  assert.equal(forged.success, false);
  assert.match(String(forged.ret), /cannot be set by hand.*state\.enable/);
  const deleted = await run('grains.delval', [STATE_RUNS_DISABLED_GRAIN]);
  assert.equal(deleted.success, false);
  assert.deepEqual(grains.items()[STATE_RUNS_DISABLED_GRAIN], expected);

  const enabled = await run('state.enable');
  assert.equal(enabled.retcode, 0);
  assert.equal(grains.items()[STATE_RUNS_DISABLED_GRAIN], undefined);
  assert.deepEqual(heard, [expected, null]);
  // Enabling again changes nothing, so the master is not told again.
  await run('state.enable');
  assert.deepEqual(heard, [expected, null]);

  // A killswitch file restored by hand is picked up by state.list_disabled.
  await writeFile(
    join(cacheDir, KILLSWITCH_FILE),
    JSON.stringify({ reason: 'by hand', by: 'bob', at: '2030-01-01T00:00:00.000Z', jid: '' }),
  );
  await run('state.list_disabled');
  assert.deepEqual(grains.items()[STATE_RUNS_DISABLED_GRAIN], {
    by: 'bob',
    at: '2030-01-01T00:00:00.000Z',
    reason: 'by hand',
  });
});

test('a minion that starts with the killswitch set reports it in its first grains', bounded, async () => {
  const cacheDir = join(dir, 'db-1');
  const config = MinionConfigSchema.parse({
    id: 'db-1',
    clusterPublicKey: 'x'.repeat(40),
    pkiDir: join(dir, 'db-1-pki'),
    cacheDir,
    imds: { enabled: false },
    fileClient: 'local',
    fileRoots: { base: [dir] },
    pillarRoots: { base: [dir] },
  });
  const make = () => createMinionExecutor(config, { id: 'db-1', log: quiet, files: localStateOptions(config) });
  const first = await make();
  assert.equal(first.grains.items()[STATE_RUNS_DISABLED_GRAIN], undefined);
  const disabled = await first.executor.run({
    jid: nextJid(),
    fun: 'state.disable',
    args: [],
    kwargs: { reason: 'maintenance', by: 'carol' },
  });
  assert.equal(disabled.retcode, 0, JSON.stringify(disabled.ret));

  const restarted = await make();
  assert.deepEqual(restarted.grains.items()[STATE_RUNS_DISABLED_GRAIN], {
    by: 'carol',
    at: (disabled.ret as { at: string }).at,
    reason: 'maintenance',
  });

  // An unreadable killswitch still disables, and shows when it was found.
  await writeFile(join(cacheDir, KILLSWITCH_FILE), 'not json');
  const unreadable = await make();
  const shown = unreadable.grains.items()[STATE_RUNS_DISABLED_GRAIN] as { by: string; at: string; reason: string };
  assert.equal(shown.by, 'unknown');
  assert.match(shown.at, /^\d{4}-\d\d-\d\dT/);
  assert.match(shown.reason, /cannot be read/);
});
