import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { pino } from 'pino';
import type { Store } from '@phoenix/store';
import { hashToken, staticTokens } from '../src/api/auth.js';
import { TokenRegistry } from '../src/api/token-registry.js';
import { startLocalStore } from './local-store.js';

// Tokens made with `phoenix tokens create`, as two masters see them through one real (local)
// DynamoDB, on a clock the test moves: expiry needs no waiting.

let local: Awaited<ReturnType<typeof startLocalStore>>;
let store: Store;
let client: DynamoDBClient;
before(async () => {
  local = await startLocalStore('tokens-test');
  store = local.store;
  client = local.client;
});
after(() => local.close());

const log = pino({ level: 'silent' });

test('a token made on one master works on another, until it expires or is revoked; only its hash is stored', async () => {
  let now = 1_700_000_000_000;
  const clock = (): number => now;
  const first = new TokenRegistry(store.apiTokens, log, clock);
  const second = new TokenRegistry(store.apiTokens, log, clock);
  await second.refresh();

  const { token, record } = await first.create({ name: 'ci', role: 'operate', ttlSeconds: 3600, by: 'alice' });
  assert.match(token, /^phx_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  assert.equal(record.validUntil, now + 3_600_000);
  assert.deepEqual(await first.verify(token), { name: 'ci', role: 'operate' });
  // The other master has not read the table since; an unknown id makes it look (at most once a second).
  now += 1_000;
  assert.deepEqual(await second.verify(token), { name: 'ci', role: 'operate' });

  const rows = await DynamoDBDocumentClient.from(client).send(
    new ScanCommand({ TableName: store.apiTokens.tableName }),
  );
  const stored = JSON.stringify(rows.Items);
  assert.ok(stored.includes(hashToken(token)), 'the hash is kept');
  assert.ok(!stored.includes(token.slice(18)), 'the secret part is not');

  const wrong = `${token.slice(0, -4)}AAAA`;
  assert.equal(await first.verify(wrong), undefined, 'the right id with the wrong secret is no token');

  now += 3_600_000;
  assert.deepEqual(await first.verify(token), { name: 'ci', role: 'operate', expired: true });
  assert.deepEqual(await second.verify(token), { name: 'ci', role: 'operate', expired: true });

  const lasting = await first.create({ name: 'lasting', role: 'read', by: 'alice' });
  now += 1_000;
  assert.deepEqual(await second.verify(lasting.token), { name: 'lasting', role: 'read' });
  await first.revoke(lasting.record.id, 'bob');
  assert.equal((await first.verify(lasting.token))?.expired, true, 'refused at once where it was revoked');
  await second.refresh(); // what a peer's token/revoked event or the periodic refresh does
  assert.equal((await second.verify(lasting.token))?.expired, true, 'and on the other master');
  now += 10 * 365 * 86_400_000;
  assert.equal((await second.verify(lasting.token))?.expired, true, 'a revoked token never comes back');

  await assert.rejects(first.revoke('000000000000', 'bob'), /no API token 000000000000/);
});

test('a config token with `expires` is refused from that moment on', () => {
  let now = Date.parse('2030-01-01T00:00:00Z') - 1;
  const check = staticTokens(
    [{ name: 'deploy', role: 'admin', sha256: hashToken('secret-token-value'), expires: '2030-01-01T00:00:00Z' }],
    () => now,
  );
  assert.deepEqual(check('secret-token-value'), { name: 'deploy', role: 'admin' });
  now += 1;
  assert.deepEqual(check('secret-token-value'), { name: 'deploy', role: 'admin', expired: true });
  assert.equal(check('another-token-value'), undefined);
});
