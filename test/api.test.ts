import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Context } from 'zeromq';
import pino from 'pino';
import { startMinion, MinionConfigSchema, type Minion } from '@phoenix/minion';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, type RunningMaster } from './lib/cluster.js';

// Processes first: `after` hooks run in the order they were registered, and masters that heartbeat
// into the local DynamoDB must stop before it does.
const processes = useProcesses();
const devstack = useDevstack();
const dir = useTempDir();

const READ_TOKEN = 'phoenix-test-read-token';
const OPERATE_TOKEN = 'phoenix-test-operate-token';
const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');
const TOKENS = [
  { name: 'test-admin', role: 'admin', sha256: sha256(ADMIN_TOKEN) },
  { name: 'test-operate', role: 'operate', sha256: sha256(OPERATE_TOKEN) },
  { name: 'test-read', role: 'read', sha256: sha256(READ_TOKEN) },
];
const MINION_IDS = ['api-1', 'api-2', 'api-3', 'api-4'];

const masters: RunningMaster[] = [];
const minions: Minion[] = [];
const context = new Context();

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: unknown;
}

/** One HTTP request, bounded; `localAddress` lets a test speak from another loopback address. */
function call(
  master: RunningMaster,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string; localAddress?: string } = {},
): Promise<Answer> {
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
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
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

const get = (master: RunningMaster, path: string, token = READ_TOKEN): Promise<Answer> =>
  call(master, 'GET', path, { token });
const errorOf = (answer: Answer): { code: string; message: string } =>
  (answer.body as { error: { code: string; message: string } }).error;

/** An open GET /api/v1/events stream collecting what it hears, until `close`. */
function openEvents(master: RunningMaster, query: string) {
  const controller = new AbortController();
  const events: Array<{ tag: string; masterId: string; data: Record<string, unknown> }> = [];
  const comments: string[] = [];
  const done = (async () => {
    const response = await fetch(`${master.api}/api/v1/events${query}`, {
      headers: { authorization: `Bearer ${READ_TOKEN}` },
      signal: controller.signal,
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(':')) comments.push(block);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data !== undefined)
          events.push(JSON.parse(data) as { tag: string; masterId: string; data: Record<string, unknown> });
      }
    }
  })().catch((err: unknown) => {
    if ((err as Error).name !== 'AbortError') throw err;
  });
  return { events, comments, close: () => controller.abort(), done };
}

test('three masters come up and four minions enrol with pending keys', async () => {
  for (const id of ['master-1', 'master-2', 'master-3']) {
    masters.push(
      await startMasterProcess(devstack(), dir(), processes, id, undefined, {
        api: { tokens: TOKENS },
        heartbeatIntervalMs: 500,
        deadAfterMs: 3_000,
      }),
    );
  }
  for (const id of MINION_IDS) {
    const config = MinionConfigSchema.parse({
      id,
      masters: masters.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.ports.minion, enrolPort: m.ports.enrol })),
      clusterPublicKey: devstack().clusterKeys.publicKey,
      pkiDir: join(dir(), id, 'pki'),
      cacheDir: join(dir(), id, 'cache'),
      imds: { enabled: false },
      enrolRetryMs: 300,
    });
    minions.push(await startMinion(config, { context, log: pino({ level: 'silent' }) }));
  }
  await waitFor(
    async () => {
      const answer = await get(masters[0] as RunningMaster, '/api/v1/keys?state=pending');
      return (answer.body as { keys: unknown[] }).keys.length === MINION_IDS.length;
    },
    { what: 'four pending keys', timeoutMs: 20_000 },
  );
});

after(async () => {
  await Promise.all(minions.map((minion) => minion.stop()));
});

