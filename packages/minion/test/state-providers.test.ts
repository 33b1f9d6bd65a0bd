import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobOutcome } from '../src/executor/index.js';
import { createTestExecutor } from '../src/executor/testing.js';
import type { TestExecutor } from '../src/executor/testing.js';
import { createModuleRegistry } from '../src/modules/index.js';
import { createStateModule } from '../src/state/index.js';
import { LocalRoots } from '@phoenix/state';
import type { StateResult } from '@phoenix/state';
import { createStateSandbox } from '../src/state/testing.js';
import type { StateSandbox } from '../src/state/testing.js';

/*
 * The state modules against a throwaway root, with fake system tools first on a PATH that reaches
 * no real package, service or account tool: every call they make is recorded and asserted.
 */

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/states/', import.meta.url));
const bounded = { timeout: 60_000 };

interface Host {
  sandbox: StateSandbox;
  env: TestExecutor;
  roots: string;
}

async function host(options: { fakes?: boolean; env?: Record<string, string>; pillar?: string } = {}): Promise<Host> {
  const sandbox = await createStateSandbox(options.fakes === false ? {} : { fakes: join(FIXTURES, 'fakes') });
  const roots = join(sandbox.dir, 'file_roots');
  await mkdir(roots);
  const pillarRoots = join(sandbox.dir, 'pillar_roots');
  await mkdir(pillarRoots);
  if (options.pillar !== undefined) {
    await writeFile(join(pillarRoots, 'top.sls'), "base:\n  '*':\n    - data\n");
    await writeFile(join(pillarRoots, 'data.sls'), options.pillar);
  }
  const module = createStateModule({
    files: new LocalRoots({ base: [roots] }),
    pillarFiles: new LocalRoots({ base: [pillarRoots] }),
    root: sandbox.root,
    commandEnv: { ...sandbox.env, ...options.env },
  });
  const env = await createTestExecutor({ modules: createModuleRegistry([module]) });
  return { sandbox, env, roots };
}

let sequence = 0;
async function apply(
  h: Host,
  sls: string,
  kwargs: Record<string, unknown> = {},
): Promise<{ outcome: JobOutcome; byId: Record<string, StateResult> }> {
  const name = `s${++sequence}`;
  await writeFile(join(h.roots, `${name}.sls`), sls);
  const outcome = await h.env.executor.run({
    jid: String(20250401000000000000n + BigInt(sequence)),
    fun: 'state.sls',
    args: [name],
    kwargs,
  });
  const byId: Record<string, StateResult> = {};
  if (outcome.ret && typeof outcome.ret === 'object' && !Array.isArray(outcome.ret)) {
    for (const result of Object.values(outcome.ret as Record<string, StateResult>)) byId[result.__id__] = result;
  }
  return { outcome, byId };
}

function only(byId: Record<string, StateResult>): StateResult {
  const [result] = Object.values(byId);
  assert.ok(result, 'one result');
  return result;
}

let h: Host;
before(async () => {
  h = await host({ pillar: 'motd: from pillar\n' });
});
after(async () => {
  await h.env.close();
  await h.sandbox.close();
});

