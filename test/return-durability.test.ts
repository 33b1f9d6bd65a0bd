import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Context } from 'zeromq';
import pino from 'pino';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startMinion, MinionConfigSchema, type Minion } from '@phoenix/minion';
import { awsClientConfig } from '@phoenix/protocol';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, type RunningMaster } from './lib/cluster.js';

// A return acknowledged to a minion is one a master crash cannot lose: the master acknowledges a
// return only once the returns table holds it. Here a master is killed (kill -9) the moment the
// first acknowledgements reach the minions, while hundreds of returns are still on their way, and
// every (jid, minion) a minion heard acknowledged is then read from the returns table itself.
const MINION_COUNT = 40;
const JOBS = 5;
/** Acknowledgements heard before the kill: a fraction of the returns, so many are still in flight. */
const KILL_AFTER_ACKS = 30;

const minions: Minion[] = [];
let dynamodb: DynamoDBClient | undefined;
// Registered before the devstack's: the minions and the client stop before the tables they use.
after(async () => {
  dynamodb?.destroy();
  await Promise.all(minions.map((minion) => minion.stop()));
});
const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
let master: RunningMaster;

/** Every (jid, minion) some minion's connection logged as acknowledged by its master. */
const acknowledged: Array<{ jid: string; minionId: string }> = [];
/** Called synchronously by the minions' log stream when an acknowledgement is heard. */
let onAck: () => void = () => undefined;

const env = (): NodeJS.ProcessEnv => ({ PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN, PHOENIX_HOME: dir() });

test(`a master and ${MINION_COUNT} minions, every key accepted`, async () => {
  master = await startMasterProcess(devstack(), dir(), processes, 'm1');
  const context = new Context();
  // One log stream for every minion: only the acknowledgement lines are kept.
  const log = pino(
    { level: 'debug' },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n')) {
          if (!line.includes('"return acknowledged"')) continue;
          const { jid, minionId } = JSON.parse(line) as { jid: string; minionId: string };
          acknowledged.push({ jid, minionId });
          onAck();
        }
      },
    },
  );
  for (let i = 0; i < MINION_COUNT; i++) {
    const id = `durable-${String(i).padStart(2, '0')}`;
    const config = MinionConfigSchema.parse({
      id,
      masters: [{ id: master.id, host: '127.0.0.1', port: master.ports.minion, enrolPort: master.ports.enrol }],
      clusterPublicKey: devstack().clusterKeys.publicKey,
      pkiDir: join(dir(), id, 'pki'),
      cacheDir: join(dir(), id, 'cache'),
      imds: { enabled: false },
      enrolRetryMs: 300,
    });
    minions.push(await startMinion(config, { context, log }));
  }
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env())).keys
        .length === MINION_COUNT,
    { what: 'every key pending', timeoutMs: 30_000 },
  );
  assert.equal((await phoenix(['keys', 'accept', '*'], env())).code, 0);
  await waitFor(() => minions.every((m) => m.state === 'connected'), {
    what: 'every minion connected',
    timeoutMs: 30_000,
  });
  // The master knows each as connected once its hello is handled: a ping answered by all says so.
  await waitFor(
    async () => {
      const out = json<{ returns: object }>(
        await phoenix(['run', '*', 'test.ping', '--out', 'json', '-t', '5'], env()),
      );
      return Object.keys(out.returns).length === MINION_COUNT;
    },
    { what: 'every minion answering', timeoutMs: 30_000 },
  );
  acknowledged.length = 0;
});

test('kill -9 of the master right after it acknowledged returns: every acknowledged return is in the returns table', async () => {
  const killed = new Promise<void>((resolve) => {
    onAck = () => {
      if (acknowledged.length < KILL_AFTER_ACKS || master.process.signalCode !== null) return;
      master.process.kill('SIGKILL');
      resolve();
    };
  });
  const exited = new Promise<void>((resolve) => master.process.once('close', () => resolve()));
  // Several jobs at once, so returns keep arriving while the first acknowledgements go out.
  const submitted = await Promise.all(
    Array.from({ length: JOBS }, async () => {
      const answer = await fetch(`${master.api}/api/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ target: '*', fun: 'test.ping' }),
      }).catch(() => undefined); // the kill may come before a late submission is answered
      return answer?.ok === true ? ((await answer.json()) as { jid: string }).jid : undefined;
    }),
  );
  await waitFor(
    async () => {
      await Promise.race([killed, new Promise((resolve) => setTimeout(resolve, 50))]);
      return master.process.signalCode !== null;
    },
    { what: `${KILL_AFTER_ACKS} acknowledgements and the kill`, timeoutMs: 20_000 },
  );
  await exited;
  const heard = [...acknowledged];
  const owed = submitted.filter((jid) => jid !== undefined).length * MINION_COUNT;
  console.log(
    `killed after ${KILL_AFTER_ACKS} acknowledgements: ${heard.length} acknowledged in all, ` +
      `of ${owed} returns owed by the ${submitted.filter(Boolean).length} jobs answered before the kill`,
  );
  assert.ok(heard.length >= KILL_AFTER_ACKS);

  // The returns table itself, through the AWS SDK: no Phoenix code between the test and the rows.
  dynamodb = new DynamoDBClient(awsClientConfig(devstack().aws, 'dynamodb'));
  const doc = DynamoDBDocumentClient.from(dynamodb);
  const table = `${devstack().tablePrefix}-returns`;
  const found = new Set<string>();
  for (let i = 0; i < heard.length; i += 100) {
    let keys: Array<Record<string, string>> = heard.slice(i, i + 100).map(({ jid, minionId }) => ({ jid, minionId }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      assert.ok(attempt < 10, 'the returns table answered every key');
      const answer = await doc.send(new BatchGetCommand({ RequestItems: { [table]: { Keys: keys } } }));
      for (const item of answer.Responses?.[table] ?? []) found.add(`${String(item.jid)}/${String(item.minionId)}`);
      keys = (answer.UnprocessedKeys?.[table]?.Keys ?? []) as typeof keys;
    }
  }
  const lost = heard.filter(({ jid, minionId }) => !found.has(`${jid}/${minionId}`));
  assert.deepEqual(lost, [], 'every acknowledged return is stored');
});
