import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { useTempDir } from '@phoenix/devstack/testing';
import { json, phoenix, PHOENIX_BIN } from './lib/cli.js';

const home = useTempDir('phoenix-help-');
// No cluster anywhere: help, version, completion and usage errors need none.
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_HOME: home(), PHOENIX_API: undefined, PHOENIX_TOKEN: undefined });

/** Every command path, as the CLI's own completion script lists them (" keys list" → ['keys', 'list']). */
async function commandPaths(): Promise<string[][]> {
  const script = await phoenix(['completion', 'bash'], env());
  assert.equal(script.code, 0, script.stderr);
  const line = script.stdout.split('\n').find((l) => l.includes(') path="$path $word"'));
  assert.ok(line !== undefined, 'the completion script lists the command paths');
  return [...line.matchAll(/" ([a-z -]+)"/g)].map((m) => (m[1] as string).split(' '));
}

test('every command and subcommand has help with its options explained and an example', async () => {
  const paths = await commandPaths();
  for (const expected of [['run'], ['keys', 'list'], ['local', 'kill-master'], ['local', 'freeze-master'], ['token']]) {
    assert.ok(
      paths.some((p) => p.join(' ') === expected.join(' ')),
      `phoenix ${expected.join(' ')} is a command`,
    );
  }
  for (const path of paths) {
    const viaFlag = await phoenix([...path, '--help'], env());
    assert.equal(viaFlag.code, 0, `phoenix ${path.join(' ')} --help: ${viaFlag.stderr}`);
    assert.match(viaFlag.stdout, new RegExp(`^Usage: phoenix ${path.join(' ')}`), path.join(' '));
    const viaHelp = await phoenix(['help', ...path], env());
    assert.equal(viaHelp.code, 0, `phoenix help ${path.join(' ')}`);
    assert.equal(viaHelp.stdout, viaFlag.stdout, `phoenix help ${path.join(' ')} is the same help`);
    // A leaf command (no subcommands of its own) shows an example and explains each option.
    if (!/\nCommands:\n/.test(viaFlag.stdout)) {
      assert.match(viaFlag.stdout, /\nExamples:\n {2}\S/, `phoenix ${path.join(' ')} has an example`);
      for (const option of viaFlag.stdout.matchAll(/^ {2}(-\S+(?:, --\S+)?(?: <\S+>)?) {2,}(.*)$/gm)) {
        assert.ok((option[2] ?? '').length > 10, `phoenix ${path.join(' ')}: ${option[1]} is explained`);
      }
    }
  }
  const run = await phoenix(['help', 'run'], env());
  assert.equal((await phoenix(['run', '-h'], env())).stdout, run.stdout, '-h is --help');
  // Salt's targeting flags, said in Salt's terms.
  for (const flag of ['-G, --grain', '-L, --list', '-C, --compound', '-E, --pcre', '-I, --pillar']) {
    assert.ok(run.stdout.includes(flag), `phoenix run explains ${flag}`);
  }
  assert.match(run.stdout, /Salt's -G/);
  assert.match(run.stdout, /--wait-offline/);
});

test('phoenix --version names the CLI version; with no cluster to ask it still answers', async () => {
  for (const flag of ['--version', '-V']) {
    const shown = await phoenix([flag], env());
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^phoenix \d+\.\d+\.\d+\n$/);
  }
});

test('a mistyped command or option is a one-line usage error with a suggestion, exit status 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['rn', '*', 'test.ping'],
      /^phoenix: unknown command 'rn' \(did you mean run\?\); see phoenix --help \[PHX_CLI_USAGE\]\n$/,
    ],
    [['keys', 'lst'], /unknown command 'lst' \(did you mean list\?\); see phoenix keys --help/],
    [
      ['run', '*', 'test.ping', '--tmeout', '5'],
      /unknown option '--tmeout' \(did you mean --timeout\?\); see phoenix run --help/,
    ],
    [['up', '--minion', '2'], /unknown option '--minion' \(did you mean --minions\?\)/],
    [['run', '*', 'test.ping', '--timeout', '0'], /--timeout must be seconds from 1 to 86400/],
    [
      ['run', '*', 'test.ping', '--out', 'xml'],
      /'xml' is invalid\. Allowed choices are nested, highstate, yaml, json;/,
    ],
    [['minions', '--out', 'xml'], /Allowed choices are text, json, yaml/],
    [['run', '-G', '-L', 'x', 'test.ping'], /cannot be used with/],
    [['run', '-I', 'role:web', 'test.ping'], /does not target by pillar/],
    [['run'], /missing required argument 'TARGET'/],
    [['local', 'scale', 'lots'], /N must be a whole number from 0 to 10000/],
    [['up', '--masters', '-1'], /--masters/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const result = await phoenix(args, env());
    assert.equal(result.code, 2, `phoenix ${args.join(' ')} exits 2: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(' '));
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, `one line for phoenix ${args.join(' ')}`);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
  const failed = await phoenix(['local', 'scale', 'x', '--out', 'json'], env());
  assert.equal(failed.code, 2);
  assert.equal(json<{ error: { code: string } }>(failed).error.code, 'PHX_CLI_USAGE');
});

test('bash completion offers commands, subcommands and options from the same table', async (t) => {
  const complete = (words: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const script = `source <("$NODE" "$PHOENIX" completion bash)
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _phoenix; echo "\${COMPREPLY[*]}"`;
      execFile(
        'bash',
        ['-c', script],
        { env: { ...process.env, PHOENIX_HOME: home(), NODE: process.execPath, PHOENIX: PHOENIX_BIN } },
        (err, stdout, stderr) => (err === null ? resolve(stdout.trim()) : reject(new Error(stderr))),
      );
    });
  const bash = await new Promise<boolean>((resolve) => execFile('bash', ['--version'], (err) => resolve(err === null)));
  if (!bash) {
    t.skip('no bash on this machine');
    return;
  }
  assert.equal(await complete(['phoenix', 'ru']), 'run');
  assert.equal(await complete(['phoenix', 'keys', 'ac']), 'accept');
  assert.equal(await complete(['phoenix', 'local', 'fr']), 'freeze-master');
  assert.equal(await complete(['phoenix', 'run', '--wa']), '--wait-offline');
  assert.equal(await complete(['phoenix', 'completion', 'z']), 'zsh');
  const zsh = await phoenix(['completion', 'zsh'], env());
  assert.equal(zsh.code, 0);
  assert.match(zsh.stdout, /^autoload -U \+X bashcompinit && bashcompinit\n/);
  assert.match(zsh.stdout, /complete -F _phoenix phoenix/);
});