test('the event stream of one master carries a key change made on another, and minions connecting anywhere', async () => {
  const [first, second] = masters as [RunningMaster, RunningMaster];
  const stream = openEvents(second, '?tag=key/&tag=minion/&keepAliveMs=1000');
  try {
    await waitFor(() => stream.comments.length > 0, { what: 'the stream to open' });
    const accepted = await call(first, 'POST', '/api/v1/keys/accept', { token: ADMIN_TOKEN, body: { match: 'api-*' } });
    assert.equal(accepted.status, 200, accepted.text);
    await waitFor(
      () =>
        MINION_IDS.every((id) =>
          stream.events.some((e) => e.tag === 'key/changed' && e.data.minionId === id && e.data.to === 'accepted'),
        ),
      { what: 'a key/changed event for each accepted key', timeoutMs: 10_000 },
    );
    // Minions connecting to any master show in this one's stream: peers relay their events.
    await waitFor(
      () => MINION_IDS.every((id) => stream.events.some((e) => e.tag === 'minion/connected' && e.data.minionId === id)),
      { what: 'a minion/connected event for every minion, wherever it connected', timeoutMs: 20_000 },
    );
    const connectedAt = new Set(stream.events.filter((e) => e.tag === 'minion/connected').map((e) => e.masterId));
    assert.ok(
      [...connectedAt].every((masterId) => masters.some((m) => m.id === masterId)),
      'each relayed event names the master where it happened',
    );
    assert.ok(
      [...connectedAt].some((masterId) => masterId !== second.id),
      'some connected elsewhere and were relayed',
    );
    assert.ok(
      stream.events.every((e) => e.tag.startsWith('key/') || e.tag.startsWith('minion/')),
      'only the tags asked for',
    );
    await waitFor(() => stream.comments.some((c) => c.includes('keep-alive')), {
      what: 'a keep-alive comment',
      timeoutMs: 5_000,
    });
  } finally {
    stream.close();
    await stream.done;
  }
});

test('any master answers: /masters and /minions list the same from each of three masters', async () => {
  // Wait until every minion's connection is in the table, then read the fleet from each master.
  await waitFor(
    async () => {
      const { minions: list } = (await get(masters[0] as RunningMaster, '/api/v1/minions')).body as {
        minions: Array<{ connected: boolean }>;
      };
      return list.length === MINION_IDS.length && list.every((m) => m.connected);
    },
    { what: 'every minion connected', timeoutMs: 20_000 },
  );
  const listings = await Promise.all(
    masters.map(async (master) => {
      const minionsAnswer = await get(master, '/api/v1/minions');
      const mastersAnswer = await get(master, '/api/v1/masters');
      assert.equal(minionsAnswer.status, 200);
      const fleet = (minionsAnswer.body as { minions: Array<Record<string, unknown>> }).minions;
      const list = (mastersAnswer.body as { masters: Array<{ masterId: string; liveness: string }> }).masters;
      return {
        minions: fleet
          .map((m) => ({ id: m.minionId, key: m.keyState, master: m.connectedMaster, grains: m.grains }))
          .sort((a, b) => String(a.id).localeCompare(String(b.id))),
        masters: list.map((m) => `${m.masterId}:${m.liveness}`),
      };
    }),
  );
  assert.deepEqual(listings[0]?.masters, ['master-1:live', 'master-2:live', 'master-3:live']);
  assert.deepEqual(
    listings[0]?.minions.map((m) => m.id),
    MINION_IDS,
  );
  for (const listing of listings.slice(1)) assert.deepEqual(listing, listings[0]);
  const one = listings[0]?.minions[0];
  assert.equal(one?.key, 'accepted');
  assert.equal(typeof (one?.grains as Record<string, unknown>).kernel, 'string', 'a grains summary');

  const detail = await get(masters[2] as RunningMaster, '/api/v1/minions/api-2');
  assert.equal(detail.status, 200);
  assert.equal((detail.body as { grains: { id: string } }).grains.id, 'api-2');
  assert.equal((await get(masters[2] as RunningMaster, '/api/v1/minions/nobody')).status, 404);
});

