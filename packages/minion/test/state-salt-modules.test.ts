import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import * as tar from 'tar';
import type { JobOutcome } from '../src/executor/index.js';
import { createTestExecutor } from '../src/executor/testing.js';
import type { TestExecutor } from '../src/executor/testing.js';
import { LocalRoots } from '@phoenix/state';
import type { StateResult } from '@phoenix/state';
import { createHostModules, createModuleRegistry } from '../src/modules/index.js';
import { createStateModules } from '../src/state/state-module.js';
import { createStateSandbox } from '../src/state/testing.js';
import type { StateSandbox } from '../src/state/testing.js';

/*
 * Salt's state modules, from the examples in Salt's documentation, run against a throwaway root
 * with fake system tools first on PATH. Each example is applied three ways, as an operator would
 * check it: test=True predicts changes and changes nothing, the first run applies them, the second
 * run changes nothing (and a test=True run then predicts nothing).
 */

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/states/', import.meta.url));
const bounded = { timeout: 120_000 };

interface Host {
  sandbox: StateSandbox;
  env: TestExecutor;
  roots: string;
  pillarRoots: string;
}

let sequence = 0;
let h: Host;

before(async () => {
  const sandbox = await createStateSandbox({ fakes: join(FIXTURES, 'fakes') });
  const roots = join(sandbox.dir, 'file_roots');
  const pillarRoots = join(sandbox.dir, 'pillar_roots');
  await mkdir(roots);
  await mkdir(pillarRoots);
  await writeFile(join(pillarRoots, 'top.sls'), "base:\n  '*':\n    - data\n");
  await writeFile(
    join(pillarRoots, 'data.sls'),
    'motd: from pillar\napp:\n  settings:\n    port: 8080\n  key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPillar pillar@example"\n',
  );
  const files = new LocalRoots({ base: [roots] });
  const modules = createStateModules({
    files,
    pillarFiles: new LocalRoots({ base: [pillarRoots] }),
    root: sandbox.root,
    commandEnv: sandbox.env,
  });
  const env = await createTestExecutor({
    core: { id: 'test-minion', os: 'Debian', os_family: 'Debian' },
    modules: createModuleRegistry([
      ...modules,
      ...createHostModules({ root: sandbox.root, commandEnv: sandbox.env, files }),
    ]),
  });
  h = { sandbox, env, roots, pillarRoots };
});

after(async () => {
  await h.env.close();
  await h.sandbox.close();
});

function nextJid(): string {
  return String(20250501000000000000n + BigInt(++sequence));
}

async function call(fun: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): Promise<JobOutcome> {
  return h.env.executor.run({ jid: nextJid(), fun, args, kwargs });
}

async function apply(sls: string, kwargs: Record<string, unknown> = {}): Promise<Record<string, StateResult>> {
  const name = `s${++sequence}`;
  await writeFile(join(h.roots, `${name}.sls`), sls);
  const outcome = await call('state.sls', [name], kwargs);
  assert.ok(outcome.ret && typeof outcome.ret === 'object' && !Array.isArray(outcome.ret), JSON.stringify(outcome.ret));
  const byId: Record<string, StateResult> = {};
  for (const result of Object.values(outcome.ret as Record<string, StateResult>)) byId[result.__id__] = result;
  return byId;
}

/** Every file under the root and the fakes' state (their call log aside), with its mode. */
async function snapshot(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const key = `${prefix}/${entry.name}`;
      if (key === '/fake/calls.log') continue;
      const info = await lstat(path);
      // The fakes create their (empty) state files when first asked: that is not a change.
      if (
        prefix.startsWith('/fake') &&
        ((info.isFile() && info.size === 0) || (entry.isDirectory() && (await readdir(path)).length === 0))
      )
        continue;
      if (entry.isSymbolicLink()) out[key] = `link ${await readlink(path)}`;
      else if (entry.isDirectory()) {
        out[key] = `dir ${(info.mode & 0o7777).toString(8)}`;
        await walk(path, key);
      } else
        out[key] = `${(info.mode & 0o7777).toString(8)} ${createHash('sha256')
          .update(await readFile(path))
          .digest('hex')}`;
    }
  };
  await walk(h.sandbox.root, '');
  await walk(h.sandbox.fakeState, '/fake');
  return out;
}

const changed = (r: StateResult | undefined) => r !== undefined && Object.keys(r.changes).length > 0;

/**
 * The three runs of a Salt example: test=True predicts (result None with changes) and touches
 * nothing; the run applies (result True with changes); the next run and test=True change nothing.
 */
async function idempotent(
  sls: string,
  ids?: readonly string[],
  /** States whose prediction, as in Salt, names no changes (a command that would run). */
  silent: readonly string[] = [],
): Promise<Record<string, StateResult>> {
  const before = await snapshot();
  const predicted = await apply(sls, { test: true });
  const watched = ids ?? Object.keys(predicted);
  for (const id of watched) {
    const r = predicted[id];
    assert.equal(r?.result, null, `test=True predicts ${id}: ${JSON.stringify(r)}`);
    if (!silent.includes(id)) assert.ok(changed(r), `test=True names what ${id} would change: ${JSON.stringify(r)}`);
  }
  assert.deepEqual(await snapshot(), before, 'test=True changed nothing');
  const first = await apply(sls);
  for (const id of watched) {
    assert.equal(first[id]?.result, true, `${id} applied: ${JSON.stringify(first[id])}`);
    assert.ok(changed(first[id]), `${id} changed something: ${JSON.stringify(first[id])}`);
  }
  const second = await apply(sls);
  for (const [id, r] of Object.entries(second)) {
    assert.equal(r.result, true, `${id} on the second run: ${JSON.stringify(r)}`);
    assert.deepEqual(r.changes, {}, `${id} changes nothing the second time: ${r.comment}`);
  }
  const again = await apply(sls, { test: true });
  for (const [id, r] of Object.entries(again)) {
    assert.equal(r.result, true, `${id} predicts nothing once applied: ${JSON.stringify(r)}`);
    assert.deepEqual(r.changes, {}, id);
  }
  return first;
}

