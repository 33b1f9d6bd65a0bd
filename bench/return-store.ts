/**
 * What storing a job's returns costs the master's own process, the AWS SDK's request pipeline and
 * all: `node bench/dist/return-store.js [--returns 1000] [--rounds 20]`. The devstack (its DynamoDB)
 * runs in a child process, so the CPU counted here (this process's user + system time) is the
 * client's alone: the part of a master's CPU per return that storing the returns costs.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsClientConfig, type AwsSettings } from '@phoenix/protocol';
import { Store, type NewReturn } from '@phoenix/store';
import { median, quantile } from './lib/stats.js';

/** The devstack (its DynamoDB with Phoenix's tables) in a child process: its CPU is not counted here. */
async function devstackChild(): Promise<{ aws: AwsSettings; tablePrefix: string; stop(): void }> {
  const code =
    "const { startDevstack } = await import('@phoenix/devstack');" +
    'const d = await startDevstack();' +
    'process.stdout.write(JSON.stringify({ aws: d.aws, tablePrefix: d.tablePrefix }) + "\\n");';
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const started = (async () => {
    let text = '';
    for await (const chunk of child.stdout) {
      text += String(chunk);
      if (text.includes('\n')) return JSON.parse(text) as { aws: AwsSettings; tablePrefix: string };
    }
    throw new Error('the devstack exited before it started');
  })();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the devstack did not start within 60 s')), 60_000);
  });
  try {
    const info = await Promise.race([started, late]);
    return { ...info, stop: () => child.kill() };
  } catch (err) {
    child.kill();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function cpuUs(work: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { returns: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '20' } },
  });
  const n = Number(values.returns);
  const rounds = Number(values.rounds);
  const db = await devstackChild();
  const client = new DynamoDBClient(awsClientConfig(db.aws, 'dynamodb'));
  try {
    const store = new Store(client, db.tablePrefix);
    const job = (round: number): NewReturn[] =>
      Array.from({ length: n }, (_, i) => ({
        jid: `2026120300000000${String(round).padStart(4, '0')}`,
        minionId: `minion-${String(i).padStart(5, '0')}`,
        success: true,
        retcode: 0,
        ret: true,
        masterId: 'bench-master',
        receivedAt: Date.now(),
      }));
    const perReturn: number[] = [];
    // Two rounds of warm-up (the JIT, the connections), then the measured ones.
    for (let round = 0; round < rounds + 2; round++) {
      const used = await cpuUs(() => store.returns.putMany(job(round)));
      if (round >= 2) perReturn.push(used / n);
    }
    process.stdout.write(
      `${n} returns a round (${Math.ceil(n / 25)} requests of 25), ${rounds} rounds: ` +
        `CPU µs per return stored, median ${median(perReturn).toFixed(1)}, ` +
        `quartiles ${quantile(perReturn, 0.25).toFixed(1)}–${quantile(perReturn, 0.75).toFixed(1)}\n`,
    );
  } finally {
    client.destroy();
    db.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
