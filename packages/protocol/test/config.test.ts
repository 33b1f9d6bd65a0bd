import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { isPhoenixError } from '../src/errors.js';
import { loadConfig } from '../src/config.js';

const Schema = z.strictObject({
  clusterPublicKey: z.string().length(40),
  id: z.string().optional(),
  ports: z.strictObject({ api: z.int().default(8080) }).default({ api: 8080 }),
  masters: z.array(z.strictObject({ host: z.string(), port: z.int() })).default([]),
  fileRoots: z.record(z.string(), z.array(z.string())).default({}),
  imds: z.strictObject({ enabled: z.boolean().default(true) }).default({ enabled: true }),
  logLevel: z.enum(['info', 'debug']).default('info'),
});
const load = (env: NodeJS.ProcessEnv) => loadConfig(Schema, undefined, env, 'PHOENIX_TEST__');

test('a string key keeps a value that starts with [ or { as the string it is (a Z85 key may)', async () => {
  // Z85 has both brackets and braces in its alphabet: a random key starts with one now and then.
  for (const key of ['[wW7B0!x^mDqlT-7aVbqC}OvT%rq0*&e.P:Yl>%W', '{wW7B0!x^mDqlT-7aVbqC}OvT%rq0*&e.P:Yl>%W']) {
    const config = await load({ PHOENIX_TEST__clusterPublicKey: key });
    assert.equal(config.clusterPublicKey, key);
  }
  // Nor does a string key turn a word that looks like a number or a boolean into one.
  const config = await load({
    PHOENIX_TEST__clusterPublicKey: 'x'.repeat(40),
    PHOENIX_TEST__id: '12345',
  });
  assert.equal(config.id, '12345');
  assert.equal((await load({ PHOENIX_TEST__clusterPublicKey: 'x'.repeat(40), PHOENIX_TEST__id: 'true' })).id, 'true');
});

test('objects, arrays and records take JSON; numbers and booleans their scalars', async () => {
  const config = await load({
    PHOENIX_TEST__clusterPublicKey: 'k'.repeat(40),
    PHOENIX_TEST__masters: '[{"host":"10.0.0.1","port":4506}]',
    PHOENIX_TEST__fileRoots: '{"base":["/srv/salt"]}',
    PHOENIX_TEST__ports__api: '0',
    PHOENIX_TEST__imds__enabled: 'false',
    PHOENIX_TEST__logLevel: 'debug',
  });
  assert.deepEqual(config.masters, [{ host: '10.0.0.1', port: 4506 }]);
  assert.deepEqual(config.fileRoots, { base: ['/srv/salt'] });
  assert.equal(config.ports.api, 0);
  assert.equal(config.imds.enabled, false);
  assert.equal(config.logLevel, 'debug');
});

test('broken JSON for an object or array key is named; an unknown key is still refused', async () => {
  await assert.rejects(
    load({ PHOENIX_TEST__clusterPublicKey: 'k'.repeat(40), PHOENIX_TEST__masters: '[{"host":' }),
    (err: unknown) =>
      isPhoenixError(err, 'PHX_CONFIG_INVALID') && /PHOENIX_TEST__masters: not valid JSON/.test(err.message),
  );
  await assert.rejects(
    load({ PHOENIX_TEST__clusterPublicKey: 'k'.repeat(40), PHOENIX_TEST__colour: '[1]' }),
    (err: unknown) => isPhoenixError(err, 'PHX_CONFIG_INVALID') && /unknown key "colour"/.test(err.message),
  );
});