test('minion listings really page: limit 2 over four minions, the cursor follows', async () => {
  const seen: string[] = [];
  let pages = 0;
  let cursor: string | undefined;
  do {
    const answer = await get(
      masters[pages % 3] as RunningMaster,
      `/api/v1/minions?limit=2&match=api-*${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
    );
    assert.equal(answer.status, 200, answer.text);
    const page = answer.body as { minions: Array<{ minionId: string }>; cursor?: string };
    assert.ok(page.minions.length <= 2, 'never more than the limit');
    seen.push(...page.minions.map((m) => m.minionId));
    cursor = page.cursor;
    pages++;
    assert.ok(pages <= 10, 'the listing ends');
  } while (cursor !== undefined);
  assert.ok(pages >= 2, `${pages} pages`);
  assert.deepEqual([...seen].sort(), MINION_IDS, 'each minion exactly once');

  const filtered = await get(masters[0] as RunningMaster, '/api/v1/minions?keyState=pending');
  assert.deepEqual((filtered.body as { minions: unknown[] }).minions, []);
  const byMaster = await get(masters[0] as RunningMaster, '/api/v1/minions?master=no-such-master');
  assert.deepEqual((byMaster.body as { minions: unknown[] }).minions, []);
  const badCursor = await get(masters[0] as RunningMaster, '/api/v1/minions?cursor=bm90LWEtY3Vyc29y');
  assert.equal(badCursor.status, 400, badCursor.text);
});

test('tokens: 401 without or with a bad token, 403 below the role, JSON error bodies', async () => {
  const master = masters[0] as RunningMaster;
  const none = await call(master, 'GET', '/api/v1/minions');
  assert.equal(none.status, 401);
  assert.equal(errorOf(none).code, 'PHX_API_UNAUTHORIZED');
  const bad = await call(master, 'GET', '/api/v1/minions', { token: 'not-a-real-token' });
  assert.equal(bad.status, 401);
  assert.equal((await call(master, 'GET', '/metrics')).status, 401, '/metrics needs a token');
  assert.equal((await call(master, 'GET', '/api/v1/openapi.json')).status, 401);

  const readSubmits = await call(master, 'POST', '/api/v1/jobs', {
    token: READ_TOKEN,
    body: { target: 'api-1', fun: 'test.ping' },
  });
  assert.equal(readSubmits.status, 403);
  assert.equal(errorOf(readSubmits).code, 'PHX_API_FORBIDDEN');
  assert.match(errorOf(readSubmits).message, /operate/);
  const operateKeys = await call(master, 'POST', '/api/v1/keys/delete', {
    token: OPERATE_TOKEN,
    body: { match: 'api-1' },
  });
  assert.equal(operateKeys.status, 403);
  const operateDisables = await call(master, 'POST', '/api/v1/minions/api-1/disable', {
    token: OPERATE_TOKEN,
    body: { reason: 'no' },
  });
  assert.equal(operateDisables.status, 403);

  for (const open of ['/healthz', '/readyz']) {
    const answer = await call(master, 'GET', open);
    assert.equal(answer.status, 200, `${open}: ${answer.text}`);
  }
});

test('repeated failed authentications from one address are refused with 429, a valid token is not', async () => {
  const master = masters[1] as RunningMaster;
  const attacker = '127.0.0.7';
  let limited: Answer | undefined;
  for (let i = 0; i < 40 && limited === undefined; i++) {
    const answer = await call(master, 'GET', '/api/v1/minions', {
      token: `guess-${i}-xxxxxxxx`,
      localAddress: attacker,
    });
    if (answer.status === 429) limited = answer;
    else assert.equal(answer.status, 401);
  }
  assert.ok(limited, 'the address was limited within 40 failures');
  assert.equal(errorOf(limited).code, 'PHX_API_RATE_LIMITED');
  assert.ok(Number(limited.headers['retry-after']) > 0);
  const evenWithAGoodToken = await call(master, 'GET', '/api/v1/minions', {
    token: READ_TOKEN,
    localAddress: attacker,
  });
  assert.equal(evenWithAGoodToken.status, 200, 'other people’s failures never lock a valid token out');
  assert.equal((await get(master, '/api/v1/minions')).status, 200, 'another address is unaffected');
  assert.equal((await call(master, 'GET', '/healthz', { localAddress: attacker })).status, 200);
});

test('bad input is a 400 that names the problem, oversized bodies 413, and injected targets run nothing', async () => {
  const master = masters[0] as RunningMaster;
  const submit = (body: unknown): Promise<Answer> =>
    call(master, 'POST', '/api/v1/jobs', { token: OPERATE_TOKEN, body });

  const wrongType = await submit({ target: 'api-1', fun: 42 });
  assert.equal(wrongType.status, 400);
  assert.equal(errorOf(wrongType).code, 'PHX_API_BAD_REQUEST');
  assert.match(errorOf(wrongType).message, /"fun"/);
  const unknownField = await submit({ target: 'api-1', fun: 'test.ping', shell: true });
  assert.equal(unknownField.status, 400);
  assert.match(errorOf(unknownField).message, /unknown field "shell"/);
  const notJson = await call(master, 'POST', '/api/v1/jobs', { token: OPERATE_TOKEN, raw: '{"target": ' });
  assert.equal(notJson.status, 400);
  const badQuery = await get(master, '/api/v1/minions?limit=lots');
  assert.equal(badQuery.status, 400);
  assert.match(errorOf(badQuery).message, /"limit"/);
  const unknownQuery = await get(master, '/api/v1/minions?sort=id');
  assert.equal(unknownQuery.status, 400);
  const badState = await get(master, '/api/v1/minions?lifecycle=exploded');
  assert.equal(badState.status, 400);
  const emptyReason = await call(master, 'POST', '/api/v1/minions/api-1/disable', {
    token: ADMIN_TOKEN,
    body: { reason: '' },
  });
  assert.equal(emptyReason.status, 400);

  const oversized = await submit({ target: 'api-1', fun: 'test.echo', args: ['x'.repeat(2 * 1024 * 1024)] });
  assert.equal(oversized.status, 413);
  assert.equal(errorOf(oversized).code, 'PHX_API_BODY_TOO_LARGE');

  const canary = join(dir(), 'injected');
  const before = ((await get(master, '/api/v1/jobs?limit=1000')).body as { jobs: unknown[] }).jobs.length;
  for (const [target, targetType] of [
    [`*; touch ${canary}`, 'glob'],
    [`$(touch ${canary})`, 'glob'],
    [`api-1\`touch ${canary}\``, 'glob'],
    [`G@id:api-1 or $(touch ${canary})`, 'compound'],
    [`id:$(touch ${canary})`, 'grain'],
    [`api-1,api-2;touch ${canary}`, 'list'],
  ] as const) {
    const answer = await submit({ target, targetType, fun: 'cmd.run', args: [`touch ${canary}`] });
    // Matched literally (no minion has such an id: 404) or refused as a malformed target (400).
    assert.ok([400, 404].includes(answer.status), `${target}: ${answer.status} ${answer.text}`);
  }
  const afterwards = ((await get(master, '/api/v1/jobs?limit=1000')).body as { jobs: unknown[] }).jobs.length;
  assert.equal(afterwards, before, 'no job was created');
  assert.equal(existsSync(canary), false, 'nothing ran');
});

