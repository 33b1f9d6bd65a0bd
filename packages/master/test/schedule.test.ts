import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPhoenixError, parseConfig } from '@phoenix/protocol';
import { MasterConfigSchema } from '../src/config.js';
import { scheduledJob, tickOf } from '../src/schedule/tick.js';

const base = { pkiDir: '/tmp/pki' };
const parse = (schedule: unknown) => parseConfig(MasterConfigSchema, { ...base, schedule }, 'master.yaml');

/** The message of the config error `schedule` raises, asserting it is the typed config error. */
function configError(schedule: unknown): string {
  try {
    parse(schedule);
  } catch (err) {
    assert.ok(isPhoenixError(err));
    assert.equal(err.code, 'PHX_CONFIG_INVALID');
    return err.message;
  }
  assert.fail('the schedule was accepted');
}

test('a schedule entry gets its defaults: a glob-targeted state.highstate, no splay, enabled', () => {
  const config = parse([{ name: 'highstate', cron: '*/30 * * * *', target: '*' }]);
  assert.deepEqual(config.schedule, [
    {
      name: 'highstate',
      cron: '*/30 * * * *',
      target: '*',
      targetType: 'glob',
      function: 'state.highstate',
      args: [],
      kwargs: {},
      splaySeconds: 0,
      enabled: true,
    },
  ]);
  assert.deepEqual(parse(undefined).schedule, []);
  // Six fields: seconds first.
  assert.equal(parse([{ name: 'fast', cron: '*/2 * * * * *', target: 'web*' }]).schedule[0]?.cron, '*/2 * * * * *');
});

test('a bad schedule entry is an error naming the file and the key at fault', () => {
  assert.match(
    configError([{ name: 'h', cron: '61 * * * *', target: '*' }]),
    /master\.yaml.*"schedule\.0\.cron".*minute/,
  );
  assert.match(configError([{ name: 'h', cron: 'every day', target: '*' }]), /"schedule\.0\.cron": not a cron/);
  assert.match(
    configError([
      { name: 'h', cron: '* * * * *', target: '*' },
      { name: 'h', cron: '* * * * *', target: 'web*' },
    ]),
    /"schedule\.1\.name": "h" is used by an earlier entry/,
  );
  assert.match(
    configError([{ name: 'h', cron: '* * * * *', target: '*', splay: 5 }]),
    /unknown key "schedule\.0\.splay"/,
  );
  assert.match(
    configError([{ name: 'h', cron: '* * * * *', target: '*', splaySeconds: -1 }]),
    /"schedule\.0\.splaySeconds"/,
  );
  assert.match(
    configError([{ name: 'h', cron: '* * * * *', target: '*', function: 'highstate' }]),
    /"schedule\.0\.function"/,
  );
  assert.match(
    configError([{ name: 'h', cron: '* * * * *', target: 'G@', targetType: 'compound' }]),
    /"schedule\.0\.target"/,
  );
  assert.match(configError([{ name: 'bad name', cron: '* * * * *', target: '*' }]), /"schedule\.0\.name"/);
  assert.match(configError([{ name: 'h', cron: '* * * * *' }]), /"schedule\.0\.target"/);
});

test('a tick is the firing time to the whole second, so every master names it the same', () => {
  const tick = Date.parse('2030-05-02T10:00:02Z');
  assert.equal(tickOf(new Date(tick)), tick);
  assert.equal(tickOf(tick + 999), tick);
  assert.equal(tickOf(new Date(tick + 1)), tick);
  assert.equal(tickOf(tick + 1000), tick + 1000);
});

test('a tick fires an ordinary job that names its entry, tick and master, with the splay in milliseconds', () => {
  const [entry] = parse([
    {
      name: 'nightly',
      cron: '0 3 * * *',
      target: 'G@role:web',
      targetType: 'compound',
      kwargs: { test: true },
      splaySeconds: 30,
    },
  ]).schedule;
  assert.ok(entry);
  const tick = Date.parse('2030-05-02T03:00:00Z');
  assert.deepEqual(scheduledJob(entry, tick, 'm-2'), {
    target: 'G@role:web',
    targetType: 'compound',
    fun: 'state.highstate',
    args: [],
    kwargs: { test: true },
    submitter: 'schedule/nightly@m-2',
    splayMs: 30_000,
    schedule: { name: 'nightly', tickAt: tick },
  });
  assert.equal('splayMs' in scheduledJob({ ...entry, splaySeconds: 0 }, tick, 'm-2'), false);
});
