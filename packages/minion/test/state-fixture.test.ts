import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { formatHighstate, LocalRoots } from '@phoenix/state';
import type { StateResult } from '@phoenix/state';
import { Executor } from '../src/executor/index.js';
import type { JobOutcome } from '../src/executor/index.js';
import { createTestExecutor, waitFor } from '../src/executor/testing.js';
import { GrainStore } from '../src/grains/index.js';
import { createModuleRegistry } from '../src/modules/index.js';
import { builtinStateModules, createStateModule, defineState, KILLSWITCH_FILE } from '../src/state/index.js';
import type { StateModule } from '../src/state/index.js';
import { createStateSandbox } from '../src/state/testing.js';
import type { StateSandbox } from '../src/state/testing.js';
import { z } from 'zod';

/*
 * The fixture tree (test/fixtures/states) applied through the state.* functions, as `phoenix call
 * --local state.apply` would: file_roots and pillar_roots on disk, a temp directory as the root,
 * and fake dpkg-query/apt-get/systemctl first on PATH. Nothing outside the temp dirs changes.
 */

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/states/', import.meta.url));
const bounded = { timeout: 120_000 };

type Results = Record<string, StateResult>;

interface FixtureMinion {
  run(fun: string, args?: unknown[], kwargs?: Record<string, unknown>): Promise<JobOutcome>;
  start(jid: string, fun: string, args?: unknown[], kwargs?: Record<string, unknown>): Promise<JobOutcome>;
  executor: Executor;
  cacheDir: string;
  close(): Promise<void>;
}

let sequence = 0;
const nextJid = (): string => String(20250301000000000000n + BigInt(++sequence));

async function fixtureMinion(
  id: string,
  grains: Record<string, unknown>,
  sandbox: StateSandbox,
  stateModules?: StateModule[],
): Promise<FixtureMinion> {
  const module = createStateModule({
    files: new LocalRoots({ base: [join(FIXTURES, 'file_roots')] }),
    pillarFiles: new LocalRoots({ base: [join(FIXTURES, 'pillar_roots')] }),
    root: sandbox.root,
    commandEnv: sandbox.env,
    ...(stateModules === undefined ? {} : { stateModules }),
  });
  const env = await createTestExecutor({
    minionId: id,
    core: { id, os: 'Debian', ...grains },
    modules: createModuleRegistry([module]),
  });
  const start = (jid: string, fun: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}) =>
    env.executor.run({ jid, fun, args, kwargs, timeoutMs: 60_000 });
  return {
    run: (fun, args, kwargs) => start(nextJid(), fun, args, kwargs),
    start,
    executor: env.executor,
    cacheDir: env.cacheDir,
    close: () => env.close(),
  };
}

function byId(ret: unknown): Record<string, StateResult> {
  const out: Record<string, StateResult> = {};
  for (const result of Object.values(ret as Results)) out[result.__id__] = result;
  return out;
}

const MUTATING = /^(apt-get .*(install|remove)|systemctl (start|stop|restart|reload|enable|disable))/;

