import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalRoots, ownDirectories } from '@phoenix/state';
import type { JobOutcome } from '../src/executor/index.js';
import { createTestExecutor } from '../src/executor/testing.js';
import type { TestExecutor } from '../src/executor/testing.js';
import { createHostModules, createModuleRegistry } from '../src/modules/index.js';
import { createStateModule } from '../src/state/index.js';
import { createStateSandbox } from '../src/state/testing.js';
import type { StateSandbox } from '../src/state/testing.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/states/', import.meta.url));
const bounded = { timeout: 60_000 };

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'phoenix-state-render-'));
});
after(() => rm(scratch, { recursive: true, force: true }));

async function tree(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(scratch, name);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

/** An executor whose state module serves `roots` as file_roots, acting under a sandbox root. */
async function stateMinion(
  roots: string,
  sandbox: StateSandbox,
  options: { pillarRoots?: string; renderTimeoutMs?: number } = {},
): Promise<{
  env: TestExecutor;
  run: (fun: string, args?: unknown[], kwargs?: Record<string, unknown>, timeoutMs?: number) => Promise<JobOutcome>;
}> {
  const module = createStateModule({
    files: new LocalRoots({ base: [roots] }),
    ...(options.pillarRoots === undefined ? {} : { pillarFiles: new LocalRoots({ base: [options.pillarRoots] }) }),
    root: sandbox.root,
    commandEnv: sandbox.env,
    ...(options.renderTimeoutMs === undefined ? {} : { renderTimeoutMs: options.renderTimeoutMs }),
  });
  const env = await createTestExecutor({
    minionId: 'web-1',
    core: { id: 'web-1', os: 'Debian', role: 'web', service_group: 'web' },
    modules: createModuleRegistry([module]),
  });
  let sequence = 0;
  return {
    env,
    run: (fun, args = [], kwargs = {}, timeoutMs) =>
      env.executor.run({
        jid: String(20250101000000000000n + BigInt(++sequence)),
        fun,
        args,
        kwargs,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      }),
  };
}
test('a template calls execution modules through the registry without blocking the minion', bounded, async () => {
  const sandbox = await createStateSandbox();
  const roots = await tree('roots-calls', {
    'calls.sls': `
probe:
  file.managed:
    - name: /probe.txt
    - contents: |
        echo: {{ salt['cmd.run']('echo from-a-child-process') }}
        grain: {{ salt['grains.get']('role') }}
        slept: {{ salt['test.sleep'](0.3) }}
        ping: {{ salt.test.ping() }}
`,
  });
  const { env, run } = await stateMinion(roots, sandbox);
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const outcome = await run('state.sls', ['calls']);
    clearInterval(timer);
    assert.equal(outcome.retcode, 0, JSON.stringify(outcome.ret));
    const result = Object.values(outcome.ret as Record<string, { changes: { diff?: string } }>)[0];
    assert.equal(result?.changes.diff, 'New file');
    const { readFile } = await import('node:fs/promises');
    assert.equal(
      await readFile(join(sandbox.root, 'probe.txt'), 'utf8'),
      'echo: from-a-child-process\ngrain: web\nslept: True\nping: True\n',
    );
    assert.ok(ticks >= 5, `the event loop kept running while the template waited (${ticks} ticks)`);
  } finally {
    await env.close();
    await sandbox.close();
  }
});