const rooted = (path: string) => join(h.sandbox.root, path);

test(
  'file.managed: a list of sources, source_hash, a Jinja template with defaults and context, pillar, backup',
  bounded,
  async () => {
    await mkdir(join(h.roots, 'http'), { recursive: true });
    await writeFile(
      join(h.roots, 'http', 'httpd.conf'),
      'Listen {{ port }}\nServerName {{ grains.id }}\nUser {{ custom_var }}\n',
    );
    const raw = 'static content\n';
    await writeFile(join(h.roots, 'http', 'static.txt'), raw);
    const sum = createHash('sha256').update(raw).digest('hex');
    const first = await idempotent(`
/etc/http/conf/http.conf:
  file.managed:
    - source:
      - salt://http/missing.conf
      - salt://http/httpd.conf
    - template: jinja
    - makedirs: True
    - dir_mode: 755
    - mode: 644
    - defaults:
        custom_var: "default value"
        port: 80
    - context:
        custom_var: override
/etc/http/static.txt:
  file.managed:
    - source: salt://http/static.txt
    - source_hash: sha256=${sum}
/etc/motd:
  file.managed:
    - contents_pillar: motd
/etc/app/settings:
  file.managed:
    - makedirs: True
    - contents:
      - port={{ pillar['app']['settings']['port'] }}
      - debug=False
`);
    assert.equal(
      await readFile(rooted('etc/http/conf/http.conf'), 'utf8'),
      'Listen 80\nServerName test-minion\nUser override\n',
    );
    assert.deepEqual(first['/etc/http/conf/http.conf']?.changes, { diff: 'New file', mode: '0644' });
    assert.equal(first['/etc/http/conf/http.conf']?.comment, 'File /etc/http/conf/http.conf updated');
    assert.equal((await stat(rooted('etc/http/conf'))).mode & 0o777, 0o755);
    assert.equal(await readFile(rooted('etc/motd'), 'utf8'), 'from pillar\n');
    assert.equal(await readFile(rooted('etc/app/settings'), 'utf8'), 'port=8080\ndebug=False\n');

    const predicted = await apply('/etc/motd:\n  file.managed:\n    - contents: changed\n    - backup: minion\n', {
      test: true,
    });
    assert.equal(predicted['/etc/motd']?.result, null);
    assert.equal(predicted['/etc/motd']?.changes.diff, '--- \n+++ \n@@ -1 +1 @@\n-from pillar\n+changed\n');
    assert.match(
      predicted['/etc/motd']?.comment ?? '',
      /^The file \/etc\/motd is set to be changed\nNote: No changes made/,
    );
    const backedUp = await apply('/etc/motd:\n  file.managed:\n    - contents: changed\n    - backup: minion\n');
    assert.equal(backedUp['/etc/motd']?.comment, 'File /etc/motd updated');
    const backups = await readdir(join(h.env.cacheDir, 'file_backup', 'etc'));
    assert.equal(backups.length, 1);
    assert.match(backups[0] ?? '', /^motd_\w{3}_\w{3}_\d\d_\d\d:\d\d:\d\d_\d{6}_\d{4}$/);

    // A source template sees the state's name, the source it came from, user, group and mode, as in Salt.
    await writeFile(
      join(h.roots, 'http', 'vars.conf'),
      'name={{ name }} source={{ source }} user={{ user }} group={{ group }} mode={{ mode }} x={{ x }}\n',
    );
    await apply(
      "/etc/http/vars.conf:\n  file.managed:\n    - source: salt://http/vars.conf\n    - template: jinja\n    - mode: '0600'\n    - context:\n        x: 1\n",
    );
    assert.equal(
      await readFile(rooted('etc/http/vars.conf'), 'utf8'),
      'name=/etc/http/vars.conf source=salt://http/vars.conf user=None group=None mode=0600 x=1\n',
    );

    const wrongSum = await apply(
      `/etc/other:\n  file.managed:\n    - source: salt://http/static.txt\n    - source_hash: sha256=${'0'.repeat(64)}\n`,
    );
    assert.equal(wrongSum['/etc/other']?.result, false);
    assert.match(
      wrongSum['/etc/other']?.comment ?? '',
      /^Specified sha256 checksum for salt:\/\/http\/static.txt \(0+\) does not match actual checksum/,
    );
    const newFile = await apply('/etc/new.conf:\n  file.managed:\n    - contents: x\n', { test: true });
    assert.deepEqual(
      newFile['/etc/new.conf']?.changes,
      { newfile: '/etc/new.conf' },
      "Salt's prediction for a new file",
    );
  },
);

