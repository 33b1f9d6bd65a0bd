import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHighstate } from '../src/output/highstate.js';
import { formatNested } from '../src/output/nested.js';

const results = {
  'file_|-motd_|-/etc/motd_|-managed': {
    name: '/etc/motd',
    result: true,
    comment: 'File /etc/motd is in the correct state',
    changes: {},
    duration: 1.5,
    start_time: '10:00:00.000000',
    __run_num__: 0,
    __id__: 'motd',
    __sls__: 'base',
  },
  'service_|-nginx_|-nginx_|-running': {
    name: 'nginx',
    result: true,
    comment: 'Service nginx restarted',
    changes: { nginx: true },
    duration: 20,
    start_time: '10:00:00.100000',
    __run_num__: 2,
    __id__: 'nginx',
    __sls__: 'web',
  },
  'file_|-nginx-config_|-/etc/nginx/nginx.conf_|-managed': {
    name: '/etc/nginx/nginx.conf',
    result: true,
    comment: 'File /etc/nginx/nginx.conf updated',
    changes: { diff: '--- \n+++ \n@@ -1 +1 @@\n-listen 80;\n+listen 8080;' },
    duration: 3.25,
    start_time: '10:00:00.050000',
    __run_num__: 1,
    __id__: 'nginx-config',
    __sls__: 'web',
  },
  'cmd_|-migrate_|-./migrate_|-run': {
    name: './migrate',
    result: false,
    comment: 'Command "./migrate" run',
    changes: { pid: 42, retcode: 1, stdout: '', stderr: 'no database\nat all' },
    duration: 1000,
    start_time: '10:00:00.200000',
    __run_num__: 3,
    __id__: 'migrate',
    __sls__: 'web',
  },
};

test('changes output (the default): one line per clean success, full detail for changes and failures, then the summary', () => {
  assert.equal(
    formatHighstate(results, { colour: false, mode: 'changes', minion: 'web-1' }),
    `web-1:
  Name: /etc/motd - Function: file.managed - Result: Clean - Started: 10:00:00.000000 - Duration: 1.500 ms
----------
          ID: nginx-config
    Function: file.managed
        Name: /etc/nginx/nginx.conf
      Result: True
     Comment: File /etc/nginx/nginx.conf updated
     Started: 10:00:00.050000
    Duration: 3.250 ms
     Changes:
              ----------
              diff:
                  --- 
                  +++ 
                  @@ -1 +1 @@
                  -listen 80;
                  +listen 8080;
----------
          ID: nginx
    Function: service.running
      Result: True
     Comment: Service nginx restarted
     Started: 10:00:00.100000
    Duration: 20.000 ms
     Changes:
              ----------
              nginx:
                  True
----------
          ID: migrate
    Function: cmd.run
        Name: ./migrate
      Result: False
     Comment: Command "./migrate" run
     Started: 10:00:00.200000
    Duration: 1000.000 ms
     Changes:
              ----------
              pid:
                  42
              retcode:
                  1
              stdout:
              stderr:
                  no database
                  at all

Summary for web-1
-------------
Succeeded: 3 (changed=2)
Failed:    1
-------------
Total states run:     4
Total run time:   1.025 s`,
  );
});

test("terse, mixed and the _id forms are Salt's state_output; state_verbose false leaves out clean states", () => {
  const oneLines = (text: string): string[] =>
    text
      .split('\n')
      .filter((line) => line.startsWith('  Name: '))
      .map((line) => line.replace(/ - Started: .*$/, ''));
  const terse = formatHighstate(results, { colour: false, mode: 'terse', minion: 'web-1' });
  assert.deepEqual(oneLines(terse), [
    '  Name: /etc/motd - Function: file.managed - Result: Clean',
    '  Name: /etc/nginx/nginx.conf - Function: file.managed - Result: Changed',
    '  Name: nginx - Function: service.running - Result: Changed',
    '  Name: ./migrate - Function: cmd.run - Result: Failed',
  ]);
  assert.ok(!terse.includes('     Changes:'), 'terse shows no state in detail');
  assert.match(terse, /Succeeded: 3 \(changed=2\)\nFailed: {4}1\n/);

  // mixed: only failures in full; everything else one line.
  const mixed = formatHighstate(results, { colour: false, mode: 'mixed', minion: 'web-1' });
  assert.deepEqual(oneLines(mixed), oneLines(terse).slice(0, 3));
  assert.deepEqual(
    [...mixed.matchAll(/^ {10}ID: (.*)$/gm)].map((m) => m[1]),
    ['migrate'],
  );

  // The _id forms name a one-line state by its ID.
  assert.deepEqual(oneLines(formatHighstate(results, { colour: false, mode: 'terse_id' })), [
    '  Name: motd - Function: file.managed - Result: Clean',
    '  Name: nginx-config - Function: file.managed - Result: Changed',
    '  Name: nginx - Function: service.running - Result: Changed',
    '  Name: migrate - Function: cmd.run - Result: Failed',
  ]);

  // state_verbose: False drops the clean state, and the summary still counts it.
  const quiet = formatHighstate(results, { colour: false, mode: 'terse', verbose: false, minion: 'web-1' });
  assert.deepEqual(oneLines(quiet), oneLines(terse).slice(1));
  assert.match(quiet, /Succeeded: 3 \(changed=2\)\nFailed: {4}1\n-+\nTotal states run: {5}4/);
});

