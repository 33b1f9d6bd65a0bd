/**
 * One error table: the README's error reference is the tables' (and the check fails once it is
 * stale), and the lint refuses an untyped `new Error(` in a package's sources.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { CliErrors } from '@phoenix/cli/errors';
import { MasterErrors } from '@phoenix/master/errors';
import { MinionErrors } from '@phoenix/minion/errors';
import { ProtocolErrors } from '@phoenix/protocol';
import { StoreErrors } from '@phoenix/store';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function checkReference(readme: string): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, ['scripts/error-reference.js', '--check', '--readme', readme], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test('the README lists every code of every table, and the check fails when it does not', async () => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  for (const table of [ProtocolErrors, StoreErrors, MasterErrors, MinionErrors, CliErrors]) {
    for (const kind of Object.values(table)) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${kind.code}\``));
      assert.ok(row, `${kind.code} is in the README`);
      assert.ok(row.includes(kind.message), `${kind.code}'s meaning is in the README`);
      assert.match(row, new RegExp(`\\| ${kind.status} +\\| ${kind.exit} +\\|$`));
    }
  }
  const fresh = checkReference(join(ROOT, 'README.md'));
  assert.equal(fresh.status, 0, fresh.output);

  const dir = await mkdtemp(join(tmpdir(), 'phoenix-error-reference-'));
  try {
    const stale = join(dir, 'README.md');
    await writeFile(stale, readme.replace(/^\| `PHX_STATE_BUSY`.*\n/m, ''));
    const result = checkReference(stale);
    assert.equal(result.status, 1, result.output);
    assert.match(result.output, /is stale; run npm run docs:errors/);

    await writeFile(stale, `${readme}\nA code no table defines: \`PHX_STATE_MISSPELT\`.\n`);
    const unknown = checkReference(stale);
    assert.equal(unknown.status, 1, unknown.output);
    assert.match(unknown.output, /names PHX_STATE_MISSPELT, which no error table defines/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('each code keeps its HTTP and exit status in its table', () => {
  assert.equal(ProtocolErrors.PHX_CLI_USAGE.exit, 2);
  assert.equal(MinionErrors.PHX_MINION_CALL_USAGE.exit, 2);
  assert.equal(ProtocolErrors.PHX_TARGET_INVALID.status, 400);
  assert.equal(StoreErrors.PHX_STORE_BAD_CURSOR.status, 400);
  assert.equal(MasterErrors.PHX_API_UNAUTHORIZED.status, 401);
  assert.equal(MasterErrors.PHX_API_FORBIDDEN.status, 403);
  assert.equal(MasterErrors.PHX_JOB_NO_MINIONS.status, 404);
  assert.equal(MasterErrors.PHX_API_RATE_LIMITED.status, 429);
  assert.equal(MasterErrors.PHX_API_NOT_READY.status, 503);
  assert.equal(StoreErrors.PHX_STORE_CONDITION_FAILED.status, 500);
  assert.equal(CliErrors.PHX_CLI_API_ERROR.exit, 1);
});

test("the lint refuses new Error( in a package's sources, and allows it in tests", async () => {
  const eslint = new ESLint({ cwd: ROOT });
  const code = "export function fail(): never {\n  throw new Error('something broke');\n}\n";
  const [inSource] = await eslint.lintText(code, { filePath: join(ROOT, 'packages/master/src/example.ts') });
  assert.deepEqual(
    inSource?.messages.map((m) => [m.ruleId, m.line]),
    [['no-restricted-syntax', 2]],
  );
  assert.match(inSource?.messages[0]?.message ?? '', /PhoenixError with a code from the package's error table/);
  const [rejected] = await eslint.lintText("export const e = Promise.reject(new Error('no'));\n", {
    filePath: join(ROOT, 'packages/state/src/render/example.ts'),
  });
  assert.equal(rejected?.errorCount, 1);
  const [inTest] = await eslint.lintText(code, { filePath: join(ROOT, 'packages/master/test/example.test.ts') });
  assert.equal(inTest?.errorCount, 0, JSON.stringify(inTest?.messages));
});