test('file.directory with recurse and clean, and file.recurse of a salt:// tree with a template', bounded, async () => {
  await mkdir(rooted('srv/www/old'), { recursive: true });
  await writeFile(rooted('srv/www/stale.html'), 'old');
  await writeFile(rooted('srv/www/old/page'), 'old');
  await mkdir(join(h.roots, 'site', 'css'), { recursive: true });
  await writeFile(join(h.roots, 'site', 'index.html'), '<h1>{{ grains.id }}</h1>\n');
  await writeFile(join(h.roots, 'site', 'css', 'main.css'), 'body {}\n');
  const first = await idempotent(`
/srv/www:
  file.directory:
    - mode: 755
    - clean: True
    - require:
      - file: /srv/www/keep.html
/srv/www/keep.html:
  file.managed:
    - contents: kept
/srv/site:
  file.recurse:
    - source: salt://site
    - template: jinja
    - file_mode: 640
    - dir_mode: 750
    - include_empty: True
`);
  assert.deepEqual((await readdir(rooted('srv/www'))).sort(), ['keep.html']);
  assert.deepEqual(first['/srv/www']?.changes.removed, ['/srv/www/old', '/srv/www/stale.html']);
  assert.equal(await readFile(rooted('srv/site/index.html'), 'utf8'), '<h1>test-minion</h1>\n');
  assert.equal((await stat(rooted('srv/site/css/main.css'))).mode & 0o777, 0o640);
  assert.equal((await stat(rooted('srv/site/css'))).mode & 0o777, 0o750);
  assert.equal(first['/srv/site']?.comment, 'Recursively updated /srv/site');

  await writeFile(rooted('srv/site/css/extra.css'), 'x');
  const recursed = await idempotent(`
/srv/site:
  file.recurse:
    - source: salt://site
    - template: jinja
    - file_mode: 640
    - clean: True
/srv/data:
  file.directory:
    - makedirs: True
    - file_mode: 600
    - dir_mode: 700
    - recurse:
      - mode
`);
  assert.deepEqual(recursed['/srv/site']?.changes.removed, ['/srv/site/css/extra.css']);
  // clean keeps what the states it requires manage, named by ID or by name, or through require_in:
  // a file, everything a required file.recurse puts there (and nothing more), a required directory.
  await mkdir(rooted('srv/cleaned/code'), { recursive: true });
  await mkdir(rooted('srv/cleaned/data/deep'), { recursive: true });
  await writeFile(rooted('srv/cleaned/stale.conf'), 'old');
  await writeFile(rooted('srv/cleaned/code/not-from-source.txt'), 'old');
  await writeFile(rooted('srv/cleaned/data/deep/db'), 'data');
  const tree = `
/srv/cleaned:
  file.directory:
    - clean: True
    - require:
      - file: app-config
      - file: app-code
      - file: /srv/cleaned/data
app-config:
  file.managed:
    - name: /srv/cleaned/app.conf
    - contents: port=80
app-code:
  file.recurse:
    - name: /srv/cleaned/code
    - source: salt://site
/srv/cleaned/data:
  file.directory: []
app-extra:
  file.managed:
    - name: /srv/cleaned/extra.conf
    - contents: extra
    - require_in:
      - file: /srv/cleaned
`;
  const predicted = await apply(tree, { test: true });
  assert.deepEqual(Object.keys(predicted['/srv/cleaned']?.changes ?? {}).sort(), [
    '/srv/cleaned/code/not-from-source.txt',
    '/srv/cleaned/stale.conf',
  ]);
  const cleaned = await apply(tree);
  assert.deepEqual(cleaned['/srv/cleaned']?.changes.removed, [
    '/srv/cleaned/code/not-from-source.txt',
    '/srv/cleaned/stale.conf',
  ]);
  assert.deepEqual((await readdir(rooted('srv/cleaned'))).sort(), ['app.conf', 'code', 'data', 'extra.conf']);
  assert.deepEqual((await readdir(rooted('srv/cleaned/code'))).sort(), ['css', 'index.html']);
  assert.equal(await readFile(rooted('srv/cleaned/data/deep/db'), 'utf8'), 'data');
  assert.deepEqual((await apply(tree))['/srv/cleaned']?.changes, {}, 'the second run removes nothing');

  const missing = await apply('/srv/none:\n  file.recurse:\n    - source: salt://nothing-here\n');
  assert.deepEqual(
    [missing['/srv/none']?.result, missing['/srv/none']?.comment],
    [false, 'Recurse failed: none of the specified sources were found'],
  );
});

