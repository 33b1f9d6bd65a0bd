import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CachedFiles, LocalRoots, RenderWorkers, sha256, TemplateRenderer, parseYaml } from '../src/index.js';
import type { StateFile, StateFiles, TemplateServices } from '../src/index.js';

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

test('LocalRoots serves salt:// and relative paths, the first root that has a file wins', async () => {
  const first = await tree('roots-a', { 'web/nginx.conf': 'from a\n', 'only-a.txt': 'a\n' });
  const second = await tree('roots-b', { 'web/nginx.conf': 'from b\n', 'web/extra/b.txt': 'b\n' });
  const dev = await tree('roots-dev', { 'web/nginx.conf': 'from dev\n' });
  const roots = new LocalRoots({ base: [first, second], dev: [dev] });
  const file = await roots.read('salt://web/nginx.conf');
  assert.equal(file?.content.toString(), 'from a\n');
  assert.equal(file?.hash, sha256(Buffer.from('from a\n')));
  assert.equal((await roots.read('web/extra/b.txt'))?.content.toString(), 'b\n');
  assert.equal((await roots.read('salt://web/nginx.conf?saltenv=dev'))?.content.toString(), 'from dev\n');
  assert.equal((await roots.read('web/nginx.conf', 'dev'))?.content.toString(), 'from dev\n');
  assert.equal(await roots.read('salt://missing.txt'), undefined);
  assert.equal(await roots.read('web/nginx.conf', 'nosuchenv'), undefined);
  assert.equal(await roots.read('salt://web'), undefined, 'a directory is not a file');
  assert.deepEqual(await roots.list('web/'), ['web/extra/b.txt', 'web/nginx.conf']);
  assert.deepEqual(await roots.list(''), ['only-a.txt', 'web/extra/b.txt', 'web/nginx.conf']);
});

test('LocalRoots refuses every path that leads outside its roots, including through a symlink', async () => {
  const root = await tree('roots-jail', { 'inside.txt': 'ok\n' });
  const outside = await tree('roots-outside', { 'secret.txt': 'secret\n' });
  await symlink(join(outside, 'secret.txt'), join(root, 'escape.txt'));
  await symlink(outside, join(root, 'escape-dir'));
  await symlink(join(root, 'inside.txt'), join(root, 'alias.txt'));
  const roots = new LocalRoots({ base: [root] });
  for (const path of [
    'salt://../roots-outside/secret.txt',
    '../roots-outside/secret.txt',
    '/etc/passwd',
    'salt:///etc/passwd',
    'a/../../x',
    'nul\0byte',
  ]) {
    await assert.rejects(
      roots.read(path),
      (err: Error & { code?: string }) => err.code === 'PHX_STATE_FILE_REFUSED',
      path,
    );
  }
  await assert.rejects(roots.read('escape.txt'), /leads outside the file roots/);
  await assert.rejects(roots.read('escape-dir/secret.txt'), /leads outside the file roots/);
  assert.equal((await roots.read('alias.txt'))?.content.toString(), 'ok\n', 'a link that stays inside is fine');
  assert.deepEqual(await roots.list(''), ['alias.txt', 'inside.txt'], 'links that escape are not listed either');
});

test('CachedFiles keeps files by content hash: no transfer for a known hash, last version when the server is gone', async () => {
  const cacheDir = join(scratch, 'file-cache');
  const content = Buffer.from('server copy\n');
  let reads = 0;
  let online = true;
  const server: StateFiles = {
    read: async (url) => {
      if (!online) throw new Error('master unreachable');
      reads++;
      return url === 'web/app.conf' ? { content, hash: sha256(content) } : undefined;
    },
    list: async () => {
      if (!online) throw new Error('master unreachable');
      return ['web/app.conf'];
    },
    hash: async (url) => {
      if (!online) throw new Error('master unreachable');
      return url === 'web/app.conf' ? sha256(content) : undefined;
    },
  };
  const cached = new CachedFiles(server, cacheDir);
  assert.equal((await cached.read('salt://web/app.conf'))?.content.toString(), 'server copy\n');
  assert.equal(reads, 1);
  assert.equal((await cached.read('salt://web/app.conf'))?.content.toString(), 'server copy\n');
  assert.equal(reads, 1, 'the hash matched the cache: the file was not sent again');
  assert.deepEqual(await readdir(join(cacheDir, 'files', 'sha256')), [sha256(content)]);
  assert.equal(await cached.read('salt://web/missing.conf'), undefined);

  online = false;
  const restarted = new CachedFiles(server, cacheDir);
  const offline: StateFile | undefined = await restarted.read('web/app.conf');
  assert.equal(offline?.content.toString(), 'server copy\n', 'served from the cache while the server is away');
  assert.deepEqual(await restarted.list(''), ['web/app.conf']);
  await assert.rejects(restarted.read('never/seen.conf'), /master unreachable/);

  await writeFile(join(cacheDir, 'files', 'sha256', sha256(content)), 'corrupted\n');
  await assert.rejects(restarted.read('web/app.conf'), /master unreachable/, 'a corrupt cache entry is never served');
});