test('render errors name the SLS file and line; a broken SLS changes nothing and never crashes', bounded, async () => {
  const sandbox = await createStateSandbox();
  const { env, run } = await stateMinion(join(FIXTURES, 'broken'), sandbox);
  try {
    const expectations: [string, RegExp][] = [
      [
        'undefined_var',
        /^Rendering SLS 'base:undefined_var' failed: Jinja error in salt:\/\/undefined_var.sls, line 4: Jinja variable 'nosuchvariable' is undefined\n {4}4 \| {5}- name: \{\{ nosuchvariable \}\}$/,
      ],
      [
        'bad_yaml',
        /^Rendering SLS 'base:bad_yaml' failed: YAML error in salt:\/\/bad_yaml.sls, line \d of the rendered output: .+/,
      ],
      [
        'bad_include',
        /^Rendering SLS 'base:bad_include' failed: Jinja error in salt:\/\/macros\/broken.jinja, line 3: /,
      ],
      [
        'syntax_error',
        /^Rendering SLS 'base:syntax_error' failed: Jinja error in salt:\/\/syntax_error.sls, line 3: .*\n {4}3 \| \{% for item in %\}/,
      ],
      [
        'not_a_dict',
        /^SLS 'base:not_a_dict' \(salt:\/\/not_a_dict.sls\) is not formed as a dictionary of IDs: it rendered to a list$/,
      ],
      ['does_not_exist', /^No matching sls found for 'does_not_exist' in env 'base'$/],
      [
        'bad_module_arg',
        /^Rendering SLS 'base:bad_module_arg' failed: Jinja error in salt:\/\/bad_module_arg.sls, line 5: Passed invalid arguments to test.echo: missing required argument 'text'\n {4}5 \| {5}- text: \{\{ salt\['test.echo'\]\(\) \}\}$/,
      ],
    ];
    for (const [sls, expected] of expectations) {
      const outcome = await run('state.sls', [sls]);
      assert.equal(outcome.retcode, 1, `${sls}: nothing ran, retcode 1 as Salt's compile errors`);
      assert.ok(Array.isArray(outcome.ret), `${sls}: the return is the list of errors`);
      assert.match((outcome.ret as string[])[0] ?? '', expected, sls);
    }
    assert.deepEqual(await readdir(sandbox.root), [], 'no state of a run that did not compile ran');
    // As in Salt, an unknown state function or a bad argument fails that state when its turn comes:
    // it names the ID, SLS, file and line, and the rest of the run is applied and reported.
    const unknown = await run('state.sls', ['unknown_state']);
    assert.equal(unknown.retcode, 2, JSON.stringify(unknown.ret));
    const results = Object.values(unknown.ret as Record<string, { __id__: string; result: boolean; comment: string }>);
    const byId = Object.fromEntries(results.map((r) => [r.__id__, r]));
    assert.equal(byId.typo?.result, false);
    assert.equal(
      byId.typo?.comment,
      "State 'file.manged' was not found in SLS 'unknown_state'\nReason: 'file.manged' is not available (ID 'typo' in SLS 'base:unknown_state' (salt://unknown_state.sls, line 5))",
    );
    assert.equal(byId['bad-arg']?.result, false);
    assert.equal(
      byId['bad-arg']?.comment,
      "State 'file.managed' of ID 'bad-arg' in SLS 'base:unknown_state' (salt://unknown_state.sls, line 8): argument 'mode': '0999' is not an octal file mode such as '0644'; unexpected argument 'moed'",
    );
    assert.equal(byId['applied-anyway']?.result, true);
    assert.deepEqual(await readdir(sandbox.root), ['applied-anyway'], 'only the valid state was applied');
    const fine = await run('test.ping');
    assert.equal(fine.ret, true, 'the minion is still answering');
  } finally {
    await env.close();
    await sandbox.close();
  }
});

test(
  'a template that never ends is stopped by the render timeout; a killed job stops its render',
  bounded,
  async () => {
    const sandbox = await createStateSandbox();
    const roots = await tree('roots-runaway', {
      // Ten billion steps over small lists: it runs out of time, not of memory.
      'loop.sls':
        '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\nx:\n  test.nop: []\n',
      'slow.sls': "{{ salt['test.sleep'](30) }}\n",
    });
    const { env, run } = await stateMinion(roots, sandbox, { renderTimeoutMs: 1_000 });
    try {
      const started = Date.now();
      const loop = await run('state.sls', ['loop']);
      assert.equal(loop.retcode, 1);
      assert.match(
        (loop.ret as string[])[0] ?? '',
        /Jinja error in salt:\/\/loop.sls: rendering took longer than 1000 ms and was stopped/,
      );
      assert.ok(Date.now() - started < 15_000);
      const killed = await run('state.sls', ['slow'], {}, 500);
      assert.equal(killed.success, false);
      assert.match(String(killed.ret), /timed out after 500 ms/);
    } finally {
      await env.close();
      await sandbox.close();
    }
  },
);