test(
  'the web fixture: grain-matched top, per-service_group and per-host pillar, first run changes, second does not',
  bounded,
  async () => {
    const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
    await mkdir(join(sandbox.root, 'etc'));
    await writeFile(join(sandbox.root, 'etc', 'obsolete.conf'), 'remove me\n');
    const minion = await fixtureMinion('web-1', { role: 'web', service_group: 'web' }, sandbox);
    try {
      const top = await minion.run('state.show_top');
      assert.deepEqual(top.ret, { base: ['base', 'web'] });

      const pillar = await minion.run('state.show_pillar');
      assert.deepEqual(pillar.ret, {
        motd_banner: 'Welcome to Phoenix',
        users: ['deploy'],
        app: { release: 1 },
        // common, then service_groups/web (port, upstreams), then hosts/web-1 (worker_processes)
        nginx: { port: 8080, worker_processes: 4, upstreams: ['10.0.0.1:3000', '10.0.0.2:3000'] },
      });

      // test=True on a fresh host: every state predicts a change, nothing is touched.
      const predicted = await minion.run('state.apply', [], { test: true });
      assert.equal(predicted.retcode, 0, JSON.stringify(predicted.ret, null, 1));
      const predictions = byId(predicted.ret);
      assert.deepEqual(Object.fromEntries(Object.entries(predictions).map(([id, r]) => [id, r.result])), {
        motd: null,
        '/srv/app': null,
        '/srv/app/current': null,
        environment: null,
        'obsolete-config': null,
        'build-app': null,
        nginx: null,
        'nginx-config': null,
        '/var/log': null,
        'reload-log': null,
      });
      const predictedRet = predicted.ret as Results;
      assert.deepEqual(
        Object.keys(predictedRet['pkg_|-nginx_|-nginx_|-installed']?.changes ?? {}),
        ['nginx'],
        'the package predicts its install',
      );
      assert.deepEqual(
        [
          predictedRet['service_|-nginx_|-nginx_|-running']?.result,
          predictedRet['service_|-nginx_|-nginx_|-running']?.comment,
        ],
        [null, 'Service is set to be started'],
        "the service watches its config, which would change: Salt's mod_watch predicts the start",
      );
      assert.deepEqual(await readdir(sandbox.root), ['etc']);
      assert.deepEqual(await readdir(join(sandbox.root, 'etc')), ['obsolete.conf']);
      assert.deepEqual(
        (await sandbox.calls()).filter((call) => MUTATING.test(call)),
        [],
        'test=True only queried',
      );

      // First run: everything is put in place.
      const first = await minion.run('state.apply');
      assert.equal(first.retcode, 0, JSON.stringify(first.ret, null, 1));
      const applied = byId(first.ret);
      for (const [id, result] of Object.entries(applied)) {
        assert.equal(result.result, true, `${id}: ${result.comment}`);
        assert.ok(Object.keys(result.changes).length > 0, `${id} changed something on the first run`);
      }
      assert.deepEqual(applied.motd?.changes, { diff: 'New file', mode: '0644' });
      assert.deepEqual(applied['obsolete-config']?.changes, { removed: '/etc/obsolete.conf' });
      const order = (tag: string) => (first.ret as Results)[tag]?.__run_num__ ?? -1;
      const config = order('file_|-nginx-config_|-/etc/nginx/nginx.conf_|-managed');
      assert.ok(order('pkg_|-nginx_|-nginx_|-installed') < config, 'the config requires the package');
      assert.ok(order('service_|-nginx_|-nginx_|-running') > config, 'the service runs after the config it watches');
      assert.ok(
        order('cmd_|-reload-log_|-echo "config changed" >> changes.log_|-run') > config,
        'onchanges runs after its target',
      );
      assert.equal(
        await readFile(join(sandbox.root, 'etc/nginx/nginx.conf'), 'utf8'),
        `# managed by Phoenix for web-1
worker_processes 4;
http {
  server { listen 8080; }
  upstream app {
    server 10.0.0.1:3000;
    server 10.0.0.2:3000;
  }
}
`,
      );
      assert.equal(
        await readFile(join(sandbox.root, 'etc/motd'), 'utf8'),
        'Welcome to Phoenix on web-1 (Debian)\nkernel probe: probed-by-jinja\nuser: deploy\n',
      );
      assert.equal(
        await readFile(join(sandbox.root, 'etc/environment'), 'utf8'),
        'PHOENIX_MANAGED=1\nSERVICE_GROUP=web\n',
      );
      assert.equal(await readFile(join(sandbox.root, 'var/log/changes.log'), 'utf8'), 'config changed\n');
      assert.equal(await readFile(join(sandbox.fakeState, 'active'), 'utf8'), 'nginx\n');
      assert.equal(await readFile(join(sandbox.fakeState, 'enabled'), 'utf8'), 'nginx\n');

      // Second run: nothing to do.
      const second = await minion.run('state.apply');
      assert.equal(second.retcode, 0);
      for (const [id, result] of Object.entries(byId(second.ret))) {
        assert.equal(result.result, true, `${id}: ${result.comment}`);
        assert.deepEqual(result.changes, {}, `${id} is already in the right state`);
      }
      assert.equal(
        byId(second.ret)['reload-log']?.comment,
        'State was not run because none of the onchanges reqs changed',
      );
      const after = await minion.run('state.apply', [], { test: true });
      assert.ok(
        Object.values(after.ret as Results).every((r) => r.result === true && Object.keys(r.changes).length === 0),
      );

      // A pillar change reaches the config; the service watching it restarts, the onchanges command runs.
      const callsBefore = (await sandbox.calls()).length;
      const changed = await minion.run('state.apply', [], { pillar: { nginx: { port: 9090 } } });
      assert.equal(changed.retcode, 0);
      const results = byId(changed.ret);
      assert.match(
        String(results['nginx-config']?.changes.diff),
        /- {2}server \{ listen 8080; \}\n\+ {2}server \{ listen 9090; \}/,
      );
      assert.equal(results.nginx?.comment, 'Service restarted');
      assert.deepEqual(results.nginx?.changes, { nginx: true });
      assert.deepEqual(
        (await sandbox.calls()).slice(callsBefore).filter((call) => MUTATING.test(call)),
        ['systemctl restart -- nginx'],
      );
      assert.equal(
        await readFile(join(sandbox.root, 'var/log/changes.log'), 'utf8'),
        'config changed\nconfig changed\n',
      );

      const text = formatHighstate(changed.ret, { colour: false, minion: 'web-1' });
      assert.match(text, /Name: \/etc\/motd - Function: file.managed - Result: Clean/);
      assert.match(
        text,
        / {10}ID: nginx\n {4}Function: service.running\n {6}Result: True\n {5}Comment: Service restarted/,
      );
      assert.match(text, /Succeeded: 11 \(changed=3\)\nFailed: {5}0/);
    } finally {
      await minion.close();
      await sandbox.close();
    }
  },
);

