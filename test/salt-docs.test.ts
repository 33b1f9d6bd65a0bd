import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStateSandbox } from '@phoenix/minion/state/testing';
import { useTempDir } from '@phoenix/devstack/testing';
import { json, phoenix, type CliResult } from './lib/cli.js';

/*
 * Examples from Salt's documentation (test/fixtures/salt-docs: requisites, ordering, a formula's
 * map.jinja with defaults merged over pillar, Jinja idioms) as a Salt user runs them: `phoenix call
 * --local` with a Salt minion config and a throwaway state.root. test=True predicts and changes
 * nothing, the first run applies, the second changes nothing.
 */

const TREE = fileURLToPath(new URL('../../test/fixtures/salt-docs/', import.meta.url));
const FAKES = fileURLToPath(new URL('../../test/fixtures/states/fakes/', import.meta.url));
const tmp = useTempDir('phoenix-salt-docs-');

interface StateResult {
  __id__: string;
  __run_num__: number;
  result: boolean | null;
  comment: string;
  changes: Record<string, unknown>;
}
type Results = Record<string, StateResult>;

test("Salt's documented examples through phoenix call --local: predict, apply, then nothing to do", async () => {
  const sandbox = await createStateSandbox({ fakes: FAKES });
  try {
    await writeFile(join(sandbox.fakeState, 'units'), 'webapp\n');
    const config = join(tmp(), 'minion');
    await writeFile(
      config,
      [
        'id: web-1',
        'file_client: local',
        `file_roots: {base: [${join(TREE, 'salt')}]}`,
        `pillar_roots: {base: [${join(TREE, 'pillar')}]}`,
        `cachedir: ${join(tmp(), 'cache')}`,
        'grains: {os_family: Debian}',
        `state: {root: ${sandbox.root}}`,
        '',
      ].join('\n'),
    );
    const highstate = async (...args: string[]): Promise<{ out: CliResult; results: Results }> => {
      const out = await phoenix(
        ['call', '--local', '--config', config, 'state.highstate', ...args, '--out', 'json'],
        sandbox.env,
      );
      return { out, results: json<{ local: Results }>(out).local };
    };
    const byId = (results: Results) => Object.fromEntries(Object.values(results).map((r) => [r.__id__, r]));
    const order = (results: Results) =>
      Object.values(results)
        .sort((a, b) => a.__run_num__ - b.__run_num__)
        .map((r) => r.__id__);

    const predicted = await highstate('test=True');
    assert.equal(predicted.out.code, 0, predicted.out.stdout + predicted.out.stderr);
    assert.deepEqual(
      Object.values(predicted.results).filter((r) => r.result === false),
      [],
      'nothing fails in a prediction',
    );
    assert.equal(byId(predicted.results)['graceful-down']?.result, null, 'prereq: the site would change');
    assert.deepEqual(await readdir(sandbox.root), [], 'test=True changed nothing');

    const first = await highstate();
    assert.equal(first.out.code, 0, JSON.stringify(first.results, null, 1));
    const ran = order(first.results);
    assert.equal(ran[0], 'first-of-all', 'order: first');
    assert.deepEqual(ran.slice(-2), ['report', 'listener_webapp'], "order: last, then listen_in's restart");
    assert.ok(ran.indexOf('graceful-down') < ran.indexOf('site-code'), 'prereq runs before its target');
    const states = byId(first.results);
    assert.equal(states['build-site']?.comment, 'Command "echo built > srv/site/built" run', 'onchanges fired');
    assert.equal(states['notify-failure']?.comment, 'State was not run because onfail req did not change');
    assert.deepEqual(states.issue?.changes, { diff: 'New file', mode: '0644' }, 'use copied contents and mode');
    assert.equal(
      await readFile(join(sandbox.root, 'etc/webapp/webapp.ini'), 'utf8'),
      [
        '# managed by Salt for web-1',
        'user     = www-data',
        'port     = 8000',
        'workers  = 4',
        'feature.1 = login',
        'feature.2 = search',
        '[blog]',
        'root = /srv/blog',
        'tls = off',
        '[shop]',
        'root = /srv/shop',
        'tls = on',
        '',
      ].join('\n'),
      'map.jinja: filter_by, import_yaml defaults, defaults.merge with pillar, a macro, loops',
    );
    assert.deepEqual(JSON.parse(await readFile(join(sandbox.root, 'etc/webapp/settings.json'), 'utf8')), {
      conf_dir: '/etc/webapp',
      features: ['login', 'search'],
      port: 8000,
      sites: { blog: {}, shop: { tls: true } },
      user: 'www-data',
      workers: 4,
    });
    assert.equal(
      await readFile(join(sandbox.root, 'etc/webapp/features.yaml'), 'utf8'),
      'features:\n- login\n- search\n',
    );
    assert.equal(await readFile(join(sandbox.root, 'srv/site-log'), 'utf8'), 'site going down\n');
    const calls = (await sandbox.calls()).filter((line) => /^systemctl (start|restart|enable)/.test(line));
    assert.deepEqual(calls, ['systemctl start -- webapp', 'systemctl enable -- webapp', 'systemctl restart -- webapp']);

    const second = await highstate();
    assert.equal(second.out.code, 0);
    assert.deepEqual(
      Object.values(second.results)
        .filter((r) => Object.keys(r.changes).length > 0)
        .map((r) => r.__id__),
      [],
      'the second run changes nothing',
    );
    assert.equal(second.results['service_|-listener_webapp_|-webapp_|-mod_watch'], undefined);
    const again = await highstate('test=True');
    assert.deepEqual(
      Object.values(again.results)
        .filter((r) => r.result !== true)
        .map((r) => r.__id__),
      [],
      'once applied, nothing would change',
    );
  } finally {
    await sandbox.close();
  }
});
