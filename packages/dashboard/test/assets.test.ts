import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadDashboard } from '../src/index.js';

const dashboard = loadDashboard('/ui/');
const text = (path: string): string => {
  const asset = dashboard.assets.get(path);
  assert.ok(asset, `the dashboard has ${path}`);
  return asset.body.toString('utf8');
};

test('the page loads its script and style from the mount point and nothing from outside', () => {
  const html = text('index.html');
  assert.match(html, /<script type="module" src="\/ui\/app\/main\.js"><\/script>/);
  assert.match(html, /<link rel="stylesheet" href="\/ui\/style\.css" \/>/);
  assert.doesNotMatch(html, /https?:\/\//, 'no address outside this master');
  for (const [path, asset] of dashboard.assets) {
    if (asset.contentType.startsWith('text/javascript')) {
      assert.doesNotMatch(
        asset.body.toString('utf8'),
        /\bimport\s*\(?\s*["']https?:/,
        `${path} imports nothing remote`,
      );
    }
  }
});

test('the only inline script is the import map, and the policy allows exactly its hash', () => {
  const html = text('index.html');
  const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)];
  assert.equal(inline.length, 1);
  assert.match(inline[0]?.[0] ?? '', /type="importmap"/);
  const body = inline[0]?.[1] ?? '';
  const hash = createHash('sha256').update(body).digest('base64');
  const policy = dashboard.contentSecurityPolicy;
  assert.match(policy, /default-src 'none'/);
  assert.ok(policy.includes(`script-src 'self' 'sha256-${hash}'`), policy);
  assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
});

test('every module the UI imports is served: relative ones and the import map entries', () => {
  const map = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(text('index.html'))?.[1] ?? '{}') as {
    imports: Record<string, string>;
  };
  assert.deepEqual(Object.keys(map.imports).sort(), [
    '@phoenix/api/client',
    '@phoenix/protocol/arguments',
    '@tanstack/virtual-core',
    'eventsource-parser',
    'preact',
    'preact/hooks',
    'preact/jsx-runtime',
    'uplot',
  ]);
  for (const url of Object.values(map.imports)) text(url.replace(/^\/ui\//, ''));
  const served = (from: string, specifier: string): string => {
    if (specifier in map.imports) return (map.imports[specifier] as string).replace(/^\/ui\//, '');
    assert.ok(specifier.startsWith('./'), `${from} imports ${specifier}: neither relative nor in the import map`);
    return `${from.slice(0, from.lastIndexOf('/') + 1)}${specifier.slice(2)}`;
  };
  for (const [path, asset] of dashboard.assets) {
    if (!asset.contentType.startsWith('text/javascript')) continue;
    const source = asset.body.toString('utf8');
    for (const match of source.matchAll(/\b(?:import|export)\b[^'"`;]*?\bfrom\s*["']([^"']+)["']/g)) {
      const target = served(path, match[1] as string);
      assert.ok(dashboard.assets.has(target), `${path} imports ${match[1]}, served as ${target}`);
    }
  }
});