test(
  'the db fixture: another grain gets another SLS; no service_group file means the generic pillar',
  bounded,
  async () => {
    const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
    const minion = await fixtureMinion('db-1', { role: 'db', service_group: 'db' }, sandbox);
    try {
      assert.deepEqual((await minion.run('state.show_top')).ret, { base: ['base', 'db'] });
      const pillar = (await minion.run('state.show_pillar')).ret as { nginx: unknown };
      assert.deepEqual(pillar.nginx, { port: 80, worker_processes: 2 });
      const first = await minion.run('state.highstate');
      assert.equal(first.retcode, 0, JSON.stringify(first.ret, null, 1));
      assert.equal(await readFile(join(sandbox.root, 'etc/db.conf'), 'utf8'), 'max_connections = 100\n');
      assert.equal(
        await readFile(join(sandbox.root, 'etc/environment'), 'utf8'),
        'PHOENIX_MANAGED=1\nSERVICE_GROUP=db\n',
      );
      assert.deepEqual(await sandbox.calls(), [], 'no package or service state for a db minion');
      const second = await minion.run('state.highstate');
      assert.ok(
        Object.values(second.ret as Results).every((r) => r.result === true && Object.keys(r.changes).length === 0),
      );
      const lowstate = (await minion.run('state.show_lowstate')).ret as { __id__: string }[];
      assert.deepEqual(lowstate.map((low) => low.__id__).at(-1), '/etc/db.conf');
      const one = await minion.run('state.sls_id', ['/srv/app/current', 'base']);
      assert.deepEqual(
        Object.values(one.ret as Results)
          .map((r) => r.__id__)
          .sort(),
        ['/srv/app', '/srv/app/current'],
        'sls_id runs the ID and what it requires',
      );
      // Salt's exclude=: SLS names (a comma string) or a list of {sls: ...} and {id: ...}.
      const ids = (ret: unknown): string[] => Object.values(ret as Results).map((r) => r.__id__);
      const withoutBase = await minion.run('state.sls', ['db'], { exclude: 'base', test: true });
      assert.deepEqual(ids(withoutBase.ret), ['/etc/db.conf'], 'the included base SLS is left out');
      const withoutMotd = await minion.run('state.sls', ['db'], { exclude: [{ id: 'motd' }], test: true });
      assert.ok(ids(withoutMotd.ret).includes('environment') && !ids(withoutMotd.ret).includes('motd'));
      const bad = await minion.run('state.sls', ['db'], { exclude: [{ path: 'x' }] });
      assert.notEqual(bad.retcode, 0, 'an exclude entry of another shape is refused');
    } finally {
      await minion.close();
      await sandbox.close();
    }
  },
);

