/**
 * Every program starts through one runMain: a failure is one line `PROGRAM: message [CODE]` with
 * the exit status of its code's table row, and a running program stops on SIGTERM (exit 0) or, on
 * a second signal while it stops, at once (exit 130).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCurveKeyPair } from '@phoenix/protocol';
import { useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';

const tmp = useTempDir();
const processes = useProcesses();
const bin = (pkg: string, name: string): string =>
  fileURLToPath(new URL(`../../packages/${pkg}/bin/${name}.js`, import.meta.url));

function run(program: string, args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [program, ...args], { timeout: 60_000 }, (err, _stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stderr });
    });
  });
}

test('a failure is one line naming the program and the code, with the exit status of the code', async () => {
  const swarm = await run(bin('minion', 'phoenix-minion'), ['swarm', '--count', '0']);
  assert.equal(swarm.code, 2, swarm.stderr);
  assert.equal(
    swarm.stderr,
    'phoenix-minion: swarm needs --count N, a whole number from 1 to 100000 [PHX_CLI_USAGE]\n',
  );
  const master = await run(bin('master', 'phoenix-master'), ['--config', join(tmp(), 'missing.yaml')]);
  assert.equal(master.code, 1, master.stderr);
  assert.match(master.stderr, /^phoenix-master: cannot read .*missing\.yaml.* \[PHX_CONFIG_UNREADABLE\]\n$/);
  const cli = await run(bin('cli', 'phoenix'), ['keys', 'list', '--api', 'not a url', '--token', 'abcdefghij']);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /^phoenix: --api must be a URL .* \[PHX_CLI_USAGE\]\n$/);
});

async function startMinion(id: string): Promise<ChildProcess> {
  const config = join(tmp(), `${id}.yaml`);
  await writeFile(
    config,
    JSON.stringify({
      id,
      masters: [],
      clusterPublicKey: generateCurveKeyPair().publicKey,
      pkiDir: join(tmp(), id, 'pki'),
      cacheDir: join(tmp(), id, 'cache'),
      imds: { enabled: false },
    }),
  );
  const child = processes.spawn(process.execPath, [bin('minion', 'phoenix-minion'), '--config', config]);
  await waitFor(() => processes.output(child).includes('"minion started"'), { what: `${id} to start` });
  return child;
}

const exitOf = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

test('SIGTERM stops a running program, which exits 0 once it has stopped', async () => {
  const child = await startMinion('stops-on-sigterm');
  const exited = exitOf(child);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, processes.output(child));
  assert.match(processes.output(child), /"signal":"SIGTERM".*"msg":"stopping"/);
  assert.match(processes.output(child), /"msg":"minion stopped"/);
});

test('a second signal while a program stops ends it at once, with exit status 130', async () => {
  // A program that runs (its timer keeps it alive) and whose stop never finishes: only the second
  // signal can end it.
  const main = new URL('../../packages/protocol/dist/src/main.js', import.meta.url).href;
  const script = `
    import { runMain } from ${JSON.stringify(main)};
    runMain('slow-to-stop', async () => {
      setInterval(() => undefined, 1000);
      return {
        stop: (signal) => {
          process.stdout.write('stopping on ' + signal + '\\n');
          return new Promise(() => undefined);
        },
      };
    }, { internal: { code: 'PHX_MINION_INTERNAL', message: '', status: 500, exit: 1 } });
    setTimeout(() => process.stdout.write('running\\n'), 100);`;
  const child = processes.spawn(process.execPath, ['--input-type=module', '-e', script]);
  await waitFor(() => processes.output(child).includes('running'), { what: 'the program to run' });
  const exited = exitOf(child);
  child.kill('SIGTERM');
  await waitFor(() => processes.output(child).includes('stopping on SIGTERM'), { what: 'the program to stop' });
  child.kill('SIGINT');
  assert.equal(await exited, 130, processes.output(child));
});
