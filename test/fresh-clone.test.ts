import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useTempDir } from '@phoenix/devstack/testing';

/**
 * A newcomer's first minutes, on a fresh clone of the committed work: the README's first command
 * line (in its detached form), then every command the README shows after it, exactly as written
 * (read out of README.md, so the test fails when the README drifts from what works).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = useTempDir('phoenix-clone-');
const clone = (): string => join(dir(), 'phoenix');
const home = (): string => join(dir(), 'home');
const env = (): NodeJS.ProcessEnv => {
  const { PHOENIX_API: _api, PHOENIX_TOKEN: _token, PHOENIX_HOME: _home, ...rest } = process.env;
  // The test runner silences the AWS SDK's Node.js notice itself; a newcomer's shell does not.
  delete rest.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  return { ...rest, PHOENIX_HOME: home() };
};

interface Ran {
  line: string;
  code: number;
  stdout: string;
  stderr: string;
}

function sh(line: string, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      'sh',
      ['-c', line],
      { cwd: clone(), env: env(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ line, code, stdout, stderr });
      },
    );
  });
}

/** The shell lines of each ```sh block in a section of the README, in order. */
function shBlocks(readme: string, from: string, to: string): string[][] {
  const start = readme.indexOf(from);
  const end = readme.indexOf(to, start);
  assert.ok(start >= 0 && end > start, `the README has the section "${from}"`);
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    (m[1] as string).split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#')),
  );
}

const quiet = (ran: Ran): void => {
  for (const noise of ['NodeVersionSupportWarning', 'EBADENGINE', 'DeprecationWarning', 'ExperimentalWarning']) {
    assert.ok(!`${ran.stdout}${ran.stderr}`.includes(noise), `no ${noise} from: ${ran.line}\n${ran.stderr}`);
  }
};

const ok = (ran: Ran): Ran => {
  assert.equal(ran.code, 0, `${ran.line} exits 0:\n${ran.stdout}\n${ran.stderr}`);
  quiet(ran);
  return ran;
};

/** What each README command must show, beyond a zero exit status and no warnings. */
function check(ran: Ran): void {
  const cmd = ran.line.replace(/\s+#.*$/, '').trim();
  const out = ran.stdout;
  if (cmd === 'npx phoenix keys list') {
    assert.match(out, /^Accepted keys:\n( {2}i-[0-9a-f]{17} .*\n){2,}Pending keys:/, out);
  } else if (cmd === "npx phoenix run '*' test.ping") {
    assert.ok((out.match(/^i-[0-9a-f]{17}:\n {4}true$/gm) ?? []).length >= 2, out);
  } else if (cmd.startsWith("npx phoenix run -G 'role:web' cmd.run")) {
    assert.ok((out.match(/^i-[0-9a-f]{17}:$/gm) ?? []).length >= 2, `role:web matches the local minions:\n${out}`);
  } else if (cmd.startsWith('npx phoenix run -C ')) {
    const document = JSON.parse(out) as { returns: Record<string, unknown> };
    assert.ok(Object.keys(document.returns).length >= 2, `the compound target matches the local minions:\n${out}`);
  } else if (cmd === 'npx phoenix token') {
    assert.match(out, /^[A-Za-z0-9_-]{40,}\n$/);
  } else if (cmd.startsWith('npx phoenix up --detach')) {
    assert.match(out, /Phoenix local cluster running/);
    assert.match(out, /accepted their keys/);
    assert.match(out, /dashboard +http:\/\/127\.0\.0\.1:\d+\/ui\//);
  } else if (cmd.startsWith('npx phoenix jobs show')) {
    assert.match(out, /test\.ping/);
  } else if (cmd === 'npx phoenix help run') {
    assert.match(out, /^Usage: phoenix run /);
  } else if (cmd.startsWith('npx phoenix down')) {
    assert.match(out, /stopped/);
  }
}

after(async () => {
  await sh('npx phoenix down', 60_000);
});

test(
  'on a fresh clone, the README quick start and every command after it work as typed',
  { timeout: 900_000 },
  async () => {
    const cloned = await new Promise<number>((resolve) =>
      execFile('git', ['clone', '--quiet', ROOT, clone()], (err) => resolve(err === null ? 0 : 1)),
    );
    assert.equal(cloned, 0, 'git clone of the repository');
    const readme = await readFile(join(clone(), 'README.md'), 'utf8');
    const [quickStart, ...blocks] = shBlocks(readme, '## Quick start', '## How it fits together');
    assert.ok(quickStart !== undefined && blocks.length >= 2);
    // Exactly two command lines for a fresh clone: the cluster, and the test suite.
    const commands = quickStart.map((line) => line.replace(/\s+#.*$/, '').trim());
    assert.deepEqual(commands, ['npm ci && npm start', 'npm ci && npm test']);

    // The first line, detached (npm passes arguments after -- to the script's last command); its
    // npm ci reads the cache the outer install filled rather than asking the registry again.
    const install = ok(await sh('npm ci --prefer-offline --no-audit --no-fund', 600_000));
    assert.doesNotMatch(install.stderr, /EBADENGINE/);
    const started = ok(await sh('npm start -- --detach', 600_000));
    assert.match(started.stdout, /Phoenix local cluster running/);
    assert.match(started.stdout, /npx phoenix token/, 'the banner says how to get the token');

    const [secondTerminal = [], background = []] = blocks;
    for (const line of secondTerminal) check(ok(await sh(line)));
    // The background block, with the commands shown against a cluster run while it is up.
    const [upDetached, ...rest] = background;
    assert.ok(upDetached !== undefined && upDetached.startsWith('npx phoenix up --detach'));
    check(ok(await sh(upDetached)));
    const againstCluster = shBlocks(readme, 'Against a cluster', 'Every master answers the REST API')[0] ?? [];
    assert.ok(againstCluster.length >= 5, 'the README shows commands against a cluster');
    for (const line of againstCluster) check(ok(await sh(line)));
    for (const line of rest) check(ok(await sh(line)));

    // The cluster's own programs were quiet too: their logs hold no SDK notice.
    const logs = [join(home(), 'local', 'up.log')];
    const instances = join(home(), 'local', 'instances');
    for (const id of await readdir(instances).catch(() => [])) {
      for (const name of await readdir(join(instances, id)))
        if (name.endsWith('.log')) logs.push(join(instances, id, name));
    }
    for (const log of logs) {
      const text = await readFile(log, 'utf8').catch(() => '');
      assert.ok(!text.includes('NodeVersionSupportWarning'), `no AWS SDK notice in ${log}`);
    }
  },
);