test('YAML is read as Salt reads it: yes is true, 0644 stays a mode, duplicate keys are an error with the line', () => {
  const { value } = parseYaml('a:\n  mode: 0644\n  enable: yes\n  when: 2024-01-01\n', 'salt://x.sls');
  assert.deepEqual(value, { a: { mode: '0644', enable: true, when: '2024-01-01' } });
  // PyYAML's YAML 1.1 resolvers, not the YAML 1.1 spec's: y and n are strings (also as keys), an
  // exponent needs a dot and a sign to be a float, and an integer has no leading zero.
  assert.deepEqual(
    parseYaml(
      'y: n\nY: N\nyes: off\nno: On\nsci: 1e3\nexp: 1.5e3\nsigned: 1.5e+3\ndot: 1.\nlead: .5\nhalf: +.5\nnine: 09\nsexa: 1:20\nhex: 0x1f\nbin: 0b101\nnone: ~\n',
      'salt://x.sls',
    ).value,
    {
      y: 'n',
      Y: 'N',
      true: false,
      false: true,
      sci: '1e3',
      exp: '1.5e3',
      signed: 1500,
      dot: 1,
      lead: 0.5,
      half: '+.5',
      nine: '09',
      sexa: 80,
      hex: 31,
      bin: 5,
      none: null,
    },
  );
  assert.throws(
    () => parseYaml('a: 1\nb: 2\na: 3\n', 'salt://dup.sls'),
    /YAML error in salt:\/\/dup.sls, line 3 of the rendered output: Map keys must be unique\n {4}3 \| a: 3/,
  );
  const laughs = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (const [name, ref] of [
    ['b', 'a'],
    ['c', 'b'],
    ['d', 'c'],
    ['e', 'd'],
    ['f', 'e'],
    ['g', 'f'],
  ]) {
    laughs.push(`${name}: &${name} [${Array(10).fill(`*${ref}`).join(', ')}]`);
  }
  assert.throws(
    () => parseYaml(laughs.join('\n'), 'salt://laughs.sls'),
    /YAML error in salt:\/\/laughs.sls.*resource exhaustion/,
  );
});

test('SLS text over the limits is a YAML error naming the file, never a crash', () => {
  // Ten thousand nested flow collections took the process down inside V8 before the lexer counted them.
  const flood = `a: ${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  assert.throws(() => parseYaml(flood, 'salt://deep.sls'), /salt:\/\/deep.sls.*nested deeper than 32 levels/);
  const quoted = `a: "${'['.repeat(100)}"\nb: [1, [2]]\n# ${'{'.repeat(100)}\n`;
  assert.deepEqual(
    parseYaml(quoted, 'salt://ok.sls').value,
    { a: '['.repeat(100), b: [1, [2]] },
    'brackets in text are text',
  );
  let block = '';
  for (let i = 0; i < 40; i++) block += `${' '.repeat(i * 2)}k${i}:\n`;
  assert.throws(
    () => parseYaml(`${block}${' '.repeat(80)}v`, 'salt://blocks.sls'),
    /over a limit: nested deeper than 32/,
  );
  assert.throws(() => parseYaml(`a: ${'x'.repeat(5 * 1024 * 1024)}`, 'salt://big.sls'), /characters of rendered text/);
});