test(
  "file.* in a template sees what the states manage (state.root), and the minion's own trees where they are, as its file module does",
  bounded,
  async () => {
    const sandbox = await createStateSandbox();
    const pillarRoot = await tree('own-pillar', { 'top.sls': "base:\n  '*': []\n", 'env/prod.sls': 'x: 1\n' });
    const roots = await tree('roots-paths', {
      'paths.sls': `
{%- set own = opts['pillar_roots']['base'][0] ~ '/env/prod.sls' %}
probe:
  file.managed:
    - name: /probe.txt
    - contents: |
        managed: {{ salt['file.file_exists']('/etc/marker') }}
        dir: {{ salt['file.directory_exists']('/etc') }} {{ salt['file.exists']('/etc') }}
        read: {{ salt['file.read']('/etc/marker') | trim }}
        own: {{ salt['file.file_exists'](own) }}
        elsewhere: {{ salt['file.file_exists']('${join(scratch, 'elsewhere.txt')}') }}
`,
    });
    await mkdir(join(sandbox.root, 'etc'));
    await writeFile(join(sandbox.root, 'etc', 'marker'), 'in the managed root\n');
    // On this host but in none of the minion's own directories: a path of the managed root.
    await writeFile(join(scratch, 'elsewhere.txt'), 'host\n');
    const opts = { pillar_roots: { base: [pillarRoot] }, file_roots: { base: [roots] } };
    const files = new LocalRoots({ base: [roots] });
    const env = await createTestExecutor({
      minionId: 'web-1',
      core: { id: 'web-1', os: 'Debian' },
      modules: createModuleRegistry([
        createStateModule({ files, pillarFiles: new LocalRoots({ base: [pillarRoot] }), root: sandbox.root, opts }),
        ...createHostModules({ root: sandbox.root, files, hostDirs: ownDirectories(opts) }),
      ]),
    });
    try {
      const outcome = await env.executor.run({
        jid: '20250101000000000900',
        fun: 'state.sls',
        args: ['paths'],
        kwargs: {},
      });
      assert.equal(outcome.retcode, 0, JSON.stringify(outcome.ret));
      const { readFile } = await import('node:fs/promises');
      assert.equal(
        await readFile(join(sandbox.root, 'probe.txt'), 'utf8'),
        'managed: True\ndir: True True\nread: in the managed root\nown: True\nelsewhere: False\n',
      );
      const module = async (fun: string, path: string) =>
        (await env.executor.run({ jid: '20250101000000000901', fun, args: [path], kwargs: {} })).ret;
      assert.equal(await module('file.file_exists', '/etc/marker'), true);
      assert.equal(await module('file.file_exists', join(pillarRoot, 'env', 'prod.sls')), true);
      assert.equal(await module('file.directory_exists', join(roots)), true);
      assert.equal(await module('file.file_exists', join(roots, '..', 'own-pillar', 'top.sls')), true);
      assert.equal(await module('file.file_exists', join(scratch, 'elsewhere.txt')), false);
      assert.deepEqual(
        [
          await module('file.exists', '/etc'),
          await module('file.exists', '/etc/marker'),
          await module('file.exists', '/nope'),
        ],
        [true, true, false],
      );
    } finally {
      await env.close();
      await sandbox.close();
    }
  },
);

test(
  "an SLS sees Salt's names for where it is: sls, slspath, slsdotpath, slscolonpath, sls_path, tpldir, tpldot, tplfile",
  bounded,
  async () => {
    const sandbox = await createStateSandbox();
    const names = "{{ [sls, slspath, slsdotpath, slscolonpath, sls_path, tpldir, tpldot, tplfile] | join('|') }}";
    const roots = await tree('roots-names', {
      'web/app/init.sls': `a:\n  test.nop:\n    - where: "${names}"\n`,
      'web/conf.sls': `b:\n  test.nop:\n    - where: "${names}"\n`,
      'motd.sls': `c:\n  test.nop:\n    - where: "${names}"\n`,
    });
    const { env, run } = await stateMinion(roots, sandbox);
    try {
      const outcome = await run('state.show_sls', ['web.app,web.conf,motd']);
      const high = outcome.ret as Record<string, { test: [string, { where: string }] }>;
      assert.deepEqual(
        ['a', 'b', 'c'].map((id) => high[id]?.test[1]?.where),
        [
          'web.app|web/app|web.app|web:app|web_app|web/app|web.app|web/app/init.sls',
          'web.conf|web|web|web|web|web|web|web/conf.sls',
          'motd|||||.||motd.sls',
        ],
        JSON.stringify(outcome.ret),
      );
    } finally {
      await env.close();
      await sandbox.close();
    }
  },
);