test("a target is previewed by the master's own targeting, for every target type; a bad one is refused as a job would be", async () => {
  const preview = async (body: Record<string, unknown>, master = masters[2] as RunningMaster) => {
    const answer = await call(master, 'POST', '/api/v1/targets/preview', { token: READ_TOKEN, body });
    return { status: answer.status, body: answer.body as { count: number; minions: string[] }, answer };
  };
  const ids = async (body: Record<string, unknown>) => {
    const { status, body: answer } = await preview(body);
    assert.equal(status, 200);
    return [answer.count, answer.minions];
  };
  assert.deepEqual(await ids({ target: 'api-*' }), [4, MINION_IDS]);
  assert.deepEqual(await ids({ target: ['api-2', 'nobody'], targetType: 'list' }), [1, ['api-2']]);
  assert.deepEqual(await ids({ target: 'api-[12]$', targetType: 'pcre' }), [2, ['api-1', 'api-2']]);
  assert.deepEqual(await ids({ target: 'id:api-3', targetType: 'grain' }), [1, ['api-3']]);
  assert.deepEqual(await ids({ target: 'api-* and not ( L@api-4 or E@api-1 )', targetType: 'compound' }), [
    2,
    ['api-2', 'api-3'],
  ]);
  assert.deepEqual(await ids({ target: 'api-*', limit: 1 }), [4, ['api-1']], 'the count is whole, the list bounded');
  const bad = await preview({ target: 'api-* and', targetType: 'compound' });
  assert.equal(bad.status, 400);
  assert.equal(errorOf(bad.answer).code, 'PHX_TARGET_INVALID');
  const unsupported = await preview({ target: 'N@web', targetType: 'compound' });
  assert.equal(unsupported.status, 400, 'nodegroups are refused by the preview as by the job');
  assert.equal((await call(masters[0] as RunningMaster, 'POST', '/api/v1/targets/preview', { body: {} })).status, 401);
});

