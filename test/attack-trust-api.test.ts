import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';

// Attacks on the API's trust: lockout by other people's failures, roles that do not hold, tokens
// that never end. The master speaks HTTPS with a certificate made here.

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();

const OPERATE_TOKEN = 'phoenix-attack-operate-token';
const READ_TOKEN = 'phoenix-attack-read-token';
const EXPIRED_TOKEN = 'phoenix-attack-expired-token';
const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

let master: RunningMaster;
let ca: string;
let caFile: string;
/** The CLI trusts the test's certificate the way an operator's would: NODE_EXTRA_CA_CERTS. */
const cliEnv = (token = ADMIN_TOKEN): NodeJS.ProcessEnv => ({
  PHOENIX_API: master.api,
  PHOENIX_TOKEN: token,
  NODE_EXTRA_CA_CERTS: caFile,
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; localAddress?: string } = {},
): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${master.api}${path}`,
      {
        method,
        ca,
        timeout: 10_000,
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
        headers: {
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

interface Submitted {
  jid: string;
  minions: string[];
  skipped: Array<{ minionId: string; reason: string }>;
}
const submit = async (token: string, body: Record<string, unknown>): Promise<Submitted> => {
  const answer = await call('POST', '/api/v1/jobs', { token, body });
  assert.equal(answer.status, 201, answer.text);
  return answer.body as Submitted;
};
/** What the minion itself says about its killswitch (state.list_disabled), asked with the admin token. */
const killswitchOf = async (minionId: string): Promise<{ disabled: boolean; by?: string }> => {
  const out = await phoenix(['run', minionId, 'state.list_disabled', '--out', 'json', '--timeout', '10'], cliEnv());
  const ret = json<{ returns: Record<string, { ret: { disabled: boolean; by?: string } }> }>(out).returns[minionId];
  assert.ok(ret, `${minionId} answered: ${out.stdout}${out.stderr}`);
  return ret.ret;
};

test('an HTTPS master with three roles of token and one accepted minion', async () => {
  caFile = join(dir(), 'api.crt');
  const keyFile = join(dir(), 'api.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      caFile,
    ],
    { stdio: 'ignore' },
  );
  ca = readFileSync(caFile, 'utf8');
  master = await startMasterProcess(devstack(), dir(), processes, 'master-1', undefined, {
    api: {
      tls: { certFile: caFile, keyFile },
      tokens: [
        { name: 'test-admin', role: 'admin', sha256: sha256(ADMIN_TOKEN) },
        { name: 'test-operate', role: 'operate', sha256: sha256(OPERATE_TOKEN) },
        { name: 'test-read', role: 'read', sha256: sha256(READ_TOKEN) },
        { name: 'old', role: 'admin', sha256: sha256(EXPIRED_TOKEN), expires: '2020-01-01T00:00:00Z' },
      ],
    },
  });
  master = { ...master, api: master.api.replace(/^http:/, 'https:') };
  await startMinionProcess(devstack(), dir(), processes, 'web-1', [master]);
  const env = cliEnv();
  await waitFor(
    async () => (await phoenix(['keys', 'accept', 'web-1', '--out', 'json'], env)).stdout.includes('web-1'),
    {
      what: 'web-1 to enrol and be accepted',
      timeoutMs: 20_000,
      intervalMs: 200,
    },
  );
  await waitFor(async () => (await phoenix(['run', 'web-1', 'test.ping', '--timeout', '3'], env)).code === 0, {
    what: 'web-1 to answer',
    timeoutMs: 20_000,
  });
});

test('lockout: other people’s failed tokens from the same address never refuse a valid token', async () => {
  const shared = '127.0.0.9'; // a NAT, a bastion, a shared CI runner
  let limited: Answer | undefined;
  for (let i = 0; i < 40 && limited === undefined; i++) {
    const answer = await call('GET', '/api/v1/minions', { token: `guess-${i}-xxxxxxxx`, localAddress: shared });
    if (answer.status === 429) limited = answer;
    else assert.equal(answer.status, 401);
  }
  assert.ok(limited, 'the guessing is limited within 40 failures');
  assert.ok(Number(limited.headers['retry-after']) > 0);
  for (const token of [ADMIN_TOKEN, READ_TOKEN]) {
    const valid = await call('GET', '/api/v1/minions', { token, localAddress: shared });
    assert.equal(valid.status, 200, `a valid token from the limited address: ${valid.text}`);
  }
  assert.equal((await call('GET', '/api/v1/minions', { localAddress: shared })).status, 429, 'no token: still limited');
});

test('failures are limited per token prefix too: guessing one token from many addresses', async () => {
  let limited: Answer | undefined;
  for (let i = 0; i < 40 && limited === undefined; i++) {
    // Every guess from a fresh address, all at the same token id.
    const answer = await call('GET', '/api/v1/whoami', {
      token: `phx_0123456789ab_guess${i}`,
      localAddress: `127.0.1.${i + 1}`,
    });
    if (answer.status === 429) limited = answer;
    else assert.equal(answer.status, 401);
  }
  assert.ok(limited, 'the guesses at one token id are limited, whatever their address');
  const fresh = await call('GET', '/api/v1/whoami', { token: READ_TOKEN, localAddress: '127.0.1.200' });
  assert.equal(fresh.status, 200, fresh.text);
});

test('roles: an operate token cannot lift an admin’s disable, by the API or by a state.enable job', async () => {
  const disabled = await call('POST', '/api/v1/minions/web-1/disable', {
    token: ADMIN_TOKEN,
    body: { reason: 'forensics' },
  });
  assert.equal(disabled.status, 200, disabled.text);
  await waitFor(async () => (await killswitchOf('web-1')).disabled, {
    what: 'the killswitch on web-1',
    timeoutMs: 15_000,
  });

  const byApi = await call('POST', '/api/v1/minions/web-1/enable', { token: OPERATE_TOKEN, body: {} });
  assert.equal(byApi.status, 403);
  // The attack that worked: the operate token's state.enable lifted the admin's disable.
  const enable = await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable' });
  assert.deepEqual(enable.minions, []);
  assert.match(enable.skipped[0]?.reason ?? '', /only an admin can enable/);
  assert.equal((await killswitchOf('web-1')).disabled, true, 'the minion is still disabled');
  const highstate = await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.highstate' });
  assert.deepEqual(highstate.minions, []);
  assert.match(highstate.skipped[0]?.reason ?? '', /forensics/);

  const byAdmin = await submit(ADMIN_TOKEN, { target: 'web-1', fun: 'state.enable' });
  assert.deepEqual(byAdmin.minions, ['web-1']);
  await waitFor(
    async () =>
      (await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.highstate', kwargs: { test: true } })).minions
        .length === 1 &&
      (await call('GET', '/api/v1/minions/web-1', { token: READ_TOKEN })).text.includes('"disabled"') === false,
    { what: 'the admin’s state.enable to lift the mark', timeoutMs: 15_000 },
  );
});

test('roles: an admin’s state.disable job holds the same way, and nobody can sign it as someone else', async () => {
  await submit(ADMIN_TOKEN, { target: 'web-1', fun: 'state.disable', args: ['patching'] });
  await waitFor(async () => (await killswitchOf('web-1')).disabled, {
    what: 'the admin job’s killswitch',
    timeoutMs: 15_000,
  });
  const enable = await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable' });
  assert.deepEqual(enable.minions, [], 'an operate token cannot enable what an admin job disabled');
  assert.equal((await call('POST', '/api/v1/minions/web-1/enable', { token: ADMIN_TOKEN, body: {} })).status, 200);
  await waitFor(async () => !(await killswitchOf('web-1')).disabled, { what: 'web-1 enabled', timeoutMs: 15_000 });

  // An operate token's own disable names its submitter, whatever `by` it passes; it may lift it itself.
  await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.disable', args: ['mine'], kwargs: { by: 'test-admin' } });
  const shown = await waitFor(
    async () => {
      const state = await killswitchOf('web-1');
      return state.disabled ? state : undefined;
    },
    { what: 'the operate disable', timeoutMs: 15_000 },
  );
  assert.equal(shown.by, 'test-operate');
  assert.deepEqual((await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable' })).minions, ['web-1']);
});

test('every operation of the OpenAPI document names its role', async () => {
  const answer = await call('GET', '/api/v1/openapi.json', { token: READ_TOKEN });
  const doc = answer.body as { paths: Record<string, Record<string, { 'x-phoenix-role'?: string }>> };
  const roles = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]): [string, string | undefined] => [
      `${method.toUpperCase()} ${path}`,
      operation['x-phoenix-role'],
    ]),
  );
  assert.ok(roles.length >= 17);
  for (const [operation, role] of roles)
    assert.ok(['open', 'read', 'operate', 'admin'].includes(role ?? ''), `${operation}: ${role}`);
  const roleOf = new Map(roles);
  assert.equal(roleOf.get('GET /healthz'), 'open');
  assert.equal(roleOf.get('GET /api/v1/minions'), 'read');
  assert.equal(roleOf.get('POST /api/v1/jobs'), 'operate');
  assert.equal(roleOf.get('POST /api/v1/keys/{action}'), 'admin');
  assert.equal(roleOf.get('POST /api/v1/minions/{id}/enable'), 'admin');
  assert.equal((await call('GET', '/healthz')).status, 200, 'the master keeps answering');
});

test('HTTPS only, and every API answer says no-store and nosniff', async () => {
  const answer = await call('GET', '/api/v1/minions', { token: READ_TOKEN });
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['cache-control'], 'no-store');
  assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  const refused = await call('GET', '/api/v1/whoami', { token: 'not-a-valid-token' });
  assert.equal(refused.headers['cache-control'], 'no-store', 'errors too');
  const plain = await new Promise<string>((resolve) => {
    const req = httpRequest(master.api.replace(/^https:/, 'http:') + '/healthz', { timeout: 5_000 }, (res) =>
      resolve(`answered ${res.statusCode}`),
    );
    req.on('error', (err) => resolve(err.message));
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end();
  });
  assert.doesNotMatch(plain, /answered 200/, 'no plain HTTP answer from the HTTPS port');
});

test('tokens: an expired config token is refused; phoenix tokens create, list and revoke', async () => {
  const expired = await call('GET', '/api/v1/whoami', { token: EXPIRED_TOKEN });
  assert.equal(expired.status, 401);
  assert.match(expired.text, /expired/);

  const made = await phoenix(
    ['tokens', 'create', 'ci-reader', '--role', 'read', '--ttl', '30d', '--out', 'json'],
    cliEnv(),
  );
  assert.equal(made.code, 0, made.stderr);
  const { token, info } = json<{ token: string; info: { id: string; state: string } }>(made);
  assert.match(token, /^phx_[0-9a-f]{12}_/);
  assert.equal(info.state, 'active');
  const who = await call('GET', '/api/v1/whoami', { token });
  assert.deepEqual((who.body as { name: string; role: string }).role, 'read');
  const escalate = await phoenix(['tokens', 'create', 'x', '--role', 'admin'], cliEnv(OPERATE_TOKEN));
  assert.notEqual(escalate.code, 0, 'only an admin makes tokens');

  const listed = json<{ tokens: Array<{ id: string; state: string }> }>(
    await phoenix(['tokens', 'list', '--out', 'json'], cliEnv()),
  ).tokens;
  assert.deepEqual(
    listed.map((t) => [t.id, t.state]),
    [[info.id, 'active']],
  );
  assert.doesNotMatch(JSON.stringify(listed), new RegExp(token.slice(18)), 'the token itself is never listed');

  assert.equal((await phoenix(['tokens', 'revoke', info.id], cliEnv())).code, 0);
  const revoked = await call('GET', '/api/v1/whoami', { token });
  assert.equal(revoked.status, 401);
  assert.match(revoked.text, /revoked/);

  // A short-lived token stops working by itself.
  const brief = json<{ token: string }>(
    await phoenix(['tokens', 'create', 'brief', '--role', 'read', '--ttl', '2s', '--out', 'json'], cliEnv()),
  ).token;
  assert.equal((await call('GET', '/api/v1/whoami', { token: brief })).status, 200);
  await waitFor(async () => (await call('GET', '/api/v1/whoami', { token: brief })).status === 401, {
    what: 'the two-second token to expire',
    timeoutMs: 10_000,
    intervalMs: 250,
  });
  assert.equal((await call('GET', '/healthz')).status, 200);
});
