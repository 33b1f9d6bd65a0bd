/**
 * The release artifact and the systemd units: `npm run release` makes a tarball that holds the three
 * programs and runs where it is unpacked (as the user data unpacks it into /opt/phoenix/current),
 * and the units pass `systemd-analyze verify` against that very tree.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useTempDir } from '@phoenix/devstack/testing';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNITS = join(ROOT, 'deploy', 'systemd');
const BINS = ['phoenix', 'phoenix-master', 'phoenix-minion'];

const dir = useTempDir('phoenix-release-');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

let tarball = '';
let entries: string[] = [];
/** A scratch filesystem root with the release where a host has it: /opt/phoenix/current. */
let hostRoot = '';
let current = '';

function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      {
        cwd: options.cwd ?? ROOT,
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    );
  });
}

/** Node on PATH for the programs' `#!/usr/bin/env node`, as the user data links it into /usr/local/bin. */
const withNode = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };

let building: Promise<void> | undefined;
/** Builds and unpacks the release once, for the tests that need it (after the temporary directory exists). */
const release = (): Promise<void> => (building ??= build());

async function build(): Promise<void> {
  // npm test has just compiled everything: the release packs that build (and no network is used).
  const out = join(dir(), 'out');
  const built = await run(process.execPath, [join(ROOT, 'scripts', 'release.js'), '--skip-build', '--out', out], {
    timeoutMs: 300_000,
  });
  assert.equal(built.code, 0, `npm run release failed:\n${built.stderr}`);
  tarball = built.stdout.trim().split('\n').pop() ?? '';
  assert.equal(tarball, join(out, `phoenix-${version}.tar.gz`));
  const listing = await run('tar', ['-tzvf', tarball], { timeoutMs: 120_000 });
  assert.equal(listing.code, 0, listing.stderr);
  entries = listing.stdout.trim().split('\n');
  hostRoot = join(dir(), 'host');
  current = join(hostRoot, 'opt', 'phoenix', 'current');
  await mkdir(current, { recursive: true });
  const unpacked = await run('tar', ['-xzf', tarball, '-C', current, '--strip-components=1'], { timeoutMs: 120_000 });
  assert.equal(unpacked.code, 0, unpacked.stderr);
}

const names = () => entries.map((line) => line.split(/\s+/).slice(5).join(' ').split(' -> ')[0] ?? '');