test('a minion answers with the masters it was on; a job row carries the summary its listing shows', async () => {
  const minion = (await get(masters[0] as RunningMaster, '/api/v1/minions/api-1')).body as {
    history: { lifecycle: unknown[]; masters: Array<{ masterId: string; event: string; at: number }> };
  };
  assert.deepEqual(
    minion.history.lifecycle.map((e) => (e as { event: string }).event),
    ['key-accepted'],
    'not launched by a group: only its key was accepted',
  );
  const connected = minion.history.masters.filter((e) => e.event === 'connected');
  assert.ok(connected.length >= 1, 'its connections are recorded');
  assert.ok(connected.every((e) => masters.some((m) => m.id === e.masterId) && e.at > 0));

  // Another master's event stream hears when the summary is on the row (the dashboard's job
  // history reloads on it: a reload on the last return alone could read the row before the write).
  const stream = openEvents(masters[2] as RunningMaster, '');
  const submitted = await call(masters[1] as RunningMaster, 'POST', '/api/v1/jobs', {
    token: OPERATE_TOKEN,
    body: { target: 'api-*', fun: 'test.ping' },
  });
  assert.equal(submitted.status, 201, submitted.text);
  const { jid } = submitted.body as { jid: string };
  const summarized = await waitFor(
    () => stream.events.find((e) => e.tag === 'job/summarized' && e.data.jid === jid && e.data.final === true),
    { what: 'job/summarized, final, relayed to another master', timeoutMs: 15_000 },
  );
  stream.close();
  await stream.done;
  assert.equal(summarized.masterId, (masters[1] as RunningMaster).id, 'said by the master the job was submitted on');
  const listedNow = (await get(masters[2] as RunningMaster, '/api/v1/jobs?limit=20')).body as {
    jobs: Array<{ jid: string; summary?: { final?: boolean; returned?: number } }>;
  };
  assert.deepEqual(
    listedNow.jobs.find((j) => j.jid === jid)?.summary?.returned,
    4,
    'the listing read after the event has the summary',
  );
  // Listed by another master: the summary is on the row, written by the master it was submitted on.
  const summary = await waitFor(
    async () => {
      const listed = (await get(masters[2] as RunningMaster, '/api/v1/jobs?limit=20')).body as {
        jobs: Array<{ jid: string; createdAt: number; summary?: { final?: boolean } }>;
      };
      const job = listed.jobs.find((j) => j.jid === jid);
      return job?.summary?.final === true ? { job, summary: job.summary } : undefined;
    },
    { what: "the job's final summary", timeoutMs: 15_000 },
  );
  assert.deepEqual({ ...summary.summary, lastReturnAt: 0 }, { returned: 4, failed: 0, lastReturnAt: 0, final: true });
  assert.ok((summary.summary as { lastReturnAt: number }).lastReturnAt >= summary.job.createdAt);
});