test('without a top file, or with a top file that matches nothing, a highstate fails clearly', bounded, async () => {
  const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
  const empty = join(sandbox.dir, 'empty-roots');
  const nobody = join(sandbox.dir, 'nobody-roots');
  await mkdir(empty);
  await mkdir(nobody);
  await writeFile(join(nobody, 'top.sls'), "base:\n  'db-*':\n    - db\n");
  const module = (roots: string) =>
    createStateModule({ files: new LocalRoots({ base: [roots] }), root: sandbox.root, commandEnv: sandbox.env });
  const missing = await createTestExecutor({ minionId: 'web-1', modules: createModuleRegistry([module(empty)]) });
  const unmatched = await createTestExecutor({ minionId: 'web-1', modules: createModuleRegistry([module(nobody)]) });
  try {
    const outcome = await missing.executor.run({ jid: nextJid(), fun: 'state.highstate', args: [], kwargs: {} });
    assert.equal(outcome.retcode, 1);
    assert.deepEqual(outcome.ret, ['No top file found: salt://top.sls is not in the base file roots']);
    const none = await unmatched.executor.run({ jid: nextJid(), fun: 'state.highstate', args: [], kwargs: {} });
    assert.equal(none.retcode, 2);
    const result = (none.ret as Results)['no_|-states_|-states_|-None'];
    assert.equal(result?.result, false);
    assert.match(result?.comment ?? '', /^No Top file or master_tops data matches found/);
  } finally {
    await missing.close();
    await unmatched.close();
    await sandbox.close();
  }
});

/** A state that holds its run open until the test lets it go. */
function gate(): { module: StateModule; entered: () => boolean; open: () => void } {
  let entered = false;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const module: StateModule = {
    name: 'gate',
    functions: {
      wait: defineState({
        schema: z.strictObject({ name: z.string() }),
        run: async () => {
          entered = true;
          await opened;
          return { result: true, comment: 'gate opened', changes: {} };
        },
      }),
    },
  };
  return { module, entered: () => entered, open };
}

test(
  'one state run at a time: a second run is refused naming the running jid, queue=True waits its turn',
  bounded,
  async () => {
    const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
    const held = gate();
    const minion = await fixtureMinion('web-1', { role: 'web' }, sandbox, [...builtinStateModules(), held.module]);
    try {
      const holderJid = nextJid();
      const holder = minion.start(holderJid, 'state.single', ['gate.wait', 'hold']);
      await waitFor(() => held.entered(), 'the first run to hold the lock', 30_000);

      // Salt's answer: the running function, its PID, when it started and its jid; retcode 1.
      const refused = await minion.run('state.apply', [], { test: true });
      assert.equal(refused.success, false);
      assert.equal(refused.retcode, 1);
      const y = holderJid.slice(0, 4);
      const message = `The function "state.single" is running as PID ${process.pid} and was started at ${y}, Mar ${holderJid.slice(6, 8)} ${holderJid.slice(8, 10)}:${holderJid.slice(10, 12)}:${holderJid.slice(12, 14)}.${holderJid.slice(14)} with jid ${holderJid}`;
      assert.deepEqual(refused.ret, [message]);
      assert.deepEqual((await minion.run('state.running')).ret, [message]);

      const queuedJid = nextJid();
      const finished: string[] = [];
      const queued = minion
        .start(queuedJid, 'state.single', ['test.succeed_with_changes', 'queued'], { queue: true })
        .then((outcome) => {
          finished.push('queued');
          return outcome;
        });
      void holder.then(() => finished.push('holder'));
      await waitFor(() => minion.executor.isRunning(queuedJid), 'the queued run to be waiting');
      assert.deepEqual(finished, [], 'the queued run waits while the first one holds the lock');

      held.open();
      const [first, second] = await Promise.all([holder, queued]);
      assert.equal(first.retcode, 0);
      assert.equal(second.retcode, 0, JSON.stringify(second.ret));
      assert.deepEqual(finished, ['holder', 'queued']);
      assert.equal(Object.values(second.ret as Results)[0]?.comment, 'Success!');
      assert.deepEqual((await minion.run('state.running')).ret, []);
    } finally {
      held.open();
      await minion.close();
      await sandbox.close();
    }
  },
);

