/**
 * The import rules (.dependency-cruiser.mjs, run by `npm run lint`) catch what they forbid: the
 * lint step passes on a copy of the sources, and fails on the same copy once it holds a forbidden
 * import, naming the rule and the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFile, cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SKIPPED = /\/(dist|node_modules|results[^/]*)$|\.tsbuildinfo$/;

/** A copy of the sources and the lint configuration, sharing the repository's installed packages. */
async function copySources(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-import-rules-'));
  for (const entry of ['packages', 'test', 'bench', 'package.json', '.dependency-cruiser.mjs']) {
    await cp(join(ROOT, entry), join(dir, entry), { recursive: true, filter: (path) => !SKIPPED.test(path) });
  }
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** The lint step as `npm run lint` runs it. */
function lintImports(dir: string): { status: number | null; output: string } {
  const result = spawnSync('npm', ['run', '--silent', 'lint:imports'], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test(
  'the import lint passes on the sources and fails on each kind of forbidden import',
  { timeout: 240_000 },
  async () => {
    const dir = await copySources();
    try {
      const clean = lintImports(dir);
      assert.equal(clean.status, 0, clean.output);
      assert.match(clean.output, /no dependency violations found/);

      // The master importing the minion, the state engine importing the store, the master reaching
      // into the dashboard's UI code, and a cycle inside the state package.
      await appendFile(join(dir, 'packages/master/src/file-server/state-tree.ts'), "\nimport '@phoenix/minion';\n");
      await appendFile(join(dir, 'packages/state/src/data.ts'), "\nimport '@phoenix/store';\n");
      await appendFile(join(dir, 'packages/master/src/api/dashboard.ts'), "\nimport '../../../dashboard/ui/api.js';\n");
      await appendFile(join(dir, 'packages/state/src/files/sls-names.ts'), "\nimport '../render/sls-loader.js';\n");
      const forbidden = lintImports(dir);
      assert.notEqual(forbidden.status, 0, forbidden.output);
      assert.match(forbidden.output, /error master-imports: packages\/master\/src\/file-server\/state-tree\.ts → /);
      assert.match(forbidden.output, /error state-imports: packages\/state\/src\/data\.ts → /);
      assert.match(
        forbidden.output,
        /error master-uses-dashboard-assets-only: packages\/master\/src\/api\/dashboard\.ts → packages\/dashboard\/ui\/api\.ts/,
      );
      assert.match(forbidden.output, /error no-circular: packages\/state\/src\/(files|render)\//);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
