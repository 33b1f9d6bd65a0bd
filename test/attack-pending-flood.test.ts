import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { awsClientConfig } from '@phoenix/protocol';
import { Store } from '@phoenix/store';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { acceptOnce, adminEnv, everyMasterAnswers, refused as refusedAt, untilAnswers } from './lib/attack.js';
import { json, phoenix } from './lib/cli.js';
import { startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { HostileMinion } from './lib/hostile-minion.js';

const FLOOD = 30_000;
const LIMITS = { maxPendingKeys: 200, burst: 20, perSecond: 2 };
/** Growth of the master's resident memory the flood may cause (the issue saw 122 MB become 1.1 GB). */
const RSS_GROWTH_BOUND_KB = 64 * 1024;

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
let master: RunningMaster;
let store: Store;
let dynamodb: DynamoDBClient | undefined;
after(() => dynamodb?.destroy());

const env = (): NodeJS.ProcessEnv => adminEnv(master, dir());

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
}

/** Every row of the minions table. */
async function rows(): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await store.minions.list({ limit: 1000, cursor });
    count += page.items.length;
    cursor = page.cursor;
  } while (cursor !== undefined);
  return count;
}

const refused = (reason: string): Promise<number> => refusedAt(master, 'enrol', reason);

test('a master with a cap on pending keys, and a genuine minion', async () => {
  master = await startMasterProcess(devstack(), dir(), processes, 'm1', undefined, { enrolment: LIMITS });
  dynamodb = new DynamoDBClient(awsClientConfig(devstack().aws, 'dynamodb'));
  store = new Store(dynamodb, devstack().tablePrefix);
  await startMinionProcess(devstack(), dir(), processes, 'steady-1', [master]);
  await acceptOnce(env(), 'steady-1');
  await untilAnswers(env(), 'steady-1');
});

test(`${FLOOD} made-up ids from one connection leave a handful of rows and the master's memory as it was`, async () => {
  const rowsBefore = await rows();
  const rssBefore = await rssKb(master.process.pid as number);
  const started = Date.now();
  const flood = await new HostileMinion('flood', devstack().clusterKeys.publicKey).enrolFlood(master, FLOOD, 'flood');
  const seconds = (Date.now() - started) / 1000;
  const rssAfter = await rssKb(master.process.pid as number);
  const added = (await rows()) - rowsBefore;
  process.stdout.write(
    `# flood of ${FLOOD} ids in ${seconds.toFixed(1)} s: ${added} rows added, master RSS ${Math.round(rssBefore / 1024)} → ${Math.round(rssAfter / 1024)} MB, answers ${JSON.stringify(flood.answers)}\n`,
  );
  // A burst, then a trickle: the connection's allowance, not the flood, decides what is written.
  assert.ok(added <= LIMITS.burst + Math.ceil(seconds * LIMITS.perSecond) + 2, `${added} rows in ${seconds} s`);
  assert.ok(added >= LIMITS.burst, 'the allowance itself was honoured');
  assert.ok(rssAfter - rssBefore < RSS_GROWTH_BOUND_KB, `RSS grew ${rssAfter - rssBefore} KiB`);
  assert.ok((await refused('rate')) >= FLOOD - added - 100, 'the rest were refused and counted');
  await everyMasterAnswers([master], 'steady-1', dir());
});

test('pending keys stop at the cluster-wide cap however many connections ask; deleting them leaves no rows', async () => {
  // Each connection within its own allowance: only the cap can stop these.
  const connections = Math.ceil((LIMITS.maxPendingKeys * 1.5) / LIMITS.burst);
  for (let c = 0; c < connections; c++)
    await new HostileMinion(`wave-${c}`, devstack().clusterKeys.publicKey).enrolFlood(
      master,
      LIMITS.burst,
      `wave-${c}`,
      10_000,
    );
  const pending = await store.minions.countByKeyState('pending');
  assert.ok(pending <= LIMITS.maxPendingKeys, `${pending} pending keys, the cap is ${LIMITS.maxPendingKeys}`);
  assert.ok((await refused('pending-cap')) > 0, 'enrolments beyond the cap were refused and counted');

  let deletedKeys = 0;
  for (const pattern of ['flood-*', 'wave-*']) {
    const deleted = await phoenix(['keys', 'delete', pattern, '--out', 'json'], env());
    assert.equal(deleted.code, 0, deleted.stderr);
    deletedKeys += json<{ changes: unknown[] }>(deleted).changes.length;
  }
  assert.ok(deletedKeys >= pending);
  assert.equal(
    await rows(),
    1,
    'no row is left of the deleted keys (the flood’s included): the genuine minion’s alone',
  );
  await everyMasterAnswers([master], 'steady-1', dir());

  // Room again: a genuine minion's key is taken once the count is read afresh.
  const genuine = new HostileMinion('genuine-1', devstack().clusterKeys.publicKey);
  await waitFor(async () => (await genuine.enrol(master)) === 'pending', {
    what: 'a new key to be taken under the cap again',
    timeoutMs: 10_000,
  });
});
