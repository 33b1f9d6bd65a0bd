import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { launchChromium, skipWithoutChromium } from './lib/dashboard.js';

// Attacks on the API's trust: lockout by other people's failures, roles that do not hold, tokens
// that never end or outlive their revocation. Two masters speak HTTPS with a certificate made here;
// the CLI trusts it with --ca / PHOENIX_CA, the dashboard's browser by the certificate's key.

// Masters stop before the local DynamoDB they heartbeat into (after hooks run in registration order).
const processes = useProcesses();
const devstack = useDevstack();
const dir = useTempDir();

const OPERATE_TOKEN = 'phoenix-attack-operate-token';
const READ_TOKEN = 'phoenix-attack-read-token';
const EXPIRED_TOKEN = 'phoenix-attack-expired-token';
const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

const masters: RunningMaster[] = [];
let ca: string;
let caFile: string;
let keyFile: string;
const apiOf = (index = 0): string => (masters[index] as RunningMaster).api;
/** The CLI trusts the test's certificate as an operator's would: PHOENIX_CA names the CA file. */
const cliEnv = (token = ADMIN_TOKEN, index = 0): NodeJS.ProcessEnv => ({
  PHOENIX_API: apiOf(index),
  PHOENIX_TOKEN: token,
  PHOENIX_CA: caFile,
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
  options: { token?: string; body?: unknown; localAddress?: string; master?: number } = {},
): Promise<Answer> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${apiOf(options.master)}${path}`,
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
/** What the minion itself says (state.list_disabled, and who in its state_runs_disabled grain), asked as admin. */
const killswitchOf = async (minionId: string): Promise<{ names: string[]; disabled: boolean; by?: string }> => {
  const ask = async <T>(words: string[]): Promise<T> => {
    const out = await phoenix(['run', minionId, ...words, '--out', 'json', '--timeout', '10'], cliEnv());
    const ret = json<{ returns: Record<string, { ret: T }> }>(out).returns[minionId];
    assert.ok(ret, `${minionId} answered: ${out.stdout}${out.stderr}`);
    return ret.ret;
  };
  const names = await ask<string[]>(['state.list_disabled']);
  const grain = await ask<{ by?: string } | string>(['grains.get', 'state_runs_disabled']);
  const by = typeof grain === 'object' && grain !== null ? grain.by : undefined;
  return { names, disabled: names.includes('*'), ...(by === undefined ? {} : { by }) };
};

test('two HTTPS masters with three roles of token and one accepted minion', async () => {
  caFile = join(dir(), 'api.crt');
  keyFile = join(dir(), 'api.key');
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
  for (const id of ['master-1', 'master-2']) {
    const started = await startMasterProcess(devstack(), dir(), processes, id, undefined, {
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
    masters.push({ ...started, api: started.api.replace(/^http:/, 'https:') });
  }
  await startMinionProcess(devstack(), dir(), processes, 'web-1', masters);
  const env = cliEnv();
  await waitFor(
    async () => (await phoenix(['keys', 'accept', 'web-1', '--out', 'json'], env)).stdout.includes('web-1'),
    {
      what: 'web-1 to enrol and be accepted',
      timeoutMs: 20_000,
      intervalMs: 200,
    },
  );
  for (const index of [0, 1]) {
    await waitFor(
      async () =>
        (await phoenix(['run', 'web-1', 'test.ping', '--timeout', '3'], cliEnv(ADMIN_TOKEN, index))).code === 0,
      { what: `web-1 to answer through master-${index + 1}`, timeoutMs: 20_000 },
    );
  }
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
  for (const args of [[], ['*']]) {
    const enable = await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable', args });
    assert.deepEqual(enable.minions, [], `state.enable ${args.join(' ')}`);
    assert.match(enable.skipped[0]?.reason ?? '', /only an admin can enable/);
  }
  // Through the other master too: the mark is the cluster's, not one master's.
  const elsewhere = await call('POST', '/api/v1/jobs', {
    token: OPERATE_TOKEN,
    master: 1,
    body: { target: 'web-1', fun: 'state.enable' },
  });
  assert.deepEqual((elsewhere.body as Submitted).minions, [], elsewhere.text);
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
  await submit(ADMIN_TOKEN, { target: 'web-1', fun: 'state.disable', kwargs: { reason: 'patching' } });
  await waitFor(async () => (await killswitchOf('web-1')).disabled, {
    what: 'the admin job’s killswitch',
    timeoutMs: 15_000,
  });
  const enable = await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable' });
  assert.deepEqual(enable.minions, [], 'an operate token cannot enable what an admin job disabled');
  assert.equal((await call('POST', '/api/v1/minions/web-1/enable', { token: ADMIN_TOKEN, body: {} })).status, 200);
  await waitFor(async () => !(await killswitchOf('web-1')).disabled, { what: 'web-1 enabled', timeoutMs: 15_000 });

  // An operate token's own disable names its submitter, whatever `by` it passes; it may lift it itself.
  await submit(OPERATE_TOKEN, {
    target: 'web-1',
    fun: 'state.disable',
    kwargs: { reason: 'mine', by: 'test-admin' },
  });
  const shown = await waitFor(
    async () => {
      const state = await killswitchOf('web-1');
      return state.disabled ? state : undefined;
    },
    { what: 'the operate disable', timeoutMs: 15_000 },
  );
  assert.equal(shown.by, 'test-operate');
  assert.deepEqual((await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable' })).minions, ['web-1']);
  await waitFor(async () => !(await killswitchOf('web-1')).disabled, { what: 'web-1 enabled', timeoutMs: 15_000 });
});

test('roles: what an admin disabled by name (state.disable highstate) only an admin enables again', async () => {
  const disable = await submit(ADMIN_TOKEN, { target: 'web-1', fun: 'state.disable', args: ['highstate'] });
  assert.deepEqual(disable.minions, ['web-1']);
  await waitFor(async () => (await killswitchOf('web-1')).names.includes('highstate'), {
    what: 'highstate disabled on web-1',
    timeoutMs: 15_000,
  });
  const byName = await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable', args: ['highstate'] });
  assert.deepEqual(byName.minions, []);
  assert.match(byName.skipped[0]?.reason ?? '', /highstate disabled by the admin test-admin: only an admin/);
  const inList = await submit(OPERATE_TOKEN, {
    target: 'web-1',
    fun: 'state.enable',
    kwargs: { states: 'web,highstate' },
  });
  assert.deepEqual(inList.minions, [], 'nor as one of several names');
  // What the admin did not disable stays the operator's: the whole killswitch is not held.
  assert.deepEqual((await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable' })).minions, ['web-1']);
  assert.deepEqual((await killswitchOf('web-1')).names, ['highstate'], 'highstate is still disabled');

  const byAdmin = await submit(ADMIN_TOKEN, { target: 'web-1', fun: 'state.enable', args: ['highstate'] });
  assert.deepEqual(byAdmin.minions, ['web-1']);
  await waitFor(async () => (await killswitchOf('web-1')).names.length === 0, {
    what: 'highstate enabled again',
    timeoutMs: 15_000,
  });
  const after = await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.disable', args: ['highstate'] });
  assert.deepEqual(after.minions, ['web-1']);
  assert.deepEqual(
    (await submit(OPERATE_TOKEN, { target: 'web-1', fun: 'state.enable', args: ['highstate'] })).minions,
    ['web-1'],
    'an operator lifts its own',
  );
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
  for (const master of [0, 1]) {
    const answer = await call('GET', '/api/v1/minions', { token: READ_TOKEN, master });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    const refused = await call('GET', '/api/v1/whoami', { token: 'not-a-valid-token', master });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['cache-control'], 'no-store', 'errors too');
    assert.equal(refused.headers['x-content-type-options'], 'nosniff');
    // The streams too: they are answered past the usual hooks.
    const streamed = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      const req = httpsRequest(
        `${apiOf(master)}/api/v1/events?tag=none/`,
        { ca, timeout: 10_000, headers: { authorization: `Bearer ${READ_TOKEN}` } },
        (res) => {
          resolve(res.headers);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(streamed['content-type'], 'text/event-stream');
    assert.equal(streamed['cache-control'], 'no-store');
    assert.equal(streamed['x-content-type-options'], 'nosniff');
    const plain = await new Promise<string>((resolve) => {
      const req = httpRequest(`${apiOf(master).replace(/^https:/, 'http:')}/healthz`, { timeout: 5_000 }, (res) =>
        resolve(`answered ${res.statusCode}`),
      );
      req.on('error', (err) => resolve(err.message));
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.end();
    });
    assert.doesNotMatch(plain, /answered 200/, 'no plain HTTP answer from the HTTPS port');
  }
});

test('the CLI checks the certificate: without the CA it refuses, with --ca or PHOENIX_CA it talks', async () => {
  const untrusted = await phoenix(['masters', '--out', 'json'], { PHOENIX_API: apiOf(), PHOENIX_TOKEN: ADMIN_TOKEN });
  assert.notEqual(untrusted.code, 0);
  assert.match(untrusted.stderr, /self-signed certificate|unable to verify|PHX_CLI_API_UNREACHABLE/);
  const flagged = await phoenix(['masters', '--out', 'json', '--ca', caFile], {
    PHOENIX_API: apiOf(1),
    PHOENIX_TOKEN: READ_TOKEN,
  });
  assert.equal(flagged.code, 0, flagged.stderr);
  assert.deepEqual(
    json<{ masters: Array<{ masterId: string }> }>(flagged)
      .masters.map((m) => m.masterId)
      .sort(),
    ['master-1', 'master-2'],
  );
  const missing = await phoenix(['masters', '--ca', join(dir(), 'no-such-ca.pem')], cliEnv());
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read the CA file/);
});

test('tokens: an expired config token is refused; phoenix tokens create, list and revoke, on every master', async () => {
  for (const master of [0, 1]) {
    const expired = await call('GET', '/api/v1/whoami', { token: EXPIRED_TOKEN, master });
    assert.equal(expired.status, 401);
    assert.match(expired.text, /expired/);
  }

  const made = await phoenix(
    ['tokens', 'create', 'ci-reader', '--role', 'read', '--ttl', '30d', '--out', 'json'],
    cliEnv(),
  );
  assert.equal(made.code, 0, made.stderr);
  const { token, info } = json<{ token: string; info: { id: string; state: string; validUntil: number } }>(made);
  assert.match(token, /^phx_[0-9a-f]{12}_/);
  assert.equal(info.state, 'active');
  assert.ok(info.validUntil > Date.now() + 29 * 86_400_000 && info.validUntil < Date.now() + 31 * 86_400_000);
  for (const master of [0, 1]) {
    const who = await call('GET', '/api/v1/whoami', { token, master });
    assert.equal(who.status, 200, `master-${master + 1} knows the new token: ${who.text}`);
    assert.equal((who.body as { name: string; role: string }).role, 'read');
  }
  const read = await call('GET', '/api/v1/minions', { token, master: 1 });
  assert.equal(read.status, 200, 'it reads');
  const job = await call('POST', '/api/v1/jobs', { token, body: { target: 'web-1', fun: 'test.ping' } });
  assert.equal(job.status, 403, 'and does nothing more');
  const escalate = await phoenix(['tokens', 'create', 'x', '--role', 'admin'], cliEnv(OPERATE_TOKEN));
  assert.notEqual(escalate.code, 0, 'only an admin makes tokens');
  assert.match(escalate.stderr, /PHX_API_FORBIDDEN/);
  const badTtl = await phoenix(['tokens', 'create', 'x', '--role', 'read', '--ttl', 'forever'], cliEnv());
  assert.equal(badTtl.code, 2);

  const listed = json<{ tokens: Array<{ id: string; state: string }> }>(
    await phoenix(['tokens', 'list', '--out', 'json'], cliEnv(ADMIN_TOKEN, 1)),
  ).tokens;
  assert.deepEqual(
    listed.map((t) => [t.id, t.state]),
    [[info.id, 'active']],
  );
  assert.doesNotMatch(JSON.stringify(listed), new RegExp(token.slice(18)), 'the token itself is never listed');
  assert.equal((await phoenix(['tokens', 'list'], cliEnv(READ_TOKEN))).code, 1, 'a read token cannot list them');

  // Revoked through master-1: refused by master-2 as well, at once or at worst within its refresh.
  const revoke = await phoenix(['tokens', 'revoke', info.id], cliEnv());
  assert.equal(revoke.code, 0, revoke.stderr);
  const revoked = await call('GET', '/api/v1/whoami', { token });
  assert.equal(revoked.status, 401);
  assert.match(revoked.text, /revoked/);
  await waitFor(async () => (await call('GET', '/api/v1/minions', { token, master: 1 })).status === 401, {
    what: 'master-2 to refuse the revoked token',
    timeoutMs: 15_000,
    intervalMs: 100,
  });
  assert.equal(
    json<{ tokens: Array<{ id: string; state: string }> }>(
      await phoenix(['tokens', 'list', '--out', 'json'], cliEnv()),
    ).tokens.find((t) => t.id === info.id)?.state,
    'revoked',
  );

  // A short-lived token stops working by itself, on both masters.
  const brief = json<{ token: string }>(
    await phoenix(['tokens', 'create', 'brief', '--role', 'read', '--ttl', '2s', '--out', 'json'], cliEnv()),
  ).token;
  assert.equal((await call('GET', '/api/v1/whoami', { token: brief })).status, 200);
  for (const master of [0, 1]) {
    await waitFor(async () => (await call('GET', '/api/v1/whoami', { token: brief, master })).status === 401, {
      what: `master-${master + 1} to refuse the two-second token once it expired`,
      timeoutMs: 15_000,
      intervalMs: 250,
    });
  }
});

test(
  'the dashboard works over HTTPS in a browser that trusts only this certificate',
  { skip: skipWithoutChromium },
  async () => {
    // Chromium's --ignore-certificate-errors-spki-list trusts exactly this key, as a CA file would.
    const spki = createHash('sha256')
      .update(new X509Certificate(ca).publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64');
    const browser = await launchChromium([`--ignore-certificate-errors-spki-list=${spki}`]);
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(15_000);
      const problems: string[] = [];
      page.on('pageerror', (err) => problems.push(err.message));
      await page.goto(`${apiOf(1)}/`);
      assert.equal(new URL(page.url()).protocol, 'https:');
      await page.locator('#login input[name="token"]').fill(ADMIN_TOKEN);
      await page.locator('#login button[type="submit"]').click();
      await page.locator('header', { hasText: 'test-admin (admin) via master-2' }).waitFor();
      await page.locator('#link-state', { hasText: 'events: live' }).waitFor();
      await page.locator('#instances tr[data-minion-id="web-1"]').waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  },
);

test('after every attack, both masters answer: /healthz and a test.ping through each', async () => {
  for (const master of [0, 1]) {
    assert.equal((await call('GET', '/healthz', { master })).status, 200);
    const ping = await phoenix(
      ['run', 'web-1', 'test.ping', '--out', 'json', '--timeout', '10'],
      cliEnv(ADMIN_TOKEN, master),
    );
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal(json<{ returns: Record<string, { ret: unknown }> }>(ping).returns['web-1']?.ret, true);
  }
});