test(
  'file.managed: contents, mode, owner by number, a diff of changes, replace and create switches',
  bounded,
  async () => {
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    const sls = (contents: string, mode = '0640') => `
conf:
  file.managed:
    - name: /etc/app/app.conf
    - makedirs: True
    - mode: '${mode}'
    - user: ${uid}
    - group: ${gid}
    - contents:
      - ${contents}
      - second line
`;
    const created = only((await apply(h, sls('first line'))).byId);
    assert.deepEqual([created.result, created.comment], [true, 'File /etc/app/app.conf updated']);
    assert.deepEqual(created.changes, { diff: 'New file', mode: '0640' });
    const path = join(h.sandbox.root, 'etc/app/app.conf');
    assert.equal(await readFile(path, 'utf8'), 'first line\nsecond line\n');
    assert.equal((await stat(path)).mode & 0o7777, 0o640);

    const same = only((await apply(h, sls('first line'))).byId);
    assert.deepEqual(
      [same.result, same.changes, same.comment],
      [true, {}, 'File /etc/app/app.conf is in the correct state'],
    );

    const predicted = only((await apply(h, sls('changed line', '0600'), { test: true })).byId);
    assert.equal(predicted.result, null);
    assert.deepEqual(predicted.changes, {
      diff: '--- \n+++ \n@@ -1,2 +1,2 @@\n-first line\n+changed line\n second line\n',
      mode: '0600',
    });
    assert.equal(await readFile(path, 'utf8'), 'first line\nsecond line\n', 'test=True changed nothing');

    const updated = only((await apply(h, sls('changed line', '0600'))).byId);
    assert.deepEqual([updated.result, updated.comment], [true, 'File /etc/app/app.conf updated']);
    assert.equal((await stat(path)).mode & 0o7777, 0o600);

    const kept = only(
      (
        await apply(
          h,
          'keep:\n  file.managed:\n    - name: /etc/app/app.conf\n    - contents: other\n    - replace: False\n',
        )
      ).byId,
    );
    assert.deepEqual(kept.changes, {}, 'replace: False leaves existing content alone');
    const notCreated = only(
      (
        await apply(
          h,
          'nope:\n  file.managed:\n    - name: /etc/app/none.conf\n    - contents: x\n    - create: False\n',
        )
      ).byId,
    );
    assert.equal(notCreated.result, true);
    await assert.rejects(stat(join(h.sandbox.root, 'etc/app/none.conf')));

    const noParent = only(
      (await apply(h, 'orphan:\n  file.managed:\n    - name: /nowhere/x.conf\n    - contents: x\n')).byId,
    );
    assert.deepEqual(
      [noParent.result, noParent.comment],
      [false, 'Parent directory not present: /nowhere (set makedirs: True to create it)'],
    );
  },
);

test('file.managed from salt:// with a Jinja template, from pillar, and a binary file', bounded, async () => {
  await mkdir(join(h.roots, 'files'), { recursive: true });
  await writeFile(join(h.roots, 'files', 'motd.jinja'), '{{ greeting }} {{ pillar.motd }} on {{ grains.id }}\n');
  await writeFile(join(h.roots, 'files', 'blob.bin'), Buffer.from([0, 1, 2, 0, 255]));
  const { outcome, byId } = await apply(
    h,
    `
motd:
  file.managed:
    - name: /etc/motd
    - source: salt://files/motd.jinja
    - template: jinja
    - context:
        greeting: Hello
from-pillar:
  file.managed:
    - name: /etc/motd.pillar
    - contents_pillar: motd
blob:
  file.managed:
    - name: /etc/blob.bin
    - source:
      - salt://files/missing.bin
      - salt://files/blob.bin
missing-source:
  file.managed:
    - name: /etc/never
    - source: salt://files/nope
`,
  );
  assert.equal(outcome.retcode, 2, 'one state failed');
  assert.equal(await readFile(join(h.sandbox.root, 'etc/motd'), 'utf8'), 'Hello from pillar on test-minion\n');
  assert.equal(await readFile(join(h.sandbox.root, 'etc/motd.pillar'), 'utf8'), 'from pillar\n');
  assert.deepEqual([...(await readFile(join(h.sandbox.root, 'etc/blob.bin')))], [0, 1, 2, 0, 255]);
  assert.equal(byId.blob?.result, true);
  assert.deepEqual(
    [byId['missing-source']?.result, byId['missing-source']?.comment],
    [false, "Source file salt://files/nope not found in saltenv 'base'"],
  );
});