test('a queued run gives up when its job is killed, and the lock stays with the holder', bounded, async () => {
  const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
  const held = gate();
  const minion = await fixtureMinion('web-1', { role: 'web' }, sandbox, [...builtinStateModules(), held.module]);
  try {
    const holder = minion.start(nextJid(), 'state.single', ['gate.wait', 'hold']);
    await waitFor(() => held.entered(), 'the first run to hold the lock', 30_000);
    const queuedJid = nextJid();
    const queued = minion.start(queuedJid, 'state.single', ['test.nop', 'never'], { queue: true });
    await waitFor(() => minion.executor.isRunning(queuedJid), 'the queued run to be waiting');
    assert.equal(minion.executor.kill(queuedJid), true);
    const killed = await queued;
    assert.match(String(killed.ret), /was killed/);
    held.open();
    assert.equal((await holder).retcode, 0);
    const next = await minion.run('state.single', ['test.nop', 'after']);
    assert.equal(next.retcode, 0, 'the lock was released and the killed waiter left no trace');
  } finally {
    held.open();
    await minion.close();
    await sandbox.close();
  }
});

test(
  'the killswitch: state.disable refuses runs saying who, when and why, survives a restart, state.enable lifts it',
  bounded,
  async () => {
    const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
    const minion = await fixtureMinion('db-1', { role: 'db' }, sandbox);
    try {
      const disabled = await minion.run('state.disable', [], { reason: 'investigating disk errors', by: 'alice' });
      assert.equal(disabled.retcode, 0);
      const { res, msg, ...record } = disabled.ret as {
        res: boolean;
        msg: string;
        disabled: boolean;
        by: string;
        at: string;
        reason: string;
        jid: string;
      };
      assert.deepEqual([res, msg], [true, 'Info: all state runs disabled.']);
      assert.equal(record.disabled, true);
      assert.equal(record.by, 'alice');
      assert.equal(record.reason, 'investigating disk errors');
      assert.match(record.at, /^\d{4}-\d\d-\d\dT/);

      for (const [fun, args] of [
        ['state.highstate', []],
        ['state.apply', []],
        ['state.apply', ['base']],
        ['state.sls', ['db']],
        ['state.single', ['test.nop', 'x']],
      ] as const) {
        const refused = await minion.run(fun, [...args]);
        assert.equal(refused.retcode, 1, fun);
        assert.equal(
          refused.ret,
          `ERROR: State runs are disabled on this minion by alice at ${record.at} (jid ${record.jid}): "investigating disk errors". Run state.enable to allow them again.`,
          fun,
        );
      }
      assert.deepEqual(await readdir(sandbox.root), [], 'nothing ran');
      const predicted = await minion.run('state.highstate', [], { test: true });
      assert.equal(predicted.retcode, 0, 'test=True still works: it changes nothing');
      assert.deepEqual((await minion.run('state.list_disabled')).ret, ['*']);

      // A restarted minion (new executor and module on the same cache directory) is still disabled.
      const grains = await GrainStore.open({
        core: { id: 'db-1', os: 'Debian', role: 'db' },
        cacheDir: minion.cacheDir,
      });
      const restarted = new Executor({
        minionId: 'db-1',
        grains,
        logger: pino({ level: 'silent' }),
        cacheDir: minion.cacheDir,
        version: '0.0.0-test',
        modules: createModuleRegistry([
          createStateModule({
            files: new LocalRoots({ base: [join(FIXTURES, 'file_roots')] }),
            root: sandbox.root,
            commandEnv: sandbox.env,
          }),
        ]),
      });
      const afterRestart = await restarted.run({ jid: nextJid(), fun: 'state.highstate', args: [], kwargs: {} });
      assert.match(String(afterRestart.ret), /disabled on this minion by alice/);
      assert.ok((await readdir(minion.cacheDir)).includes(KILLSWITCH_FILE));

      const enabled = await minion.run('state.enable');
      const { disabled: _wasDisabled, ...was } = record;
      assert.deepEqual(enabled.ret, { res: true, msg: 'Info: all state runs enabled.', disabled: false, was });
      const applied = await minion.run('state.highstate');
      assert.equal(applied.retcode, 0, JSON.stringify(applied.ret));
      assert.deepEqual((await minion.run('state.list_disabled')).ret, []);
    } finally {
      await minion.close();
      await sandbox.close();
    }
  },
);

