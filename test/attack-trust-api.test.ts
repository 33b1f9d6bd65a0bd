import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';

// Attacks on the API's trust: lockout by other people's failures, roles that do not hold.

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();

const OPERATE_TOKEN = 'phoenix-attack-operate-token';
const READ_TOKEN = 'phoenix-attack-read-token';
const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

let master: RunningMaster;

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
    const req = httpRequest(
      `${master.api}${path}`,
      {
        method,
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
  const out = await phoenix(['run', minionId, 'state.list_disabled', '--out', 'json', '--timeout', '10'], {
    PHOENIX_API: master.api,
    PHOENIX_TOKEN: ADMIN_TOKEN,
  });
  const ret = json<{ returns: Record<string, { ret: { disabled: boolean; by?: string } }> }>(out).returns[minionId];
  assert.ok(ret, `${minionId} answered: ${out.stdout}${out.stderr}`);
  return ret.ret;
};

test('a master with three roles of token and one accepted minion', async () => {
  master = await startMasterProcess(devstack(), dir(), processes, 'master-1', undefined, {
    api: {
      tokens: [
        { name: 'test-admin', role: 'admin', sha256: sha256(ADMIN_TOKEN) },
        { name: 'test-operate', role: 'operate', sha256: sha256(OPERATE_TOKEN) },
        { name: 'test-read', role: 'read', sha256: sha256(READ_TOKEN) },
      ],
    },
  });
  await startMinionProcess(devstack(), dir(), processes, 'web-1', [master]);
  const env = { PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN };
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