test('file.directory, file.symlink, file.append and file.absent', bounded, async () => {
  const first = await apply(
    h,
    `
/srv/data:
  file.directory:
    - makedirs: True
    - mode: '0750'
/srv/data/link:
  file.symlink:
    - target: /srv/data/target
replaced-file:
  file.managed:
    - name: /srv/data/replaced
    - contents: i am a file
forced-link:
  file.symlink:
    - name: /srv/data/replaced
    - target: /elsewhere
    - force: True
    - require:
      - replaced-file
hosts:
  file.append:
    - name: /srv/data/hosts
    - text:
      - 10.0.0.1   web
      - 10.0.0.2 db
`,
  );
  assert.equal(first.outcome.retcode, 0, JSON.stringify(first.outcome.ret, null, 1));
  assert.equal((await stat(join(h.sandbox.root, 'srv/data'))).mode & 0o7777, 0o750);
  assert.equal(await readlink(join(h.sandbox.root, 'srv/data/link')), '/srv/data/target');
  assert.ok(
    (await lstat(join(h.sandbox.root, 'srv/data/replaced'))).isSymbolicLink(),
    'force replaced the file by a link',
  );
  assert.equal(await readFile(join(h.sandbox.root, 'srv/data/hosts'), 'utf8'), '10.0.0.1   web\n10.0.0.2 db\n');

  const again = await apply(h, 'hosts:\n  file.append:\n    - name: /srv/data/hosts\n    - text: 10.0.0.1 web\n');
  assert.deepEqual(only(again.byId).changes, {}, 'whitespace differences do not make a line new');

  const retarget = only((await apply(h, '/srv/data/link:\n  file.symlink:\n    - target: /srv/data/other\n')).byId);
  assert.deepEqual(
    [retarget.changes, retarget.comment],
    [{ change: '/srv/data/link' }, 'Set symlink /srv/data/link to point to /srv/data/other'],
  );

  const refused = only((await apply(h, '/srv/data/hosts:\n  file.symlink:\n    - target: /x\n')).byId);
  assert.equal(refused.result, false, 'a file is not replaced by a link without force');

  const removed = only((await apply(h, 'gone:\n  file.absent:\n    - name: /srv/data\n')).byId);
  assert.deepEqual(
    [removed.result, removed.changes, removed.comment],
    [true, { removed: '/srv/data' }, 'Removed directory /srv/data'],
  );
  const absent = only((await apply(h, 'gone:\n  file.absent:\n    - name: /srv/data\n')).byId);
  assert.deepEqual([absent.changes, absent.comment], [{}, 'File /srv/data is not present']);
  const root = only((await apply(h, 'everything:\n  file.absent:\n    - name: /\n')).byId);
  assert.deepEqual([root.result, root.comment], [false, 'Refusing to make "/" absent']);
});

test(
  'cmd.run: cwd, env, stdin, creates, unless, onlyif, exit codes; cmd.wait runs only on a watch',
  bounded,
  async () => {
    await mkdir(join(h.sandbox.root, 'work'), { recursive: true });
    const { byId } = await apply(
      h,
      `
env-and-cwd:
  cmd.run:
    - name: echo "$GREETING from $(basename $(pwd))"; cat
    - cwd: /work
    - env:
        GREETING: hello
    - stdin: piped
makes-file:
  cmd.run:
    - name: touch made
    - cwd: /work
    - creates: /work/made
skipped-by-unless:
  cmd.run:
    - name: echo never
    - unless: test -d /
skipped-by-onlyif:
  cmd.run:
    - name: echo never
    - onlyif:
      - "true"
      - "false"
fails:
  cmd.run:
    - name: echo oops >&2; exit 3
allowed-code:
  cmd.run:
    - name: exit 3
    - success_retcodes: [0, 3]
waits:
  cmd.wait:
    - name: echo waited
    - watch:
      - cmd: fails
waits-on-change:
  cmd.wait:
    - name: echo fired > fired
    - cwd: /work
    - watch:
      - test: changer
changer:
  test.succeed_with_changes: []
`,
    );
    assert.equal(byId['env-and-cwd']?.result, true);
    assert.equal((byId['env-and-cwd']?.changes as { stdout: string }).stdout, 'hello from work\npiped');
    assert.equal(byId['makes-file']?.result, true);
    assert.deepEqual(
      [byId['skipped-by-unless']?.comment, byId['skipped-by-unless']?.changes],
      ['unless condition is true', {}],
    );
    assert.deepEqual(
      [byId['skipped-by-onlyif']?.comment, byId['skipped-by-onlyif']?.changes],
      ['onlyif condition is false', {}],
    );
    assert.equal(byId.fails?.result, false);
    assert.deepEqual(
      [(byId.fails?.changes as { retcode: number }).retcode, (byId.fails?.changes as { stderr: string }).stderr],
      [3, 'oops'],
    );
    assert.equal(byId['allowed-code']?.result, true);
    assert.deepEqual(
      [byId.waits?.result, byId.waits?.comment],
      [false, `One or more requisite failed: ${byId.fails?.__sls__}.fails`],
    );
    assert.equal(
      await readFile(join(h.sandbox.root, 'work/fired'), 'utf8'),
      'fired\n',
      'cmd.wait ran because its watch changed',
    );
    const again = only(
      (await apply(h, 'makes-file:\n  cmd.run:\n    - name: touch made\n    - cwd: /work\n    - creates: /work/made\n'))
        .byId,
    );
    assert.deepEqual([again.comment, again.changes], ['/work/made exists', {}]);
  },
);