test(
  'Jinja renders like Salt with jinja_trim_blocks and jinja_lstrip_blocks on: Python printing, do, str methods, macros and filters',
  bounded,
  async () => {
    const renderer = new TemplateRenderer({ timeoutMs: 20_000, trimBlocks: true, lstripBlocks: true });
    const services: TemplateServices = {
      call: async () => 'unused',
      read: async (path) =>
        path === 'macros/users.jinja' ? '{% macro user(name) %}user {{ name | upper }}{% endmacro %}\n' : undefined,
      slsExists: async (name) => name === 'groups.web',
    };
    try {
      const output = await renderer.render({
        path: 'salt://web/init.sls',
        services,
        context: {
          grains: { id: 'web-1', roles: ['web', 'api'] },
          pillar: { port: 80, nested: { a: { b: 'deep' } } },
          opts: { id: 'web-1' },
        },
        source: `{% from './../macros/users.jinja' import user %}
list: {{ grains['roles'] }}
map: {{ {'a': 1, 'b': None, 'c': True} }}
    {% if grains.id.startswith('web') %}
web: yes
    {% endif %}
{% set items = [] %}{% do items.append('x') %}items: {{ items | json }}
split: {{ 'a,b'.split(',') }} upper: {{ 'ab'.upper() }}
{{ user('deploy') }}
deep: {{ salt['pillar.get']('nested:a:b') }} missing: {{ salt['pillar.get']('nested:x', 'fallback') }}
exists: {{ sls_exists('groups.web') }} {{ salt['state.sls_exists']('groups.db') }}
quoted: {{ "it's" | yaml_squote }} {{ 'a b' | quote }}
`,
      });
      assert.equal(
        output,
        `list: ['web', 'api']
map: {'a': 1, 'b': None, 'c': True}
web: yes
items: ["x"]
split: ['a', 'b'] upper: AB
user DEPLOY
deep: deep missing: fallback
exists: True False
quoted: 'it''s' 'a b'
`,
      );
    } finally {
      await renderer.close();
    }
  },
);

test(
  'a closed renderer hands its idle worker to the next run; a stopped one never does, and no variable carries over',
  bounded,
  async () => {
    const workers = new RenderWorkers({ max: 1 });
    const services: TemplateServices = {
      call: async () => null,
      read: async () => undefined,
      slsExists: async () => false,
    };
    const render = (renderer: TemplateRenderer, source: string): Promise<string> =>
      renderer.render({ path: 'salt://t.sls', services, context: { grains: {}, pillar: {}, opts: {} }, source });
    try {
      const first = new TemplateRenderer({ timeoutMs: 20_000, workers });
      assert.equal(await render(first, "{% set secret = 'x' %}{{ secret }}"), 'x');
      await first.close();
      assert.equal(workers.idle, 1, 'the first run left its worker');
      const second = new TemplateRenderer({ timeoutMs: 20_000, workers });
      assert.equal(await render(second, '{{ secret is defined }}'), 'False', 'a fresh environment in the same worker');
      assert.equal(workers.idle, 0, 'the second run took it');
      await second.close();
      assert.equal(workers.idle, 1);

      // A render stopped at its timeout takes its worker down: nothing is handed on.
      const stopped = new TemplateRenderer({ timeoutMs: 300, workers });
      await assert.rejects(render(stopped, '{% for i in range(10000000) %}{% endfor %}'), /took longer than 300 ms/);
      await stopped.close();
      assert.equal(workers.idle, 1, 'only the first worker waits');
      // A render in progress when its renderer closes (waiting on a salt[...] call) is failed, and its worker stopped.
      let called: () => void = () => undefined;
      const inCall = new Promise<void>((resolve) => (called = resolve));
      const closing = new TemplateRenderer({ timeoutMs: 20_000, workers });
      const pending = closing.render({
        path: 'salt://t.sls',
        services: { ...services, call: () => (called(), new Promise<never>(() => undefined)) },
        context: { grains: {}, pillar: {}, opts: {} },
        source: "{{ salt['test.sleep'](60) }}",
      });
      await inCall;
      await closing.close();
      await assert.rejects(pending, /the renderer was closed/);
      assert.equal(workers.idle, 0, 'the closing renderer had taken the idle worker and stopped it');
    } finally {
      await workers.close();
    }
    assert.equal(workers.idle, 0);
    const afterClose = new TemplateRenderer({ timeoutMs: 20_000, workers });
    assert.equal(await render(afterClose, '{{ 1 + 1 }}'), '2');
    await afterClose.close();
    assert.equal(workers.idle, 0, 'a closed pool keeps no worker');
  },
);