test('an admin disables and enables a minion; the listing shows who and why', async () => {
  const master = masters[2] as RunningMaster;
  const disabled = await call(master, 'POST', '/api/v1/minions/api-3/disable', {
    token: ADMIN_TOKEN,
    body: { reason: 'kernel upgrade' },
  });
  assert.equal(disabled.status, 200, disabled.text);
  const shown = await get(masters[0] as RunningMaster, '/api/v1/minions?disabled=true');
  const list = (shown.body as { minions: Array<{ minionId: string; disabled?: { by: string; reason: string } }> })
    .minions;
  assert.deepEqual(
    list.map((m) => [m.minionId, m.disabled?.by, m.disabled?.reason]),
    [['api-3', 'test-admin', 'kernel upgrade']],
  );
  // The minion's killswitch follows: once its grain reaches the masters, state runs skip it.
  const skipped = await waitFor(
    async () => {
      const job = await call(masters[0] as RunningMaster, 'POST', '/api/v1/jobs', {
        token: OPERATE_TOKEN,
        body: { target: 'api-3', fun: 'state.highstate' },
      });
      const answer = job.body as { minions: string[]; skipped?: Array<{ minionId: string; reason: string }> };
      return job.status === 201 && answer.skipped?.length === 1 ? answer.skipped[0] : undefined;
    },
    { what: 'a highstate to skip the disabled minion', timeoutMs: 15_000 },
  );
  assert.match(skipped?.reason ?? '', /disabled by test-admin .*kernel upgrade/);
  // The preview says what the job did: the same minion skipped, for the same reason. The reason's
  // time may differ by milliseconds: the API's record of the disable and the minion's own
  // killswitch grain (which arrives a moment later and is what the master goes by then) both say it.
  const previewed = await call(masters[0] as RunningMaster, 'POST', '/api/v1/targets/preview', {
    token: READ_TOKEN,
    body: { target: 'api-3', fun: 'state.highstate' },
  });
  assert.equal(previewed.status, 200, previewed.text);
  const preview = previewed.body as { skipped: Array<{ minionId: string; reason: string }> };
  assert.deepEqual(
    { ...preview, skipped: preview.skipped.map((s) => s.minionId) },
    { count: 0, minions: [], skipped: ['api-3'], skippedCount: 1, notConnected: [], notConnectedCount: 0 },
  );
  assert.match(preview.skipped[0]?.reason ?? '', /disabled by test-admin .*kernel upgrade/);
  const enabled = await call(master, 'POST', '/api/v1/minions/api-3/enable', { token: ADMIN_TOKEN });
  assert.equal(enabled.status, 200, enabled.text);
  await waitFor(
    async () =>
      ((await get(master, '/api/v1/minions/api-3')).body as { minion: { disabled?: unknown } }).minion.disabled ===
      undefined,
    { what: 'the minion to be enabled again everywhere', timeoutMs: 15_000 },
  );
  assert.match(processes.output(master.process), /"audit":"minion".*"action":"disable"/);
  const missing = await call(master, 'POST', '/api/v1/minions/nobody/disable', {
    token: ADMIN_TOKEN,
    body: { reason: 'x' },
  });
  assert.equal(missing.status, 404);
});