test('pkg.installed and pkg.removed through dpkg-query and apt-get, with test=True predictions', bounded, async () => {
  const sls = "tools:\n  pkg.installed:\n    - pkgs:\n      - vim\n      - curl: '7.88-1'\n";
  const predicted = only((await apply(h, sls, { test: true })).byId);
  assert.equal(predicted.result, null);
  assert.deepEqual(predicted.changes, { vim: { old: '', new: 'installed' }, curl: { old: '', new: '7.88-1' } });
  assert.ok(!(await h.sandbox.calls()).some((call) => call.startsWith('apt-get')), 'test=True installs nothing');

  const installed = only((await apply(h, sls)).byId);
  assert.deepEqual(
    [installed.result, installed.comment],
    [true, 'The following packages were installed/updated: vim, curl'],
  );
  assert.deepEqual(installed.changes, { vim: { old: '', new: '1.0-1' }, curl: { old: '', new: '7.88-1' } });
  assert.ok(
    (await h.sandbox.calls()).includes(
      'apt-get -q -y -o DPkg::Options::=--force-confold -o DPkg::Options::=--force-confdef install -- vim curl=7.88-1',
    ),
  );

  const again = only((await apply(h, sls)).byId);
  assert.deepEqual(
    [again.result, again.changes, again.comment],
    [true, {}, 'All specified packages are already installed'],
  );

  await writeFile(join(h.sandbox.fakeState, 'broken'), 'nosuchpkg\n');
  const broken = only((await apply(h, 'nosuchpkg:\n  pkg.installed: []\n')).byId);
  assert.equal(broken.result, false);
  assert.match(
    broken.comment,
    /^Problem encountered installing package\(s\): nosuchpkg\nE: Unable to locate package nosuchpkg$/,
  );

  const removed = only((await apply(h, 'vim:\n  pkg.removed: []\n')).byId);
  assert.deepEqual([removed.result, removed.changes], [true, { vim: { old: '1.0-1', new: '' } }]);
  const gone = only((await apply(h, 'vim:\n  pkg.removed: []\n')).byId);
  assert.deepEqual([gone.changes, gone.comment], [{}, 'All specified packages are already absent']);
});

test('service states through systemctl: start and enable, stop, reload on watch, unknown unit', bounded, async () => {
  await writeFile(join(h.sandbox.fakeState, 'units'), 'app\nworker\n');
  const started = only((await apply(h, 'app:\n  service.running:\n    - enable: True\n')).byId);
  assert.deepEqual(
    [started.result, started.changes, started.comment],
    [true, { app: true }, 'Service app has been enabled, and is running'],
  );
  const running = only((await apply(h, 'app:\n  service.running:\n    - enable: True\n')).byId);
  assert.deepEqual([running.changes, running.comment], [{}, 'The service app is already running']);

  const before = (await h.sandbox.calls()).length;
  const { byId } = await apply(
    h,
    `
app:
  service.running:
    - reload: True
    - watch:
      - test: config
config:
  test.succeed_with_changes: []
`,
  );
  assert.deepEqual([byId.app?.comment, byId.app?.changes], ['Service reloaded', { app: true }]);
  assert.ok((await h.sandbox.calls()).slice(before).includes('systemctl reload -- app'));

  const stopped = only((await apply(h, 'app:\n  service.dead:\n    - enable: False\n')).byId);
  // Salt's _disable replaces the stop's changes with its own.
  assert.deepEqual([stopped.changes, stopped.comment], [{ app: true }, 'Service app has been disabled, and is dead']);
  const enabled = only((await apply(h, 'worker:\n  service.enabled: []\n')).byId);
  assert.deepEqual(
    [enabled.changes, enabled.comment],
    [{ worker: true }, 'Service worker has been enabled, and is in the desired state'],
  );
  const unknown = only((await apply(h, 'ghost:\n  service.running: []\n')).byId);
  assert.deepEqual([unknown.result, unknown.comment], [false, 'The named service ghost is not available']);
});

