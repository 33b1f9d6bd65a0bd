import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStateSandbox, type StateSandbox } from '@phoenix/minion/state/testing';
import { useTempDir } from '@phoenix/devstack/testing';
import { json, phoenix, type CliResult } from './lib/cli.js';

/*
 * `phoenix call --local`, Salt's `salt-call --local`: the fixture tree applied on this host with no
 * master, as a bootstrap or an artifact deploy would. The host is a throwaway root with fake system
 * tools first on PATH (createStateSandbox); nothing outside temporary directories changes.
 */

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/states/', import.meta.url));
const tmp = useTempDir('phoenix-call-');

interface StateResult {
  __id__: string;
  result: boolean | null;
  changes: Record<string, unknown>;
}
const results = (out: CliResult): StateResult[] =>
  Object.values(json<{ local: Record<string, StateResult> }>(out).local);

test('phoenix call --local state.highstate applies local roots: predicts, changes, then changes nothing', async () => {
  const sandbox: StateSandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
  try {
    const config = join(tmp(), 'minion.yaml');
    await writeFile(
      config,
      JSON.stringify({
        id: 'web-1',
        clusterPublicKey: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
        pkiDir: join(tmp(), 'pki'),
        cacheDir: join(tmp(), 'cache'),
        imds: { enabled: false },
        state: { root: sandbox.root },
      }),
    );
    const call = (...args: string[]): Promise<CliResult> =>
      phoenix(
        [
          'call',
          '--local',
          '--config',
          config,
          '--file-root',
          join(FIXTURES, 'file_roots'),
          '--pillar-root',
          join(FIXTURES, 'pillar_roots'),
          ...args,
        ],
        sandbox.env,
      );
    // Custom grains, kept in the cache directory: the grain-matched top and pillar follow them.
    for (const [key, value] of [
      ['role', 'web'],
      ['service_group', 'web'],
    ]) {
      const set = await call('grains.setval', key as string, value as string, '--out', 'json');
      assert.equal(set.code, 0, set.stderr);
    }
    await mkdir(join(sandbox.root, 'etc'));
    await writeFile(join(sandbox.root, 'etc', 'obsolete.conf'), 'remove me\n');

    const predicted = await call('state.highstate', 'test=True', '--out', 'json');
    assert.equal(predicted.code, 0, predicted.stdout + predicted.stderr);
    const predictions = results(predicted);
    assert.ok(
      predictions.some((r) => r.__id__ === 'nginx-config'),
      'the top gives web-1 the web states',
    );
    assert.deepEqual(
      predictions.filter((r) => r.result !== null).map((r) => r.__id__),
      [],
      'on a fresh host every state predicts a change',
    );
    assert.deepEqual(await readdir(sandbox.root), ['etc'], 'test=True changed nothing');

    const first = await call('state.highstate', '--out', 'json');
    assert.equal(first.code, 0, first.stdout + first.stderr);
    for (const result of results(first)) {
      assert.equal(result.result, true, result.__id__);
      assert.ok(Object.keys(result.changes).length > 0, `${result.__id__} changed something`);
    }
    assert.match(await readFile(join(sandbox.root, 'etc', 'nginx', 'nginx.conf'), 'utf8'), /worker_processes 4;/);

    const second = await call('state.highstate', '--out', 'json');
    assert.equal(second.code, 0);
    assert.deepEqual(
      results(second).filter((r) => Object.keys(r.changes).length > 0),
      [],
      'the second run changes nothing',
    );

    // The default output is Salt's highstate outputter.
    const text = await call('state.highstate');
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^local:\n/);
    assert.match(text.stdout, /Name: \/etc\/motd - Function: file.managed - Result: Clean/);
    assert.match(text.stdout, /Summary for local\n-+\nSucceeded: 11 \(changed=0\)\nFailed: {5}0/);
  } finally {
    await sandbox.close();
  }
});

test('phoenix call: a broken SLS is a clear error naming the file; without --local it is a usage error', async () => {
  const broken = await phoenix(
    [
      'call',
      '--local',
      '--file-root',
      join(FIXTURES, 'broken'),
      '--pillar-root',
      join(tmp(), 'no-pillar'),
      'state.sls',
      'bad_yaml',
      '--out',
      'json',
    ],
    { HOME: tmp() },
  );
  assert.equal(broken.code, 1);
  assert.match(JSON.stringify(json<{ local: unknown }>(broken).local), /bad_yaml/);

  const usage = await phoenix(['call', 'test.ping'], { HOME: tmp() });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /only --local is supported/);
  const unknown = await phoenix(['call', '--local', '--bogus', 'test.ping'], { HOME: tmp() });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /bogus/);
});

