// Runs every compiled test file with Node's own test runner: unit tests of each package first
// (fast, no sockets), then the end-to-end tests in test/ that start real processes.
// Usage: node scripts/run-tests.js [substring ...]  — only files whose path contains a substring.
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const dirs = [...readdirSync('packages').map((p) => join('packages', p, 'dist', 'test')), join('test', 'dist')];
const files = dirs
  .filter((d) => existsSync(d))
  .flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.test.js'))
      .map((f) => join(d, f)),
  )
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));

if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=300000', '--test-reporter=spec', ...files],
  // The AWS SDK's notice that its 2027 releases need Node.js 22 is off in the tests too, as the
  // programs' launchers turn it off (packages/*/bin): the test processes build SDK clients themselves.
  { stdio: 'inherit', env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...process.env } },
);
process.exit(result.status ?? 1);