test('user.present and group.present through getent, useradd, usermod, groupadd', bounded, async () => {
  const sls = (shell: string) => `
deployers:
  group.present:
    - gid: 2500
deploy:
  user.present:
    - uid: 1500
    - shell: ${shell}
    - home: /home/deploy
    - groups:
      - deployers
    - require:
      - group: deployers
`;
  const predicted = await apply(h, sls('/bin/bash'), { test: true });
  assert.deepEqual(predicted.byId.deployers?.changes, { name: 'deployers', gid: 2500 });
  assert.equal(predicted.byId.deploy?.result, null);
  assert.match(
    predicted.byId.deploy?.comment ?? '',
    /group\(s\) are not present: deployers; test=True: a state before it may create them/,
  );
  assert.ok(
    !(await h.sandbox.calls()).some((call) => /^(useradd|usermod|groupadd|groupmod)/.test(call)),
    'test=True created nothing',
  );

  const { outcome, byId } = await apply(h, sls('/bin/bash'));
  assert.equal(outcome.retcode, 0, JSON.stringify(outcome.ret, null, 1));
  assert.deepEqual(byId.deployers?.changes, { name: 'deployers', gid: 2500, members: [] });
  assert.deepEqual(byId.deploy?.changes, {
    name: 'deploy',
    uid: 1500,
    gid: 1500,
    home: '/home/deploy',
    shell: '/bin/bash',
    groups: ['deployers'],
  });
  assert.equal(
    await readFile(join(h.sandbox.fakeState, 'passwd'), 'utf8'),
    'deploy:x:1500:1500::/home/deploy:/bin/bash\n',
  );

  const same = await apply(h, sls('/bin/bash'));
  assert.ok(Object.values(same.byId).every((r) => r.result === true && Object.keys(r.changes).length === 0));

  const changed = await apply(h, sls('/bin/zsh'));
  assert.deepEqual(changed.byId.deploy?.changes, { shell: '/bin/zsh' });
  assert.ok((await h.sandbox.calls()).includes('usermod -s /bin/zsh -- deploy'));
});

test('a host without the tools: "cannot act here" says why, and nothing else fails with it', bounded, async () => {
  const bare = await host({ fakes: false });
  const offline = await host({ env: { PHOENIX_FAKE_SYSTEMD: 'offline' } });
  try {
    const { byId } = await apply(
      bare,
      `
vim:
  pkg.installed: []
nginx:
  service.running: []
deploy:
  user.present: []
unrelated:
  test.nop: []
`,
    );
    assert.deepEqual(
      byId.vim?.comment,
      'cannot act here: dpkg-query and apt-get not found on PATH (pkg states manage Debian packages with dpkg and apt)',
    );
    assert.deepEqual(
      byId.nginx?.comment,
      'cannot act here: systemctl not found on PATH (service states manage systemd units), and service not found on PATH (for sysvinit init scripts)',
    );
    assert.deepEqual(
      byId.deploy?.comment,
      'cannot act here: getent not found on PATH (user and group states need getent and the shadow utilities)',
    );
    assert.equal(byId.unrelated?.result, true);
    const service = only((await apply(offline, 'nginx:\n  service.running: []\n')).byId);
    assert.equal(
      service.comment,
      "cannot act here: systemd is not running on this host (systemctl is-system-running says 'offline'), and service not found on PATH (for sysvinit init scripts)",
    );
  } finally {
    for (const each of [bare, offline]) {
      await each.env.close();
      await each.sandbox.close();
    }
  }
});
