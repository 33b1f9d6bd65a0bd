import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parse } from 'yaml';
import { awsClientConfig, failoverOrder } from '@phoenix/protocol';
import { Store, type NewMaster } from '@phoenix/store';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();

const MINION_BIN = fileURLToPath(new URL('../../packages/minion/bin/phoenix-minion.js', import.meta.url));

interface Outcome {
  source: string;
  result: 'changed' | 'unchanged' | 'skipped';
  masters: Array<{ id: string; host: string }>;
  written?: string;
  restart?: { ok: boolean; exitCode: number };
  error?: { code: string };
}

/** `phoenix-minion ARGS…` run to completion as an operator (or a timer unit) would, bounded. */
function minionCommand(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MINION_BIN, ...args],
      { timeout: 30_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
    );
  });
}

const master = (masterId: string, host: string): NewMaster => ({
  masterId,
  host,
  ports: { minion: 4506, enrol: 4505, peer: 4507, api: 8080 },
  status: 'active',
  heartbeatAt: Date.now(),
  startedAt: Date.now(),
  version: '0.1.0',
  minionCount: 0,
});

/** A plain salt-minion host: no Phoenix keys, only the table to read and the drop-in to keep. */
async function saltHostConfig(name: string, pollMs = 60_000) {
  const home = join(dir(), name);
  await mkdir(home, { recursive: true });
  const dropIn = join(home, 'minion.d', 'phoenix-masters.conf');
  const counter = join(home, 'restarts');
  const configPath = join(home, 'phoenix-minion.yaml');
  await writeFile(
    configPath,
    [
      '# phoenix-minion master-list on a salt host',
      'id: web-1',
      'imds: { enabled: false }',
      `aws: ${JSON.stringify(devstack().aws)}`,
      `tablePrefix: ${devstack().tablePrefix}`,
      'masterList:',
      '  mode: salt',
      `  pollMs: ${pollMs}`,
      // Rows are written once here, not kept alive by real masters' heartbeats.
      '  deadAfterMs: 600000',
      '  salt:',
      `    configPath: ${JSON.stringify(dropIn)}`,
      `    restartCommand: ${JSON.stringify(`echo restarted >> '${counter}'`)}`,
      '',
    ].join('\n'),
  );
  const restarts = async (): Promise<number> =>
    (await readFile(counter, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  return { configPath, dropIn, restarts };
}

function store(): { store: Store; close: () => void } {
  const client = new DynamoDBClient(awsClientConfig(devstack().aws, 'dynamodb'));
  return { store: new Store(client, devstack().tablePrefix), close: () => client.destroy() };
}

test('master-list --once rewrites a Salt drop-in from the masters table and restarts salt-minion once; again, it changes nothing', async () => {
  const { store: tables, close } = store();
  try {
    await tables.masters.put(master('master-a', '10.0.1.1'));
    await tables.masters.put(master('master-b', '10.0.1.2'));
  } finally {
    close();
  }
  const host = await saltHostConfig('once');

  const first = await minionCommand(['master-list', '--once', '--config', host.configPath, '--out', 'json']);
  assert.equal(first.code, 0, first.stderr);
  const applied = JSON.parse(first.stdout) as Outcome;
  assert.equal(applied.result, 'changed');
  assert.equal(applied.written, host.dropIn);
  assert.equal(applied.restart?.ok, true);
  const order = failoverOrder('web-1', ['master-a', 'master-b'], (id) => id);
  assert.deepEqual(
    applied.masters.map((m) => m.id),
    order,
  );
  assert.deepEqual(parse(await readFile(host.dropIn, 'utf8')), {
    master: order.map((id) => (id === 'master-a' ? '10.0.1.1' : '10.0.1.2')),
    master_type: 'failover',
    master_alive_interval: 30,
    retry_dns: 0,
  });
  assert.equal(await host.restarts(), 1);

  const before = await stat(host.dropIn);
  const second = await minionCommand(['master-list', '--once', '--config', host.configPath, '--out', 'json']);
  assert.equal(second.code, 0, second.stderr);
  assert.equal((JSON.parse(second.stdout) as Outcome).result, 'unchanged');
  assert.equal((await stat(host.dropIn)).mtimeMs, before.mtimeMs, 'the drop-in is not rewritten');
  assert.equal(await host.restarts(), 1, 'and salt-minion is not restarted');

  const text = await minionCommand(['master-list', '--once', '--config', host.configPath]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^masters unchanged: master-/);
});

test('master-list --watch follows the table until SIGTERM, restarting once per change', async () => {
  const host = await saltHostConfig('watch', 1_000);
  const { store: tables, close } = store();
  try {
    await tables.masters.put(master('master-a', '10.0.1.1'));
    await tables.masters.put(master('master-b', '10.0.1.2'));
    const child = processes.spawn(process.execPath, [
      MINION_BIN,
      'master-list',
      '--watch',
      '--config',
      host.configPath,
      '--out',
      'json',
    ]);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    await waitFor(async () => (await host.restarts()) === 1, {
      what: 'the first drop-in and restart',
      timeoutMs: 10_000,
    });
    await tables.masters.put(master('master-c', '10.0.1.3'));
    await waitFor(
      async () =>
        (parse(await readFile(host.dropIn, 'utf8')) as { master: string[] }).master.includes('10.0.1.3')
          ? true
          : undefined,
      { what: 'the new master in the drop-in', timeoutMs: 10_000 },
    );
    await waitFor(async () => (await host.restarts()) === 2, { what: 'the second restart', timeoutMs: 5_000 });

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, processes.output(child));
    // --watch with --out json: one outcome per line.
    const outcomes = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Outcome);
    assert.deepEqual(
      outcomes.filter((o) => o.result === 'changed').map((o) => o.restart?.ok),
      [true, true],
    );
    assert.equal(await host.restarts(), 2, 'unchanged polls never restart');
  } finally {
    close();
  }
});