test('npm run release packs the three programs, compiled code and production dependencies only', async () => {
  await release();
  const files = names();
  const top = `phoenix-${version}/`;
  assert.ok(
    files.every((f) => f.startsWith(top)),
    'one top folder, phoenix-<version>/',
  );
  for (const bin of BINS) {
    const line = entries.find((l) => l.includes(` ${top}bin/${bin} -> `));
    assert.ok(line?.startsWith('l'), `bin/${bin} is a link into its package`);
  }
  assert.equal(await readlink(join(current, 'bin', 'phoenix-master')), '../packages/master/bin/phoenix-master.js');
  for (const pkg of ['protocol', 'store', 'state', 'devstack', 'master', 'minion', 'cli']) {
    assert.ok(files.includes(`${top}packages/${pkg}/package.json`), `${pkg}'s manifest`);
    assert.ok(
      files.some((f) => f.startsWith(`${top}packages/${pkg}/dist/src/`)),
      `${pkg}'s compiled code`,
    );
  }
  assert.ok(!files.some((f) => /\/packages\/[^/]+\/(src|test)\//.test(f)), 'no sources and no tests');
  assert.ok(!files.some((f) => f.includes('/dist/test/')), 'no compiled tests');
  assert.ok(!files.some((f) => /\/packages\/.*\.map$/.test(f)), 'no source maps of our own');
  // Production dependencies, with the native addons; none of the tools that only build and test.
  assert.ok(files.some((f) => f.startsWith(`${top}node_modules/zeromq/`)));
  assert.ok(files.some((f) => f.startsWith(`${top}node_modules/@aws-sdk/client-dynamodb/`)));
  for (const tool of ['typescript', 'eslint', 'prettier', '@types/node']) {
    assert.ok(!files.some((f) => f.startsWith(`${top}node_modules/${tool}/`)), `no ${tool}`);
  }
  for (const unit of ['phoenix-master.service', 'phoenix-minion.service', 'phoenix-master-list.service']) {
    assert.ok(files.includes(`${top}deploy/systemd/${unit}`), unit);
  }
  assert.ok(files.includes(`${top}deploy/bootstrap/phoenix-bootstrap.mjs`));
  const manifest = JSON.parse(await readFile(join(current, 'release.json'), 'utf8')) as {
    version: string;
    bins: string[];
  };
  assert.equal(manifest.version, version);
  assert.deepEqual(manifest.bins, BINS);
  assert.match(
    await readFile(`${tarball}.sha256`, 'utf8'),
    new RegExp(`^[0-9a-f]{64}  phoenix-${version}\\.tar\\.gz\\n$`),
  );
});

test('phoenix --help runs from the unpacked tarball, and so do the master and the minion', async () => {
  await release();
  const help = await run(join(current, 'bin', 'phoenix'), ['--help'], { cwd: hostRoot, env: withNode });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: phoenix COMMAND/);
  // The operator's first step on AWS (docs/deploy-aws.md), from the release itself.
  const pki = join(dir(), 'cluster-pki');
  const keys = await run(join(current, 'bin', 'phoenix'), ['keys', 'init-cluster', '--pki-dir', pki, '--out', 'json'], {
    cwd: hostRoot,
    env: withNode,
  });
  assert.equal(keys.code, 0, keys.stderr);
  assert.equal((JSON.parse(keys.stdout) as { publicKey: string }).publicKey.length, 40);
  // Each agent loads all its code (ZeroMQ's native addon included) and stops at its config check.
  const master = await run(join(current, 'bin', 'phoenix-master'), ['--config', join(dir(), 'missing.yaml')], {
    cwd: hostRoot,
    env: withNode,
  });
  assert.equal(master.code, 1);
  assert.match(master.stderr, /^phoenix-master: .*\[PHX_/);
  const minion = await run(join(current, 'bin', 'phoenix-minion'), ['master-list'], { cwd: hostRoot, env: withNode });
  assert.equal(minion.code, 2, 'a usage error, not a missing module');
  assert.match(minion.stderr, /usage: phoenix-minion master-list/);
  // The user data runs the bootstrap from the release: its imports resolve there too.
  const bootstrap = await run(process.execPath, [join(current, 'deploy', 'bootstrap', 'phoenix-bootstrap.mjs')], {
    cwd: hostRoot,
  });
  assert.equal(bootstrap.code, 2, bootstrap.stderr);
  assert.match(bootstrap.stderr, /usage: phoenix-bootstrap\.mjs master\|minion\|master-list/);
});

test('the systemd units pass systemd-analyze verify against the unpacked release', async (t) => {
  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (analyze.status !== 0) {
    t.skip('systemd-analyze is not installed (Debian package systemd): the units were not verified');
    return;
  }
  await release();
  // The host's own unit library (targets the units are ordered after) next to ours, in the scratch root.
  const library = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((path) => existsSync(path));
  assert.ok(library, 'systemd keeps its units somewhere');
  await cp(library, join(hostRoot, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  const units = await readdir(UNITS);
  assert.deepEqual(units.sort(), ['phoenix-master-list.service', 'phoenix-master.service', 'phoenix-minion.service']);
  await mkdir(join(hostRoot, 'etc', 'systemd', 'system'), { recursive: true });
  for (const unit of units) await cp(join(UNITS, unit), join(hostRoot, 'etc', 'systemd', 'system', unit));

  const verify = await run('systemd-analyze', ['verify', `--root=${hostRoot}`, ...units], { cwd: hostRoot });
  const about = (verify.stdout + verify.stderr)
    .split('\n')
    .filter((line) => line.includes('phoenix-'))
    .join('\n');
  assert.equal(verify.code, 0, `systemd-analyze verify:\n${verify.stdout}${verify.stderr}`);
  assert.equal(about, '', 'no warning about our units');

  // Checked to fail where it should: a unit whose program is missing from the release.
  const broken = (await readFile(join(UNITS, 'phoenix-master.service'), 'utf8')).replace(
    'bin/phoenix-master ',
    'bin/phoenix-missing ',
  );
  await writeFile(join(hostRoot, 'etc', 'systemd', 'system', 'phoenix-broken.service'), broken);
  const failing = await run('systemd-analyze', ['verify', `--root=${hostRoot}`, 'phoenix-broken.service'], {
    cwd: hostRoot,
  });
  assert.notEqual(failing.code, 0);
  assert.match(failing.stdout + failing.stderr, /phoenix-missing is not executable/);

  // The master's sandbox, as systemd rates it (0 safest, 10 none): its hardening is really in force.
  const security = await run(
    'systemd-analyze',
    ['security', '--offline=true', `--root=${hostRoot}`, 'phoenix-master.service'],
    {
      cwd: hostRoot,
    },
  );
  const exposure = Number(/Overall exposure level for phoenix-master\.service: ([\d.]+)/.exec(security.stdout)?.[1]);
  assert.ok(
    exposure <= 2.5,
    `phoenix-master exposure ${exposure} (want <= 2.5):\n${security.stdout}${security.stderr}`,
  );
});

test('each unit stops its program with SIGTERM and restarts it when it fails', async () => {
  const masterDrainMs = 10_000; // MasterConfigSchema's drainTimeoutMs default
  const restartTimeoutMs = 60_000; // the master-list manager's masterList.salt.restartTimeoutMs default
  const expectations: Record<string, { exec: RegExp; stopAboveMs: number }> = {
    'phoenix-master.service': {
      exec: /^ExecStart=\/opt\/phoenix\/current\/bin\/phoenix-master --config \/etc\/phoenix\/master\.yaml$/m,
      stopAboveMs: masterDrainMs,
    },
    'phoenix-minion.service': {
      exec: /^ExecStart=\/opt\/phoenix\/current\/bin\/phoenix-minion --config \/etc\/phoenix\/minion\.yaml$/m,
      stopAboveMs: 0,
    },
    'phoenix-master-list.service': {
      exec: /^ExecStart=\/opt\/phoenix\/current\/bin\/phoenix-minion master-list --watch --config \/etc\/phoenix\/master-list\.yaml$/m,
      stopAboveMs: restartTimeoutMs,
    },
  };
  for (const [unit, expected] of Object.entries(expectations)) {
    const text = await readFile(join(UNITS, unit), 'utf8');
    assert.match(text, expected.exec, unit);
    assert.match(text, /^KillSignal=SIGTERM$/m, unit);
    assert.match(text, /^Restart=always$/m, unit);
    assert.match(text, /^WantedBy=multi-user\.target$/m, unit);
    const stopSeconds = Number(/^TimeoutStopSec=(\d+)s$/m.exec(text)?.[1]);
    assert.ok(stopSeconds * 1000 > expected.stopAboveMs, `${unit}: TimeoutStopSec ${stopSeconds}s`);
    // V8 writes executable code: a unit that forbids it would never start.
    assert.doesNotMatch(text, /^MemoryDenyWriteExecute=yes/m, unit);
  }
});