test('full output shows clean states in detail too; test=True predictions count as unchanged', () => {
  const predicted = {
    'pkg_|-vim_|-vim_|-installed': {
      name: 'vim',
      result: null,
      comment: 'The following packages would be installed/updated: vim',
      changes: { vim: { old: '', new: 'latest' } },
      duration: 2,
      start_time: '10:00:00.000000',
      __run_num__: 0,
      __id__: 'vim',
    },
    'file_|-motd_|-/etc/motd_|-managed': results['file_|-motd_|-/etc/motd_|-managed'],
  };
  const text = formatHighstate(predicted, { colour: false, mode: 'full', minion: 'web-1' });
  assert.match(text, / {10}ID: motd\n {4}Function: file.managed\n {8}Name: \/etc\/motd\n {6}Result: True/);
  assert.match(text, / {6}Result: None\n/);
  assert.match(text, / {14}vim:\n {18}----------\n {18}old:\n {18}new:\n {22}latest/);
  assert.match(text, /Succeeded: 2 \(unchanged=1, changed=0\)\nFailed: {4}0\n/);
  assert.match(text, /Total run time: {2}3\.500 ms$/);
});

test('colour follows Salt: green clean, cyan changed, red failed, yellow would change', () => {
  const text = formatHighstate(results, { colour: true, minion: 'web-1' });
  assert.ok(text.includes('\u001b[0;32m  Name: /etc/motd'), 'green');
  assert.ok(text.includes('\u001b[0;36m          ID: nginx\u001b[0;0m'), 'cyan');
  assert.ok(text.includes('\u001b[0;31m          ID: migrate\u001b[0;0m'), 'red');
  assert.ok(text.includes('\u001b[0;31mFailed:    1\u001b[0;0m'));
  assert.ok(!formatHighstate(results, { colour: false }).includes('\u001b'), 'no escape codes without colour');
});

test('a run that did not compile, and any other return, are shown as they are', () => {
  assert.equal(
    formatHighstate(['Rendering SLS failed: line 3', 'another error'], { colour: false, minion: 'web-1' }),
    'web-1:\n    Data failed to compile:\n----------\n    Rendering SLS failed: line 3\n----------\n    another error',
  );
  assert.equal(
    formatHighstate('ERROR: state runs are disabled', { colour: false, minion: 'web-1' }),
    'web-1:\n    ERROR: state runs are disabled',
  );
  assert.match(formatHighstate({}, { colour: false }), /^minion:\n\nSummary for minion\n[\s\S]*Total states run: {5}0/);
});

test('the nested outputter shows a return as YAML under its minion, with a note when it failed', () => {
  assert.equal(formatNested(true, { minion: 'web-1' }), 'web-1:\n    true');
  assert.equal(
    formatNested({ pid: 42, stdout: 'a\nb' }, { minion: 'local' }),
    'local:\n    pid: 42\n    stdout: |-\n      a\n      b',
  );
  assert.equal(
    formatNested(undefined, { minion: 'db-1', note: 'failed, retcode 1' }),
    'db-1: (failed, retcode 1)\n    null',
  );
});

test("an orchestration step's changes ({out: highstate, ret}) show each minion's state run inside the step, as Salt's outputter", () => {
  const step = {
    'salt_|-web_|-web_|-state': {
      name: 'web',
      result: true,
      comment: 'States ran successfully. Updating web-1.',
      changes: {
        out: 'highstate',
        ret: { 'web-1': { 'service_|-nginx_|-nginx_|-running': results['service_|-nginx_|-nginx_|-running'] } },
      },
      duration: 2000,
      start_time: '10:00:01.000000',
      __run_num__: 0,
      __id__: 'web',
      __sls__: 'orch.web',
    },
  };
  const text = formatHighstate(step, { colour: false, minion: 'm1_master' });
  const lines = text.split('\n');
  const at = lines.indexOf('     Changes:');
  assert.ok(at > 0, text);
  assert.equal(lines[at + 1], '              web-1:');
  assert.match(text, /^ {14}-{10}\n {24}ID: nginx$/m);
  assert.match(text, /^ {14}Summary for web-1$/m);
  assert.match(text, /^Summary for m1_master$/m);
});