test(
  'file.replace, file.line, file.blockreplace, file.append/prepend, file.comment/uncomment, file.keyvalue',
  bounded,
  async () => {
    await mkdir(rooted('etc/ssh'), { recursive: true });
    await writeFile(
      rooted('etc/ssh/sshd_config'),
      '#PermitRootLogin yes\nPasswordAuthentication yes\nPort 22\nX11Forwarding yes\n',
    );
    await writeFile(rooted('etc/hosts.conf'), 'order hosts,bind\n');
    await writeFile(rooted('etc/app.ini'), 'name = app\nport=80\n# debug=1\n');
    await writeFile(rooted('etc/motd2'), 'welcome\n');
    const first = await idempotent(`
sshd-port:
  file.replace:
    - name: /etc/ssh/sshd_config
    - pattern: '^Port (\\d+)$'
    - repl: 'Port 2222'
    - backup: False
sshd-password:
  file.line:
    - name: /etc/ssh/sshd_config
    - mode: replace
    - match: ^PasswordAuthentication
    - content: PasswordAuthentication no
sshd-x11:
  file.line:
    - name: /etc/ssh/sshd_config
    - mode: delete
    - content: X11Forwarding yes
sshd-banner:
  file.line:
    - name: /etc/ssh/sshd_config
    - mode: ensure
    - after: ^Port
    - content: Banner /etc/issue
root-login:
  file.uncomment:
    - name: /etc/ssh/sshd_config
    - regex: PermitRootLogin
    - backup: False
hosts-block:
  file.blockreplace:
    - name: /etc/hosts.conf
    - marker_start: "# START managed zone -DO-NOT-EDIT-"
    - marker_end: "# END managed zone --"
    - content: |
        10.0.0.1 web
        10.0.0.2 db
    - append_if_not_found: True
    - backup: False
motd-append:
  file.append:
    - name: /etc/motd2
    - text:
      - Trust no one unless you have the keys.
      - "Hello {{ grains.id }}"
    - template: jinja
motd-prepend:
  file.prepend:
    - name: /etc/motd2
    - text: "# managed by Salt"
app-settings:
  file.keyvalue:
    - name: /etc/app.ini
    - key_values:
        port: '8080'
        debug: '0'
    - separator: '='
    - uncomment: '# '
    - append_if_not_found: True
`);
    assert.equal(
      await readFile(rooted('etc/ssh/sshd_config'), 'utf8'),
      'PermitRootLogin yes\nPasswordAuthentication no\nPort 2222\nBanner /etc/issue\n',
    );
    assert.equal(
      await readFile(rooted('etc/hosts.conf'), 'utf8'),
      'order hosts,bind\n# START managed zone -DO-NOT-EDIT-\n10.0.0.1 web\n10.0.0.2 db\n# END managed zone --\n',
    );
    assert.equal(
      await readFile(rooted('etc/motd2'), 'utf8'),
      '# managed by Salt\nwelcome\nTrust no one unless you have the keys.\nHello test-minion\n',
    );
    assert.equal(await readFile(rooted('etc/app.ini'), 'utf8'), 'name = app\nport=8080\ndebug=0\n');
    assert.deepEqual(
      [first['sshd-port']?.comment, first['motd-append']?.comment],
      ['Changes were made', 'Appended 2 lines'],
    );
    assert.match(String(first['sshd-port']?.changes.diff), /^--- \n\+\+\+ \n@@ -1,4 \+1,4 @@\n/);

    const commented = await idempotent(`
x11:
  file.comment:
    - name: /etc/ssh/sshd_config
    - regex: ^Banner
    - backup: False
`);
    assert.equal(commented.x11?.comment, 'Commented lines successfully');
    assert.match(await readFile(rooted('etc/ssh/sshd_config'), 'utf8'), /^#Banner \/etc\/issue$/m);
    const noMatch = await apply(
      'nothing:\n  file.comment:\n    - name: /etc/ssh/sshd_config\n    - regex: ^NoSuchOption\n',
    );
    assert.deepEqual([noMatch.nothing?.result, noMatch.nothing?.comment], [false, 'NoSuchOption: Pattern not found']);
    const missing = await apply('missing:\n  file.replace:\n    - name: /etc/none\n    - pattern: a\n    - repl: b\n');
    assert.deepEqual([missing.missing?.result, missing.missing?.comment], [false, '/etc/none: file not found']);
    const backup = await apply(
      "bak:\n  file.replace:\n    - name: /etc/hosts.conf\n    - pattern: 'order hosts,bind'\n    - repl: 'order bind'\n",
    );
    assert.equal(backup.bak?.result, true);
    assert.equal(
      await readFile(rooted('etc/hosts.conf.bak'), 'utf8'),
      (await readFile(rooted('etc/hosts.conf'), 'utf8')).replace('order bind', 'order hosts,bind'),
      "Salt's default backup: .bak",
    );
  },
);

test(
  'file.serialize (json and yaml, merge_if_exists), file.copy, file.rename, file.symlink, file.exists/missing/absent/touch',
  bounded,
  async () => {
    await mkdir(rooted('etc/app'), { recursive: true });
    await writeFile(rooted('etc/app/existing.json'), '{"keep": 1, "nested": {"a": 1}}\n');
    await writeFile(rooted('etc/app/source.txt'), 'copy me\n');
    await writeFile(rooted('etc/app/old-name'), 'move me\n');
    await idempotent(`
/etc/app/config.json:
  file.serialize:
    - dataset:
        name: app
        port: 8080
        tags: [a, b]
    - serializer: json
/etc/app/config.yaml:
  file.serialize:
    - dataset_pillar: app:settings
    - serializer: yaml
/etc/app/existing.json:
  file.serialize:
    - dataset:
        nested:
          b: 2
    - serializer: json
    - merge_if_exists: True
/etc/app/copy.txt:
  file.copy:
    - source: /etc/app/source.txt
    - mode: 600
/etc/app/new-name:
  file.rename:
    - source: /etc/app/old-name
/etc/app/current:
  file.symlink:
    - target: /etc/app/config.json
`);
    assert.equal(
      await readFile(rooted('etc/app/config.json'), 'utf8'),
      '{\n  "name": "app",\n  "port": 8080,\n  "tags": [\n    "a",\n    "b"\n  ]\n}\n',
    );
    assert.equal(await readFile(rooted('etc/app/config.yaml'), 'utf8'), 'port: 8080\n');
    assert.deepEqual(JSON.parse(await readFile(rooted('etc/app/existing.json'), 'utf8')), {
      keep: 1,
      nested: { a: 1, b: 2 },
    });
    assert.equal(await readFile(rooted('etc/app/copy.txt'), 'utf8'), 'copy me\n');
    assert.equal((await stat(rooted('etc/app/copy.txt'))).mode & 0o777, 0o600);
    assert.equal(await readFile(rooted('etc/app/new-name'), 'utf8'), 'move me\n');
    assert.equal(await readlink(rooted('etc/app/current')), '/etc/app/config.json');
    // PyYAML's and Python's json as Salt calls them: what would read back as something else is quoted,
    // lists under a key are not indented, non-ASCII is escaped.
    await idempotent(`
/etc/app/pyyaml.yaml:
  file.serialize:
    - dataset:
        enabled: 'yes'
        mode: '0644'
        hosts: [a, b]
        nested:
          list:
            - k: v
          empty: []
/etc/app/ascii.json:
  file.serialize:
    - dataset:
        name: café
        n: [1]
    - formatter: json
`);
    assert.equal(
      await readFile(rooted('etc/app/pyyaml.yaml'), 'utf8'),
      "enabled: 'yes'\nhosts:\n- a\n- b\nmode: '0644'\nnested:\n  empty: []\n  list:\n  - k: v\n",
    );
    assert.equal(
      await readFile(rooted('etc/app/ascii.json'), 'utf8'),
      '{\n  "n": [\n    1\n  ],\n  "name": "caf\\u00e9"\n}\n',
    );

    const checks = await apply(`
exists:
  file.exists:
    - name: /etc/app/config.json
missing:
  file.missing:
    - name: /etc/app/old-name
fails:
  file.exists:
    - name: /etc/app/nope
`);
    assert.deepEqual(
      [checks.exists?.result, checks.missing?.result, checks.fails?.result, checks.fails?.comment],
      [true, true, false, 'Specified path /etc/app/nope does not exist'],
    );
    await idempotent('/etc/app/copy.txt:\n  file.absent: []\n');
    const touched = await apply('/var/run/ready:\n  file.touch:\n    - makedirs: True\n');
    assert.deepEqual(
      [touched['/var/run/ready']?.changes, touched['/var/run/ready']?.comment],
      [{ new: '/var/run/ready' }, 'Created empty file /var/run/ready'],
    );
  },
);

test(
  'cmd.run with unless and creates, cmd.script from salt://, stateful commands, cmd.wait on watch',
  bounded,
  async () => {
    await mkdir(join(h.roots, 'scripts'), { recursive: true });
    await writeFile(
      join(h.roots, 'scripts', 'setup.sh'),
      '#!/bin/sh\necho "setting up {{ grains.id }} with $1"\ntouch done\n',
    );
    await mkdir(rooted('opt'), { recursive: true });
    const first = await idempotent(
      `
make-marker:
  cmd.run:
    - name: touch marker
    - cwd: /opt
    - creates: /opt/marker
unless-done:
  cmd.run:
    - name: echo ran > ran.txt
    - cwd: /opt
    - unless: test -f ran.txt
run-script:
  cmd.script:
    - source: salt://scripts/setup.sh
    - template: jinja
    - args: fast
    - cwd: /opt
    - creates: /opt/done
`,
      ['make-marker', 'run-script'],
      ['make-marker', 'run-script'],
    );
    assert.match(String(first['run-script']?.changes.stdout), /^setting up test-minion with fast$/);
    const stateful = await apply(`
reports:
  cmd.run:
    - name: echo working; echo "changed=no comment='nothing to do'"
    - stateful: True
reports-change:
  cmd.run:
    - name: echo 'changed=yes comment="did it" version=2'
    - stateful: True
`);
    assert.deepEqual([stateful.reports?.comment, stateful.reports?.changes], ['nothing to do', {}]);
    assert.equal(stateful['reports-change']?.comment, 'did it');
    assert.equal(stateful['reports-change']?.changes.version, 2);
    const predicted = await apply('never:\n  cmd.run:\n    - name: touch /never\n', { test: true });
    assert.deepEqual(
      [predicted.never?.result, predicted.never?.comment],
      [null, 'Command "touch /never" would have been executed'],
    );
    const failing = await apply('fails:\n  cmd.run:\n    - name: exit 3\n');
    assert.deepEqual([failing.fails?.result, failing.fails?.changes.retcode], [false, 3]);
    const other = await apply('as-nobody:\n  cmd.run:\n    - name: "true"\n    - runas: nosuchuser\n');
    assert.deepEqual(
      [other['as-nobody']?.result, other['as-nobody']?.comment],
      [false, "User 'nosuchuser' is not available"],
    );
  },
);

test(
  'pkg.installed (pkgs, version, hold, sources), pkg.latest, pkg.removed, pkg.purged, pkgrepo.managed',
  bounded,
  async () => {
    await writeFile(join(h.sandbox.fakeState, 'available'), 'nginx 1.24.0-1\ncurl 7.88-1\nvim 9.0-1\nhtop 3.2-1\n');
    await mkdir(join(h.roots, 'pkgs'), { recursive: true });
    await writeFile(join(h.roots, 'pkgs', 'tool_2.0-1_amd64.deb'), 'not really a package');
    await writeFile(join(h.roots, 'repo.gpg'), 'KEY');
    const first = await idempotent(`
web-packages:
  pkg.installed:
    - pkgs:
      - curl
      - nginx: 1.24.0-1
    - hold: True
vim:
  pkg.installed:
    - version: '>=9.0'
    - refresh: True
local-tool:
  pkg.installed:
    - sources:
      - tool: salt://pkgs/tool_2.0-1_amd64.deb
htop:
  pkg.latest: []
nginx-repo:
  pkgrepo.managed:
    - name: deb [signed-by=/etc/apt/keyrings/repo.gpg] http://nginx.org/packages/debian bookworm nginx
    - file: /etc/apt/sources.list.d/nginx.list
    - key_url: salt://repo.gpg
`);
    assert.deepEqual(first['web-packages']?.changes, {
      curl: { old: '', new: '7.88-1', hold: { old: '', new: 'hold' } },
      nginx: { old: '', new: '1.24.0-1', hold: { old: '', new: 'hold' } },
    });
    assert.equal(
      first['web-packages']?.comment,
      'The following packages were installed/updated: curl, nginx\nPackage curl is now being held.\nPackage nginx is now being held.',
    );
    assert.equal(await readFile(join(h.sandbox.fakeState, 'held'), 'utf8'), 'curl\nnginx\n');
    assert.deepEqual(first.htop?.changes, { htop: { old: '', new: '3.2-1' } });
    assert.ok(
      (await h.sandbox.calls()).includes(
        'dpkg -i -- ' + join(h.env.cacheDir, 'extrn_files', 'pkg', 'tool_2.0-1_amd64.deb'),
      ),
    );
    assert.equal(
      await readFile(rooted('etc/apt/sources.list.d/nginx.list'), 'utf8'),
      'deb [signed-by=/etc/apt/keyrings/repo.gpg] http://nginx.org/packages/debian bookworm nginx\n',
    );
    assert.equal(await readFile(rooted('etc/apt/keyrings/repo.gpg'), 'utf8'), 'KEY');

    // A newer candidate: pkg.latest upgrades, pkg.installed without a version does not.
    await writeFile(join(h.sandbox.fakeState, 'available'), 'nginx 1.24.0-1\ncurl 7.88-1\nvim 9.1-1\nhtop 3.3-1\n');
    const upgraded = await idempotent('htop:\n  pkg.latest: []\nvim:\n  pkg.installed: []\n', ['htop']);
    assert.deepEqual(upgraded.htop?.changes, { htop: { old: '3.2-1', new: '3.3-1' } });
    const removed = await idempotent('vim:\n  pkg.removed: []\nhtop:\n  pkg.purged: []\n');
    assert.equal(removed.htop?.comment, 'All targeted packages were purged.');
    assert.ok((await h.sandbox.calls()).includes('apt-get -q -y purge -- htop'));
    const unknown = await apply('nosuch:\n  pkg.latest: []\n');
    assert.deepEqual([unknown.nosuch?.result, unknown.nosuch?.comment], [false, "No information found for 'nosuch'."]);
  },
);

test('service.running/dead/enabled/disabled, with mod_watch restart and reload', bounded, async () => {
  await writeFile(join(h.sandbox.fakeState, 'units'), 'nginx\nredis\npostfix\ncups\n');
  await writeFile(join(h.sandbox.fakeState, 'active'), 'postfix\n');
  await writeFile(join(h.sandbox.fakeState, 'enabled'), 'cups\n');
  const first = await idempotent(
    `
nginx:
  service.running:
    - enable: True
redis:
  service.enabled: []
postfix:
  service.dead: []
cups:
  service.disabled: []
`,
    undefined,
    // As in Salt, a service state's prediction names no changes.
    ['nginx', 'redis', 'postfix', 'cups'],
  );
  assert.deepEqual(
    [first.nginx?.changes, first.nginx?.comment],
    [{ nginx: true }, 'Service nginx has been enabled, and is running'],
  );
  assert.deepEqual(
    [first.postfix?.changes, first.postfix?.comment],
    [{ postfix: false }, 'Service postfix was killed'],
  );
  assert.deepEqual(
    [first.redis?.changes, first.redis?.comment],
    [{ redis: true }, 'Service redis has been enabled, and is in the desired state'],
  );
  assert.equal(first.cups?.comment, 'Service cups has been disabled, and is in the desired state');
  // Salt's answers for a service that is not there: running fails, dead and disabled are fine.
  const ghosts = await apply(
    'g1:\n  service.running:\n    - name: ghost\ng2:\n  service.dead:\n    - name: ghost\ng3:\n  service.enabled:\n    - name: ghost\ng4:\n  service.disabled:\n    - name: ghost\n',
  );
  assert.deepEqual(
    ['g1', 'g2', 'g3', 'g4'].map((id) => [ghosts[id]?.result, ghosts[id]?.comment]),
    [
      [false, 'The named service ghost is not available'],
      [true, 'The named service ghost is not available'],
      [false, 'The named service ghost is not available'],
      [true, 'The named service ghost is not available'],
    ],
  );
  const ghostTest = await apply('g1:\n  service.running:\n    - name: ghost\n', { test: true });
  assert.deepEqual(
    [ghostTest.g1?.result, ghostTest.g1?.comment, ghostTest.g1?.changes],
    [null, 'Service ghost not present; if created in this state run, it would have been started', {}],
  );
  const calls = (await h.sandbox.calls()).length;
  await mkdir(rooted('etc/nginx'), { recursive: true });
  const watched = await apply(`
/etc/nginx/nginx.conf:
  file.managed:
    - contents: worker_processes 2;
nginx:
  service.running:
    - watch:
      - file: /etc/nginx/nginx.conf
redis:
  service.running:
    - reload: True
    - watch:
      - file: /etc/nginx/nginx.conf
`);
  assert.deepEqual([watched.nginx?.comment, watched.nginx?.changes], ['Service restarted', { nginx: true }]);
  assert.deepEqual(
    [watched.redis?.comment, watched.redis?.changes],
    ['Started Service redis', { redis: true }],
    'a watched service that was down is started',
  );
  const made = (await h.sandbox.calls()).slice(calls);
  assert.ok(made.includes('systemctl restart -- nginx'), made.join('\n'));
  const again = await apply(`
/etc/nginx/nginx.conf:
  file.managed:
    - contents: worker_processes 4;
redis:
  service.running:
    - reload: True
    - watch:
      - file: /etc/nginx/nginx.conf
`);
  assert.equal(again.redis?.comment, 'Service reloaded');
});

test('user.present/absent, group.present (members)/absent, ssh_auth.present/absent', bounded, async () => {
  await writeFile(
    join(h.sandbox.fakeState, 'passwd'),
    'alice:x:1001:1001::/home/alice:/bin/sh\nbob:x:1002:1002::/home/bob:/bin/sh\n',
  );
  await writeFile(join(h.sandbox.fakeState, 'group'), 'alice:x:1001:\nbob:x:1002:\n');
  const key = 'AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyMaterial';
  const first = await idempotent(`
admins:
  group.present:
    - gid: 3000
    - addusers:
      - alice
      - bob
deploy:
  user.present:
    - uid: 4000
    - home: /srv/deploy
    - shell: /bin/bash
    - groups:
      - admins
    - require:
      - group: admins
alice-key:
  ssh_auth.present:
    - user: alice
    - enc: ssh-ed25519
    - name: ${key}
    - comment: alice@laptop
    - options:
      - no-port-forwarding
pillar-key:
  ssh_auth.present:
    - user: alice
    - name: {{ pillar['app']['key'] }}
bob:
  user.absent: []
`);
  assert.equal(first.bob?.comment, 'Removed user bob');
  assert.match(await readFile(join(h.sandbox.fakeState, 'group'), 'utf8'), /^admins:x:3000:alice,bob(,deploy)?$/m);
  assert.equal(
    await readFile(rooted('home/alice/.ssh/authorized_keys'), 'utf8'),
    `no-port-forwarding ssh-ed25519 ${key} alice@laptop\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPillar pillar@example\n`,
  );
  assert.equal((await stat(rooted('home/alice/.ssh/authorized_keys'))).mode & 0o777, 0o600);
  assert.equal(first['alice-key']?.comment, `The authorized host key ${key} for user alice was added`);
  await idempotent(`
alice-key:
  ssh_auth.absent:
    - user: alice
    - enc: ssh-ed25519
    - name: ${key}
admins:
  group.absent: []
`);
  assert.equal(
    await readFile(rooted('home/alice/.ssh/authorized_keys'), 'utf8'),
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPillar pillar@example\n',
  );
});

test('cron.present/absent/env_present, sysctl.present, host.present/absent', bounded, async () => {
  await writeFile(rooted('etc/hosts') + '', '127.0.0.1\tlocalhost\n').catch(async () => {
    await mkdir(rooted('etc'), { recursive: true });
    await writeFile(rooted('etc/hosts'), '127.0.0.1\tlocalhost\n');
  });
  await writeFile(join(h.sandbox.fakeState, 'sysctl'), 'vm.swappiness 60\nnet.ipv4.ip_forward 0\n');
  await idempotent(`
date > /tmp/crontest:
  cron.present:
    - user: root
    - minute: 7
    - hour: 2
SHELL:
  cron.env_present:
    - value: /bin/bash
    - user: root
vm.swappiness:
  sysctl.present:
    - value: 10
net.ipv4.ip_forward:
  sysctl.present:
    - value: 1
    - config: /etc/sysctl.d/90-forward.conf
db.example.com:
  host.present:
    - ip:
      - 10.0.0.5
      - 10.0.0.6
`);
  assert.equal(
    await readFile(join(h.sandbox.fakeState, 'crontabs', 'root'), 'utf8'),
    '# Lines below here are managed by Salt, do not edit\nSHELL=/bin/bash\n# SALT_CRON_IDENTIFIER:date > /tmp/crontest\n7 2 * * * date > /tmp/crontest\n',
  );
  assert.equal(await readFile(rooted('etc/sysctl.d/99-salt.conf'), 'utf8'), 'vm.swappiness = 10\n');
  assert.equal(await readFile(rooted('etc/sysctl.d/90-forward.conf'), 'utf8'), 'net.ipv4.ip_forward = 1\n');
  assert.match(await readFile(join(h.sandbox.fakeState, 'sysctl'), 'utf8'), /vm\.swappiness 10/);
  assert.equal(
    await readFile(rooted('etc/hosts'), 'utf8'),
    '127.0.0.1\tlocalhost\n10.0.0.5\t\tdb.example.com\n10.0.0.6\t\tdb.example.com\n',
  );
  const moved = await idempotent(`
date > /tmp/crontest:
  cron.present:
    - minute: 30
    - hour: 3
db.example.com:
  host.absent:
    - ip: 10.0.0.6
`);
  assert.equal(moved['date > /tmp/crontest']?.comment, 'Cron date > /tmp/crontest updated');
  await idempotent('date > /tmp/crontest:\n  cron.absent: []\n');
  assert.equal(
    await readFile(join(h.sandbox.fakeState, 'crontabs', 'root'), 'utf8'),
    '# Lines below here are managed by Salt, do not edit\nSHELL=/bin/bash\n',
  );
});

test('git.latest clones a local repository, then follows its branch', bounded, async () => {
  const repo = join(h.sandbox.dir, 'upstream');
  await mkdir(repo);
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: repo,
      env: {
        PATH: h.sandbox.env.PATH,
        HOME: h.sandbox.dir,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@t',
      },
    })
      .toString()
      .trim();
  git('init', '--quiet', '--initial-branch=main');
  await writeFile(join(repo, 'README'), 'one\n');
  git('add', 'README');
  git('commit', '--quiet', '-m', 'one');
  const firstSha = git('rev-parse', 'HEAD');
  const sls = `app-code:\n  git.latest:\n    - name: ${repo}\n    - target: /srv/app\n    - rev: main\n`;
  const first = await idempotent(sls);
  assert.deepEqual(first['app-code']?.changes, { new: `${repo} => /srv/app`, revision: { old: null, new: firstSha } });
  assert.equal(await readFile(rooted('srv/app/README'), 'utf8'), 'one\n');
  await writeFile(join(repo, 'README'), 'two\n');
  git('commit', '--quiet', '-am', 'two');
  const secondSha = git('rev-parse', 'HEAD');
  const updated = await idempotent(sls);
  assert.deepEqual(updated['app-code']?.changes, { revision: { old: firstSha, new: secondSha } });
  assert.equal(await readFile(rooted('srv/app/README'), 'utf8'), 'two\n');
});