test('a minion whose grains change is announced once its row has them, on every master', async () => {
  const stream = openEvents(masters[0] as RunningMaster, '');
  const submitted = await call(masters[1] as RunningMaster, 'POST', '/api/v1/jobs', {
    token: ADMIN_TOKEN,
    body: { target: 'api-1', fun: 'grains.setval', args: ['rack', 'r42'] },
  });
  assert.equal(submitted.status, 201, submitted.text);
  await waitFor(() => stream.events.some((e) => e.tag === 'minion/grains' && e.data.minionId === 'api-1'), {
    what: 'minion/grains for api-1',
    timeoutMs: 15_000,
  });
  stream.close();
  await stream.done;
  const detail = await get(masters[0] as RunningMaster, '/api/v1/minions/api-1');
  assert.equal((detail.body as { grains: { rack?: string } }).grains.rack, 'r42', 'the row read after it has them');
});

test('a minion disabled through the API while it was away gets its killswitch when it comes back', async () => {
  const index = MINION_IDS.indexOf('api-4');
  await (minions[index] as Minion).stop();
  const master = masters[1] as RunningMaster;
  const disabled = await call(master, 'POST', '/api/v1/minions/api-4/disable', {
    token: ADMIN_TOKEN,
    body: { reason: 'disk replaced' },
  });
  assert.equal(disabled.status, 200, disabled.text);
  minions[index] = await startMinion(
    MinionConfigSchema.parse({
      id: 'api-4',
      masters: masters.map((m) => ({ id: m.id, host: '127.0.0.1', port: m.ports.minion, enrolPort: m.ports.enrol })),
      clusterPublicKey: devstack().clusterKeys.publicKey,
      pkiDir: join(dir(), 'api-4', 'pki'),
      cacheDir: join(dir(), 'api-4', 'cache'),
      imds: { enabled: false },
      enrolRetryMs: 300,
    }),
    { context, log: pino({ level: 'silent' }) },
  );
  const skipped = await waitFor(
    async () => {
      const job = await call(masters[2] as RunningMaster, 'POST', '/api/v1/jobs', {
        token: OPERATE_TOKEN,
        body: { target: 'api-4', fun: 'state.highstate' },
      });
      const answer = job.body as { skipped?: Array<{ reason: string }> };
      return job.status === 201 && answer.skipped?.length === 1 ? answer.skipped[0] : undefined;
    },
    { what: 'the returning minion to be skipped for state runs', timeoutMs: 20_000 },
  );
  assert.match(skipped?.reason ?? '', /disk replaced/);
  const enabled = await call(master, 'POST', '/api/v1/minions/api-4/enable', { token: ADMIN_TOKEN });
  assert.equal(enabled.status, 200, enabled.text);
});

test('/metrics is Prometheus text with the connection, job, event and latency series', async () => {
  const master = masters[0] as RunningMaster;
  const submitted = await call(master, 'POST', '/api/v1/jobs', {
    token: OPERATE_TOKEN,
    body: { target: 'api-*', fun: 'test.ping' },
  });
  assert.equal(submitted.status, 201, submitted.text);
  const { jid } = submitted.body as { jid: string };
  await waitFor(
    async () => ((await get(master, `/api/v1/jobs/${jid}`)).body as { missing: string[] }).missing.length === 0,
    { what: 'every minion to return', timeoutMs: 15_000 },
  );
  const text = await waitFor(
    async () => {
      const answer = await get(master, '/metrics');
      assert.equal(answer.status, 200);
      assert.match(String(answer.headers['content-type']), /^text\/plain/);
      return /phoenix_job_returns_total\{[^}]*success="true"[^}]*\} 4\b/.test(answer.text) ? answer.text : undefined;
    },
    { what: 'the four returns to be counted', timeoutMs: 10_000 },
  );
  const sample =
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?([0-9.e+-]+|NaN|\+Inf|-Inf)$/;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    assert.match(line, sample, `a Prometheus sample line: ${line}`);
  }
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(name) && (l[name.length] === ' ' || l[name.length] === '{'));
    assert.ok(line, `${name} is exported`);
    return Number(line.split(' ').pop());
  };
  assert.ok(value('phoenix_jobs_submitted_total') >= 1);
  assert.ok(value('phoenix_connected_minions') >= 0);
  assert.ok(value('phoenix_minion_connects_total') >= 0);
  assert.match(text, /phoenix_events_total\{[^}]*tag="key\/changed"/);
  assert.match(text, /phoenix_api_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/minions"/);
  assert.match(text, /phoenix_api_auth_failures_total/);
  // Connections add up across the cluster: each minion is connected to exactly one master.
  const connected = await Promise.all(
    masters.map(async (m) => {
      const body = (await get(m, '/metrics')).text;
      return Number(/^phoenix_connected_minions\{[^}]*\} (\d+)$/m.exec(body)?.[1]);
    }),
  );
  assert.equal(
    connected.reduce((a, b) => a + b, 0),
    MINION_IDS.length,
  );
});

