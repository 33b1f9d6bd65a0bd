import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCurveKeyPair, isPhoenixError } from '@phoenix/protocol';
import { loadMinionConfig } from '../src/config.js';

/*
 * A Salt minion config (/etc/salt/minion as a Salt user has it) read as Phoenix's minion config:
 * Salt's names with Salt's meaning, Salt-only keys ignored with a warning or refused with the
 * reason, and an unknown key still an error naming the key and the file.
 */

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'phoenix-salt-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The key a Salt config has no word for; a Phoenix install adds it (or `phoenix call` stands in). */
const env = { PHOENIX_MINION__clusterPublicKey: generateCurveKeyPair().publicKey };

async function load(name: string, text: string) {
  const path = join(dir, name);
  await writeFile(path, text);
  const warnings: string[] = [];
  const config = await loadMinionConfig(path, env, { warn: (message) => warnings.push(message) });
  return { path, config, warnings };
}

async function refused(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  let message = '';
  await assert.rejects(loadMinionConfig(path, env, { warn: () => undefined }), (err: unknown) => {
    assert.ok(isPhoenixError(err, 'PHX_CONFIG_INVALID'), String(err));
    message = err.message;
    return true;
  });
  assert.ok(message.includes(path), `the error names the file: ${message}`);
  return message;
}

test("a Salt minion config is read with Salt's meaning", async () => {
  const { config, warnings } = await load(
    'minion',
    `# /etc/salt/minion of a masterless web server
id: web-1
master: salt.example.internal
master_type: failover
file_client: local
file_roots:
  base:
    - /srv/salt
    - /srv/formulas
  dev:
    - /srv/salt-dev
pillar_roots:
  base:
    - /srv/pillar
state_top: salt://site.sls
renderer: jinja | yaml
jinja_trim_blocks: False
jinja_lstrip_blocks: True
failhard: True
test: True
state_output: terse
state_verbose: False
cachedir: /var/cache/salt/minion
pki_dir: /etc/salt/pki/minion
log_level: warning
log_file: /var/log/salt/minion
grains:
  role: web
  roles:
    - web
    - cache
`,
  );
  assert.equal(config.id, 'web-1');
  assert.equal(config.fileClient, 'local');
  assert.deepEqual(config.fileRoots, { base: ['/srv/salt', '/srv/formulas'], dev: ['/srv/salt-dev'] });
  assert.deepEqual(config.pillarRoots, { base: ['/srv/pillar'] });
  assert.equal(config.cacheDir, '/var/cache/salt/minion');
  assert.equal(config.pkiDir, '/etc/salt/pki/minion');
  assert.equal(config.logLevel, 'warn', "Salt's warning is pino's warn");
  assert.deepEqual(config.grains, { role: 'web', roles: ['web', 'cache'] });
  const { state } = config;
  assert.equal(state.top, 'site.sls', 'salt://site.sls is the top file in the base roots');
  assert.equal(state.renderer, 'jinja|yaml');
  assert.equal(state.jinjaTrimBlocks, false);
  assert.equal(state.jinjaLstripBlocks, true);
  assert.equal(state.failhard, true);
  assert.equal(state.test, true);
  assert.equal(state.output, 'terse');
  assert.equal(state.verbose, false);
  // Keys of Salt's own transport and logging have no meaning here: accepted, each named in a warning.
  for (const key of ['master', 'master_type', 'log_file']) {
    assert.ok(
      warnings.some((w) => w.includes(`"${key}"`) && w.includes(join(dir, 'minion'))),
      `a warning names ${key} and the file: ${warnings.join('\n')}`,
    );
  }
  assert.equal(warnings.length, 3, warnings.join('\n'));
});

test("Salt's names for what the config leaves out keep Phoenix's defaults, and both spellings may agree", async () => {
  const { config, warnings } = await load(
    'short',
    'id: db-1\npki_dir: /etc/salt/pki/minion\ncachedir: /var/cache/salt\nstate_output: mixed_id\nfailhard: False\nstate:\n  failhard: false\n',
  );
  assert.equal(config.state.output, 'mixed_id');
  assert.equal(config.state.failhard, false);
  assert.equal(config.state.test, false);
  assert.equal(config.state.verbose, true);
  assert.equal(config.state.top, 'top.sls');
  assert.equal(config.fileClient, 'remote');
  assert.deepEqual(warnings, []);
});

test('an unknown key is refused, naming the key and the file', async () => {
  // A typo of state_output is neither Salt's nor Phoenix's.
  const message = await refused('typo', 'id: web-1\npki_dir: /tmp/pki\ncachedir: /tmp/cache\nstate_otput: terse\n');
  assert.match(message, /unknown key "state_otput"/);
});

test('a Salt name with a value Salt would refuse, a Salt-only key that would change a run, or two spellings that disagree: refused by name', async () => {
  const base = 'id: web-1\npki_dir: /tmp/pki\ncachedir: /tmp/cache\n';
  assert.match(await refused('bad-output', `${base}state_output: fancy\n`), /"state_output": /);
  assert.match(await refused('bad-renderer', `${base}renderer: mako|yaml\n`), /"renderer": .*jinja\|yaml only/);
  assert.match(await refused('bad-log-level', `${base}log_level: loud\n`), /"log_level": /);
  assert.match(
    await refused('startup', `${base}startup_states: highstate\n`),
    /"startup_states" is not supported: Phoenix has no start-up states/,
  );
  assert.match(
    await refused('both', `${base}failhard: True\nstate:\n  failhard: false\n`),
    /"failhard" and "state.failhard" are both given, with different values/,
  );
  // Salt's defaults for those keys change nothing, so they are accepted.
  const { config } = await load(
    'defaults',
    `${base}saltenv: base\ntransport: zeromq\ntop_file_merging_strategy: merge\n`,
  );
  assert.equal(config.id, 'web-1');
});