test('one state run at a time across processes: a second phoenix call is refused with the PID and jid, queue=True waits, a dead holder is taken over', async () => {
  const sandbox: StateSandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
  try {
    const roots = join(tmp(), 'lock-roots');
    await mkdir(roots, { recursive: true });
    const gate = join(sandbox.dir, 'gate');
    await writeFile(
      join(roots, 'hold.sls'),
      `hold:\n  cmd.run:\n    - name: 'touch ${gate}.held; while [ ! -f ${gate} ]; do sleep 0.05; done'\n`,
    );
    await writeFile(join(roots, 'quick.sls'), 'quick:\n  test.nop: []\n');
    const config = join(tmp(), 'lock-minion.yaml');
    const cacheDir = join(tmp(), 'lock-cache');
    await writeFile(
      config,
      JSON.stringify({
        id: 'lock-1',
        file_client: 'local',
        cachedir: cacheDir,
        file_roots: { base: [roots] },
        state: { root: sandbox.root },
      }),
    );
    const call = (...args: string[]) =>
      phoenix(['call', '--local', '--config', config, ...args, '--out', 'json'], { ...sandbox.env, HOME: tmp() });
    const holder = call('state.sls', 'hold');
    for (
      let i = 0;
      i < 600 &&
      !(await readFile(`${gate}.held`).then(
        () => true,
        () => false,
      ));
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    const lock = JSON.parse(await readFile(join(cacheDir, 'state-run.lock'), 'utf8')) as { pid: number; jid: string };
    const refused = await call('state.sls', 'quick');
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    const [message] = json<{ local: string[] }>(refused).local;
    assert.match(
      message ?? '',
      new RegExp(
        `^The function "state.sls" is running as PID ${lock.pid} and was started at \\d{4}, \\w{3} \\d\\d [\\d:.]+ with jid ${lock.jid}$`,
      ),
    );
    const queued = call('state.sls', 'quick', 'queue=True');
    await writeFile(gate, '');
    assert.equal((await holder).code, 0);
    assert.equal((await queued).code, 0, 'the queued run ran once the first one finished');
    // A lock left by a process that died is taken over.
    await writeFile(
      join(cacheDir, 'state-run.lock'),
      JSON.stringify({ jid: '20200101000000000000', fun: 'state.sls', pid: 2 ** 22 + 1, startedAt: 0 }),
    );
    assert.equal((await call('state.sls', 'quick')).code, 0);
  } finally {
    await sandbox.close();
  }
});

test('phoenix call --local reads a Salt minion config as Salt does: its roots, state_top, test and state_output; an unknown key is refused by name', async () => {
  const sandbox: StateSandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
  try {
    const salt = join(tmp(), 'salt-tree');
    const pillar = join(tmp(), 'salt-pillar');
    await mkdir(salt, { recursive: true });
    await mkdir(pillar, { recursive: true });
    // The top file is site.sls (state_top), and it matches the static grain from the config.
    await writeFile(join(salt, 'site.sls'), "base:\n  'role:web':\n    - match: grain\n    - motd\n");
    await writeFile(join(salt, 'top.sls'), "base:\n  '*':\n    - nothing\n");
    await writeFile(
      join(salt, 'motd.sls'),
      "motd:\n  file.managed:\n    - name: /etc/motd\n    - contents: {{ pillar['motd'] }}\n    - makedirs: True\n",
    );
    await writeFile(join(pillar, 'top.sls'), "base:\n  '*':\n    - common\n");
    await writeFile(join(pillar, 'common.sls'), 'motd: managed by salt\n');
    // /etc/salt/minion as a masterless Salt user has it: nothing in it is Phoenix's own name.
    const config = join(tmp(), 'salt-minion');
    await writeFile(
      config,
      `id: web-1
master: salt
file_client: local
file_roots:
  base:
    - ${salt}
pillar_roots:
  base:
    - ${pillar}
state_top: salt://site.sls
test: True
state_output: terse
log_level: warning
cachedir: ${join(tmp(), 'salt-cache')}
pki_dir: ${join(tmp(), 'salt-pki')}
grains:
  role: web
`,
    );
    // Where the states act: this test's throwaway root (on a host, state.root stays /).
    const env = { ...sandbox.env, HOME: tmp(), PHOENIX_MINION__state__root: sandbox.root };
    const motd = join(sandbox.root, 'etc', 'motd');

    const predicted = await phoenix(['call', '--local', '-c', config, 'state.highstate'], env);
    assert.equal(predicted.code, 0, predicted.stdout + predicted.stderr);
    // test: True predicts; state_output: terse prints one line per state.
    assert.match(predicted.stdout, /^ {2}Name: \/etc\/motd - Function: file\.managed - Result: Differs - /m);
    assert.doesNotMatch(predicted.stdout, /Changes:/);
    assert.match(predicted.stdout, /Succeeded: 1 \(unchanged=1, changed=0\)/);
    assert.equal(await readFile(motd, 'utf8').catch(() => 'absent'), 'absent', 'test: True changed nothing');
    // log_level: warning lets the warning about Salt's master key through.
    assert.match(predicted.stderr, /the Salt key .{0,2}master.{0,2} has no meaning for Phoenix/);

    const applied = await phoenix(['call', '--local', '-c', config, 'state.highstate', 'test=False'], env);
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.match(applied.stdout, /^ {2}Name: \/etc\/motd - Function: file\.managed - Result: Changed - /m);
    assert.equal(await readFile(motd, 'utf8'), 'managed by salt\n');

    // A key neither Salt nor Phoenix has is an error naming it and the file; nothing runs.
    const typo = join(tmp(), 'salt-minion-typo');
    await writeFile(typo, `${await readFile(config, 'utf8')}state_otput: full\n`);
    const refused = await phoenix(['call', '--local', '-c', typo, 'test.ping'], env);
    assert.equal(refused.code, 1);
    assert.ok(refused.stderr.includes(`invalid configuration in ${typo} `), refused.stderr);
    assert.match(refused.stderr, /: unknown key "state_otput" \[PHX_CONFIG_INVALID\]$/m);
    assert.equal(refused.stdout, '');
  } finally {
    await sandbox.close();
  }
});
