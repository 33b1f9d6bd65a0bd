import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepMerge, traverse } from '../src/data.js';
import { StateCompileError } from '../src/errors.js';
import { parseYaml } from '../src/render/yaml.js';
import { matchTop, parseTop } from '../src/top/top-file.js';

const top = (text: string) => parseTop(parseYaml(text, 'salt://top.sls').value, 'the top file');
const web1 = { id: 'web-1', grains: { id: 'web-1', role: 'web', os: 'Debian', env: 'prod' } };

test('top file targets: glob by default, grain, pcre, list and compound matches', () => {
  const targets = top(`
base:
  '*':
    - common
  'web-*':
    - by-glob
  'db-*':
    - never
  'role:web':
    - match: grain
    - by-grain
  'web-\\d+$':
    - match: pcre
    - by-pcre
  'db-1,web-1':
    - match: list
    - by-list
  'G@os:Debian and not G@env:dev':
    - match: compound
    - by-compound
`);
  assert.deepEqual(
    matchTop(targets, web1).map((m) => m.name),
    ['common', 'by-glob', 'by-grain', 'by-pcre', 'by-list', 'by-compound'],
  );
  assert.deepEqual(
    matchTop(targets, { id: 'db-1', grains: { id: 'db-1', os: 'Debian', env: 'dev' } }).map((m) => m.name),
    ['common', 'never', 'by-list'],
  );
});

test("top file: 'order' sorts targets, base comes first, each SLS once, ignore_missing is kept", () => {
  const targets = top(`
dev:
  '*':
    - dev-tools
base:
  'web-1':
    - specific
    - order: 10
    - ignore_missing: True
  '*':
    - common
    - specific
`);
  assert.deepEqual(matchTop(targets, web1), [
    { env: 'base', name: 'common', ignoreMissing: false },
    { env: 'base', name: 'specific', ignoreMissing: false },
    { env: 'dev', name: 'dev-tools', ignoreMissing: false },
  ]);
});

test('a top file that cannot be used is one compile error per problem, naming the target', () => {
  try {
    top(`
base:
  'role:web':
    - match: nodegroup
    - web
  'G@role:web and':
    - match: compound
    - web
  'fine':
    - ../escape
    - {order: soon}
  'not-a-list': web
`);
    assert.fail('expected a compile error');
  } catch (err) {
    assert.ok(err instanceof StateCompileError);
    assert.equal(err.errors.length, 5);
    assert.match(err.errors[0] ?? '', /target 'role:web' in 'base': match type "nodegroup" is not supported/);
    assert.match(err.errors[1] ?? '', /target 'G@role:web and' in 'base': /);
    assert.match(err.errors[2] ?? '', /'..\/escape' is not a valid SLS name/);
    assert.match(err.errors[3] ?? '', /'order' must be a number/);
    assert.match(err.errors[4] ?? '', /target 'not-a-list' in 'base' must be a list/);
  }
});

test('pillar merge: mappings merge key by key, later wins, lists and scalars are replaced', () => {
  const common = { nginx: { port: 80, workers: 2, modules: ['gzip'] }, motd: 'hi', users: ['a'] };
  const group = { nginx: { port: 8080, modules: ['ssl'] }, users: ['b'] };
  const host = { nginx: { workers: 4 }, motd: null };
  assert.deepEqual(deepMerge(deepMerge(common, group), host), {
    nginx: { port: 8080, workers: 4, modules: ['ssl'] },
    motd: null,
    users: ['b'],
  });
  assert.deepEqual(common.nginx, { port: 80, workers: 2, modules: ['gzip'] }, 'inputs are not modified');
  assert.equal(
    Object.getPrototypeOf(deepMerge({}, JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>)),
    Object.prototype,
  );
  assert.equal(traverse({ a: { b: [{ c: 1 }] } }, 'a:b:0:c', 'x'), 1);
  assert.equal(traverse({ a: 1 }, 'a:b', 'fallback'), 'fallback');
});