test('openapi.json describes every route with its input and output schemas', async () => {
  const answer = await get(masters[1] as RunningMaster, '/api/v1/openapi.json');
  assert.equal(answer.status, 200);
  const doc = answer.body as {
    openapi: string;
    paths: Record<
      string,
      Record<string, { parameters: unknown[]; requestBody?: unknown; responses: Record<string, unknown> }>
    >;
  };
  assert.match(doc.openapi, /^3\./);
  const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
  );
  assert.deepEqual(
    routes.sort(),
    [
      'GET /api/v1/events',
      'GET /api/v1/jobs',
      'GET /api/v1/jobs/{jid}',
      'GET /api/v1/jobs/{jid}/stream',
      'GET /api/v1/keys',
      'GET /api/v1/masters',
      'GET /api/v1/minions',
      'GET /api/v1/minions/{id}',
      'GET /api/v1/openapi.json',
      'GET /api/v1/runs',
      'GET /api/v1/runs/{runId}',
      'GET /api/v1/whoami',
      'GET /healthz',
      'GET /metrics',
      'GET /readyz',
      'POST /api/v1/fileserver/update',
      'POST /api/v1/jobs',
      'POST /api/v1/keys/{action}',
      'POST /api/v1/minions/{id}/disable',
      'POST /api/v1/minions/{id}/enable',
      'POST /api/v1/orchestrations',
      'POST /api/v1/targets/preview',
      'GET /api/v1/tokens',
      'POST /api/v1/tokens',
      'POST /api/v1/tokens/{id}/revoke',
    ].sort(),
  );
  const submit = doc.paths['/api/v1/jobs']?.post;
  assert.ok(submit?.requestBody, 'POST /jobs has a request body schema');
  assert.ok(submit.responses['201'], 'and a response schema');
  const list = doc.paths['/api/v1/minions']?.get;
  assert.ok(
    list?.parameters.some((p) => (p as { name: string }).name === 'cursor'),
    'GET /minions documents its query',
  );
});

test('phoenix minions lists the fleet through the API', async () => {
  const env = { PHOENIX_API: (masters[2] as RunningMaster).api, PHOENIX_TOKEN: READ_TOKEN, PHOENIX_HOME: dir() };
  const listed = await phoenix(['minions', '--state', 'accepted', '--out', 'json'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    json<{ minions: Array<{ minionId: string }> }>(listed).minions.map((m) => m.minionId),
    MINION_IDS,
  );
  const none = await phoenix(['minions', '--state', 'pending', '--out', 'json'], env);
  assert.deepEqual(json<{ minions: unknown[] }>(none).minions, []);
  const text = await phoenix(['minions', 'api-1'], env);
  assert.match(text.stdout, /^api-1\s+accepted/);
  const wrong = await phoenix(['minions', '--state', 'sideways'], env);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /--state must be/);
});

test('no answer drifted from its schema', () => {
  for (const master of masters) {
    assert.doesNotMatch(processes.output(master.process), /response does not match its schema/);
  }
});
