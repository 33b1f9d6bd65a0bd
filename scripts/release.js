// Builds the release tarball that a real host installs (the CloudFormation user data, the Dockerfile):
//
//   dist/release/phoenix-<version>.tar.gz      one folder, phoenix-<version>/, holding
//     bin/phoenix, bin/phoenix-master, bin/phoenix-minion   the three programs (symlinks into packages/)
//     packages/<name>/{package.json,README.md,dist/src}     compiled code only: no sources, no tests
//     node_modules/                                         production dependencies, as npm ci --omit=dev has them
//     deploy/                                               systemd units, bootstrap, container entry point
//     docs/, release.json                                   what was built, from which commit
//
// Usage: npm run release [-- --out DIR] [--skip-build]      (after npm ci; needs no network)
//   --out DIR     where the tarball goes (default dist/release)
//   --skip-build  use the compiled code as it is (tsc -b has already run)
//
// The dependencies are the production part of package-lock.json, copied from the installed tree, so
// a release runs exactly the files the test suite ran. Native addons (zeromq, classic-level) ship
// prebuilt for Linux x64 and arm64 with glibc, so one tarball serves both architectures of Amazon
// Linux 2023 or Debian; it is built on Linux (symlinks, GNU tar).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'dist', 'release') },
    'skip-build': { type: 'boolean', default: false },
  },
  strict: true,
});

/** The programs a host runs, by the workspace that provides each. */
const BINS = { phoenix: 'packages/cli', 'phoenix-master': 'packages/master', 'phoenix-minion': 'packages/minion' };

const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = rootManifest.version;
const name = `phoenix-${version}`;
const outDir = resolve(values.out);
const stageRoot = join(outDir, 'stage');
const stage = join(stageRoot, name);
const tarball = join(outDir, `${name}.tar.gz`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
  return result;
}

function step(message) {
  process.stderr.write(`release: ${message}\n`);
}

const workspaces = rootManifest.workspaces;

if (!values['skip-build']) {
  step('compiling (tsc -b)');
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', ...workspaces], { cwd: root });
}

step(`staging ${relative(root, stage)}`);
rmSync(stageRoot, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

// The root manifest and lock file unchanged: npm ci refuses a lock file that does not match.
cpSync(join(root, 'package.json'), join(stage, 'package.json'));
cpSync(join(root, 'package-lock.json'), join(stage, 'package-lock.json'));
for (const workspace of workspaces) {
  const from = join(root, workspace);
  const to = join(stage, workspace);
  const manifest = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8'));
  if (!existsSync(join(from, 'dist', 'src'))) throw new Error(`${workspace} is not compiled: run npx tsc -b`);
  mkdirSync(to, { recursive: true });
  cpSync(join(from, 'package.json'), join(to, 'package.json'));
  if (existsSync(join(from, 'README.md'))) cpSync(join(from, 'README.md'), join(to, 'README.md'));
  // Compiled code and type declarations; source maps point at sources a release does not carry.
  cpSync(join(from, 'dist', 'src'), join(to, 'dist', 'src'), {
    recursive: true,
    filter: (path) => !path.endsWith('.map') && !path.endsWith('.tsbuildinfo'),
  });
  // Anything else a package declares it needs at run time (assets next to the code).
  for (const entry of manifest.files ?? []) {
    if (entry.startsWith('dist')) continue;
    if (existsSync(join(from, entry))) cpSync(join(from, entry), join(to, entry), { recursive: true });
  }
}

step('copying production dependencies');
copyProductionDependencies();

step('linking bin/');
mkdirSync(join(stage, 'bin'));
for (const [bin, workspace] of Object.entries(BINS)) {
  const manifest = JSON.parse(readFileSync(join(stage, workspace, 'package.json'), 'utf8'));
  const target = manifest.bin?.[bin];
  if (typeof target !== 'string') throw new Error(`${workspace}/package.json has no bin "${bin}"`);
  const file = join(stage, workspace, target);
  if (!existsSync(file)) throw new Error(`${workspace}: ${target} was not built`);
  chmodSync(file, 0o755);
  symlinkSync(relative(join(stage, 'bin'), file), join(stage, 'bin', bin));
}

step('checking that the programs load');
// Loads the packages behind every program (native addons included) without starting anything.
run(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    "for (const p of ['master', 'minion', 'devstack', 'state', 'store', 'protocol']) await import(`@phoenix/${p}`);",
  ],
  { cwd: stage },
);
run(join(stage, 'bin', 'phoenix'), ['--help'], { cwd: stage, stdio: 'ignore' });

step('adding deploy/ and docs');
cpSync(join(root, 'deploy'), join(stage, 'deploy'), { recursive: true });
mkdirSync(join(stage, 'docs'));
for (const doc of ['deploy-aws.md', 'docker-compose.md', 'design.md']) {
  if (existsSync(join(root, 'docs', doc))) cpSync(join(root, 'docs', doc), join(stage, 'docs', doc));
}
cpSync(join(root, 'README.md'), join(stage, 'README.md'));
const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
writeFileSync(
  join(stage, 'release.json'),
  `${JSON.stringify(
    {
      name: 'phoenix',
      version,
      commit: commit.status === 0 ? commit.stdout.trim() : null,
      node: rootManifest.engines?.node ?? '>=20',
      platforms: ['linux-x64-glibc', 'linux-arm64-glibc'],
      bins: Object.keys(BINS),
    },
    null,
    2,
  )}\n`,
);

step(`packing ${relative(root, tarball)}`);
rmSync(tarball, { force: true });
// Owned by root in the archive: the user data unpacks it as root into /opt/phoenix.
run(
  'tar',
  ['--create', '--gzip', '--file', tarball, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', name],
  {
    cwd: stageRoot,
  },
);
rmSync(stageRoot, { recursive: true, force: true });

const sha256 = createHash('sha256').update(readFileSync(tarball)).digest('hex');
writeFileSync(`${tarball}.sha256`, `${sha256}  ${name}.tar.gz\n`);
process.stdout.write(`${tarball}\n`);
step(`done: ${name}.tar.gz sha256 ${sha256}`);

/**
 * The production part of the installed tree, as package-lock.json lists it: every entry npm did not
 * mark `dev` or `devOptional` (exactly what `npm ci --omit=dev` installs), copied from node_modules
 * as the test suite ran it, native addons included. No registry, no npm cache: the release builds
 * offline and holds the very files that were tested. Workspace links become relative symlinks.
 */
function copyProductionDependencies() {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  let copied = 0;
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || !path.includes('node_modules/') || entry.dev || entry.devOptional) continue;
    const to = join(stage, path);
    if (entry.link) {
      mkdirSync(dirname(to), { recursive: true });
      symlinkSync(relative(dirname(to), join(stage, entry.resolved)), to);
      continue;
    }
    const from = join(root, path);
    if (!existsSync(from)) {
      // An optional dependency for another platform is legitimately absent.
      if (entry.optional) continue;
      throw new Error(`${path} is in package-lock.json but not installed: run npm ci first`);
    }
    // Nested node_modules are entries of their own (and may be dev-only): copy each package alone.
    cpSync(from, to, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (source) => source === from || !relative(from, source).split(/[\\/]/).includes('node_modules'),
    });
    copied += 1;
  }
  step(`  ${copied} packages`);
}
