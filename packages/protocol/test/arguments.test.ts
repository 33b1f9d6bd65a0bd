import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine, shellWords } from '../src/arguments.js';

test('words split as a POSIX shell splits them', () => {
  assert.deepEqual(shellWords('exit 3'), ['exit', '3']);
  assert.deepEqual(shellWords(`  'exit 3'  cwd=/tmp `), ['exit 3', 'cwd=/tmp']);
  assert.deepEqual(shellWords(`"a \\"b\\" \\$c \\d" e\\ f '' x'y'"z"`), ['a "b" $c \\d', 'e f', '', 'xyz']);
  assert.deepEqual(shellWords('a #b c\nd'), ['a', 'd']);
  assert.deepEqual(shellWords('a#b'), ['a#b']);
  assert.deepEqual(shellWords('a\\\nb'), ['ab']);
  assert.deepEqual(shellWords(''), []);
});

test('a line that does not split says why', () => {
  assert.match((shellWords("echo 'x") as { error: string }).error, /unterminated ' quote at character 6/);
  assert.match((shellWords('echo "x') as { error: string }).error, /unterminated " quote/);
  assert.match((shellWords('echo \\') as { error: string }).error, /backslash ends the line/);
});

test('then Salt’s rule: key=value is a keyword, literals are typed', () => {
  assert.deepEqual(parseCommandLine(`'exit 3' cwd=/tmp 42 test=True '[1, "a"]' runas="web user"`), {
    args: ['exit 3', 42, [1, 'a']],
    kwargs: { cwd: '/tmp', test: true, runas: 'web user' },
  });
});