/** A zip with stored (uncompressed) members, as `zip -0` writes it. */
function storedZip(files: Record<string, string>): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (data: Buffer) => {
    let c = 0xffffffff;
    for (const byte of data) c = (crcTable[(c ^ byte) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text);
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

test('archive.extracted: a tar.gz and a zip from salt://, with source_hash and enforce_toplevel', bounded, async () => {
  const build = join(h.sandbox.dir, 'build');
  await mkdir(join(build, 'app-1.0', 'bin'), { recursive: true });
  await writeFile(join(build, 'app-1.0', 'bin', 'app'), '#!/bin/sh\necho app\n', { mode: 0o755 });
  await writeFile(join(build, 'app-1.0', 'README'), 'read me\n');
  await mkdir(join(h.roots, 'archives'), { recursive: true });
  await tar.c({ gzip: true, file: join(h.roots, 'archives', 'app-1.0.tar.gz'), cwd: build }, ['app-1.0']);
  const tarSum = createHash('sha256')
    .update(await readFile(join(h.roots, 'archives', 'app-1.0.tar.gz')))
    .digest('hex');
  await writeFile(join(h.roots, 'archives', 'tool.zip'), storedZip({ 'tool/': '', 'tool/run.sh': 'echo tool\n' }));
  await writeFile(join(h.roots, 'archives', 'bomb.tar.gz'), gzipSync(await tarOf({ 'a.txt': 'a', 'b.txt': 'b' })));
  const first = await idempotent(`
/opt/app:
  archive.extracted:
    - source: salt://archives/app-1.0.tar.gz
    - source_hash: ${tarSum}
/opt/tool:
  archive.extracted:
    - source: salt://archives/tool.zip
`);
  assert.equal(await readFile(rooted('opt/app/app-1.0/README'), 'utf8'), 'read me\n');
  assert.equal((await stat(rooted('opt/app/app-1.0/bin/app'))).mode & 0o777, 0o755);
  assert.equal(await readFile(rooted('opt/tool/tool/run.sh'), 'utf8'), 'echo tool\n');
  assert.equal(first['/opt/app']?.comment, 'salt://archives/app-1.0.tar.gz extracted to /opt/app');
  const bomb = await apply('/opt/bomb:\n  archive.extracted:\n    - source: salt://archives/bomb.tar.gz\n');
  assert.equal(bomb['/opt/bomb']?.result, false);
  assert.match(bomb['/opt/bomb']?.comment ?? '', /^Archive does not have a single top-level directory/);
  await idempotent(
    '/opt/bomb:\n  archive.extracted:\n    - source: salt://archives/bomb.tar.gz\n    - enforce_toplevel: False\n',
  );
  assert.equal(await readFile(rooted('opt/bomb/b.txt'), 'utf8'), 'b');
});

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const dir = join(h.sandbox.dir, `tar-${++sequence}`);
  await mkdir(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const out = join(h.sandbox.dir, `tar-${sequence}.tar`);
  await tar.c({ file: out, cwd: dir }, Object.keys(files));
  return readFile(out);
}

test(
  'grains.present/absent/list_present/list_absent: a grain set in one run is seen by the next run',
  bounded,
  async () => {
    await idempotent(`
roles:
  grains.list_present:
    - value:
      - web
      - cache
deploy:version:
  grains.present:
    - value: 42
datacenter:
  grains.present:
    - value: eu-west
`);
    assert.deepEqual(h.env.grains.items().roles, ['web', 'cache']);
    assert.deepEqual(h.env.grains.items().deploy, { version: 42 });
    // The Grain/State pattern: the next run's templates see what the last one set.
    await writeFile(
      join(h.roots, 'uses.sls'),
      "/etc/dc:\n  file.managed:\n    - contents: {{ grains['datacenter'] }} {{ grains['roles'] | join(',') }}\n",
    );
    const used = await call('state.sls', ['uses']);
    assert.equal(used.retcode, 0, JSON.stringify(used.ret));
    assert.equal(await readFile(rooted('etc/dc'), 'utf8'), 'eu-west web,cache\n');
    await idempotent(`
roles:
  grains.list_absent:
    - value: cache
datacenter:
  grains.absent:
    - destructive: True
`);
    assert.deepEqual(h.env.grains.items().roles, ['web']);
    assert.equal(h.env.grains.items().datacenter, undefined);
    assert.deepEqual((await call('grains.get', ['deploy:version'])).ret, 42, 'the execution module sees it too');
  },
);

test('module.run in both syntaxes, and the test states', bounded, async () => {
  const ran = await apply(`
new-syntax:
  module.run:
    - test.arg:
      - one
      - two: 2
    - grains.setval:
      - key: from_module
      - val: yes
legacy-syntax:
  module.run:
    - name: test.echo
    - text: legacy
missing-function:
  module.run:
    - name: nosuch.function
`);
  assert.equal(ran['new-syntax']?.result, true);
  assert.deepEqual(ran['new-syntax']?.changes['test.arg'], { args: ['one'], kwargs: { two: 2 } });
  assert.equal(ran['new-syntax']?.comment, 'test.arg: Success, grains.setval: Success');
  assert.equal(h.env.grains.items().from_module, true);
  assert.deepEqual(
    [ran['legacy-syntax']?.comment, ran['legacy-syntax']?.changes],
    ['Module function test.echo executed', { ret: 'legacy' }],
  );
  assert.deepEqual(
    [ran['missing-function']?.result, ran['missing-function']?.comment],
    [false, 'Module function nosuch.function is not available'],
  );
  const predicted = await apply('new-syntax:\n  module.run:\n    - test.arg: []\n', { test: true });
  assert.deepEqual(
    [predicted['new-syntax']?.result, predicted['new-syntax']?.comment],
    [null, 'Function test.arg to be executed.'],
  );

  const tests = await apply(`
nop:
  test.nop: []
succeed:
  test.succeed_without_changes:
    - comment: all good
changes:
  test.succeed_with_changes: []
fail:
  test.fail_without_changes: []
configurable:
  test.configurable_test_state:
    - changes: False
    - result: True
    - comment: configured
note:
  test.show_notification:
    - text: a note
`);
  assert.deepEqual(Object.fromEntries(Object.entries(tests).map(([id, r]) => [id, [r.result, r.comment]])), {
    nop: [true, 'Success!'],
    succeed: [true, 'all good'],
    changes: [true, 'Success!'],
    fail: [false, 'Failure!'],
    configurable: [true, 'configured'],
    note: [true, 'a note'],
  });
  assert.deepEqual(tests.changes?.changes, { testing: { old: 'Unchanged', new: 'Something pretended to change' } });
  const tested = await apply('changes:\n  test.succeed_with_changes: []\n', { test: true });
  assert.deepEqual(
    [tested.changes?.result, tested.changes?.comment],
    [null, "If we weren't testing, this would be successful with changes"],
  );
});

test('a state that needs a tool the host lacks fails alone, saying which tool', bounded, async () => {
  const bare = await createStateSandbox();
  const files = new LocalRoots({ base: [h.roots] });
  const env = await createTestExecutor({
    modules: createModuleRegistry([...createStateModules({ files, root: bare.root, commandEnv: bare.env })]),
  });
  try {
    await writeFile(
      join(h.roots, 'bare.sls'),
      'cron-job:\n  cron.present:\n    - name: "true"\nkernel:\n  sysctl.present:\n    - name: vm.swappiness\n    - value: 1\nok:\n  test.nop: []\n',
    );
    const outcome = await env.executor.run({ jid: nextJid(), fun: 'state.sls', args: ['bare'], kwargs: {} });
    const byId = Object.fromEntries(
      Object.values(outcome.ret as Record<string, StateResult>).map((r) => [r.__id__, r]),
    );
    assert.deepEqual(
      [byId['cron-job']?.result, byId['cron-job']?.comment],
      [false, 'cannot act here: crontab not found on PATH (cron states edit crontabs with it)'],
    );
    assert.deepEqual(
      [byId.kernel?.result, byId.kernel?.comment],
      [false, 'cannot act here: sysctl not found on PATH (sysctl states set kernel parameters with it)'],
    );
    assert.equal(byId.ok?.result, true);
  } finally {
    await env.close();
    await bare.close();
  }
});