test(
  "Salt's killswitch by name: state.disable highstate or an SLS refuses only that, state.enable undoes it",
  bounded,
  async () => {
    const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
    const minion = await fixtureMinion('db-1', { role: 'db' }, sandbox);
    try {
      const off = await minion.run('state.disable', ['highstate']);
      assert.deepEqual([off.retcode, off.ret], [0, { res: true, msg: 'Info: highstate state disabled.' }]);
      assert.deepEqual((await minion.run('state.disable', ['highstate'])).ret, {
        res: true,
        msg: 'Info: highstate state already disabled.',
      });
      for (const [fun, args] of [
        ['state.highstate', []],
        ['state.apply', []],
      ] as const) {
        const refused = await minion.run(fun, [...args]);
        assert.deepEqual(
          (refused.ret as { name: string; comment: string }).name,
          'Salt highstate run is disabled. To re-enable, run state.enable highstate',
          fun,
        );
        assert.equal((refused.ret as { comment: string }).comment, 'Disabled', fun);
      }
      assert.deepEqual(await readdir(sandbox.root), [], 'no highstate ran');
      const sls = await minion.run('state.sls', ['db']);
      assert.equal(sls.retcode, 0, `state.sls is not highstate: ${JSON.stringify(sls.ret)}`);

      await minion.run('state.disable', ['base,db']);
      assert.deepEqual((await minion.run('state.list_disabled')).ret, ['highstate', 'base', 'db']);
      const refused = await minion.run('state.sls', ['db']);
      assert.equal(refused.retcode, 2, "Salt's EX_STATE_FAILURE");
      assert.deepEqual(refused.ret, ['The state file "db" is currently disabled, to re-enable, run state.enable db.']);
      assert.deepEqual((await minion.run('state.enable', ['highstate'])).ret, {
        res: true,
        msg: 'Info: highstate state enabled.',
      });
      assert.deepEqual((await minion.run('state.enable', ['nothing'])).ret, {
        res: true,
        msg: 'Info: nothing state already enabled.',
      });
      // A highstate is not state.sls: the SLS names disabled do not stop it, as in Salt.
      const highstate = await minion.run('state.highstate');
      assert.equal(highstate.retcode, 0, JSON.stringify(highstate.ret));

      await minion.run('state.enable', ['base,db']);
      // Salt's one pattern, `name.*`: what is below the name, not the name itself.
      await minion.run('state.disable', ['db.*']);
      assert.deepEqual((await minion.run('state.sls', ['db.replica'])).ret, [
        'The state file "db.replica" is currently disabled by "db.*", to re-enable, run state.enable db.*.',
      ]);
      assert.equal((await minion.run('state.sls', ['db'])).retcode, 0);
      await minion.run('state.enable', ['db.*']);
      assert.deepEqual((await minion.run('state.list_disabled')).ret, []);
      assert.equal((await minion.run('state.sls', ['db'])).retcode, 0);
    } finally {
      await minion.close();
      await sandbox.close();
    }
  },
);

test('a killswitch file that cannot be read counts as disabled', bounded, async () => {
  const sandbox = await createStateSandbox();
  const minion = await fixtureMinion('db-1', { role: 'db' }, sandbox);
  try {
    await writeFile(join(minion.cacheDir, KILLSWITCH_FILE), '{ not json');
    const refused = await minion.run('state.highstate');
    assert.match(String(refused.ret), /cannot be read .*treated as disabled/);
    assert.deepEqual(await readdir(sandbox.root), []);
  } finally {
    await minion.close();
    await sandbox.close();
  }
});
