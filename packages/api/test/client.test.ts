import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, fetchTransport, type ErrorAnswer } from '../src/client.js';

/** A refused call as the test's programs would see it. */
class Refused extends Error {
  constructor(readonly answer: ErrorAnswer) {
    super(answer.message ?? `HTTP ${answer.status}`);
  }
}

/** A loopback HTTP server answering with `handle`; the requests it saw are kept. */
async function serve(handle: (request: IncomingMessage, response: ServerResponse, index: number) => void) {
  const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      handle(request, response, seen.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new ApiClient({
    transport: fetchTransport(`http://127.0.0.1:${port}`),
    token: 'a-token',
    failure: (answer) => new Refused(answer),
    maxEventChars: 4096,
  });
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { client, seen, close };
}

const json = (response: ServerResponse, status: number, body: unknown): void => {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};
const sse = (response: ServerResponse): ServerResponse =>
  response.writeHead(200, { 'content-type': 'text/event-stream' });

test('a call sends the route with its path, query and body, and reads the typed answer', async () => {
  const { client, seen, close } = await serve((_request, response) =>
    json(response, 201, { jid: '1', minions: ['a'], skipped: [], notConnected: [], job: {} }),
  );
  try {
    const answer = await client.call('submitJob', {
      body: { target: ['a', 'b'], targetType: 'list', fun: 'test.ping' },
    });
    assert.deepEqual(answer.minions, ['a']);
    await client.call('listMinions', { query: { match: 'web-*', limit: 5, keyState: 'accepted' } });
    await client.call('changeKeys', { params: { action: 'accept' }, body: { match: 'a/b' } });
    await client.call('getJob', { params: { jid: '20260101/../x' } });
    await client.call('metrics');
  } finally {
    await close();
  }
  assert.deepEqual(
    seen.map((r) => `${r.method} ${r.url}`),
    [
      'POST /api/v1/jobs',
      'GET /api/v1/minions?match=web-*&limit=5&keyState=accepted',
      'POST /api/v1/keys/accept',
      'GET /api/v1/jobs/20260101%2F..%2Fx',
      'GET /metrics',
    ],
  );
  assert.equal(seen[0]?.headers.authorization, 'Bearer a-token');
  assert.equal(seen[0]?.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(seen[0]?.body ?? ''), { target: ['a', 'b'], targetType: 'list', fun: 'test.ping' });
  assert.equal(seen[1]?.body, '', 'a GET sends no body');
});

test("a refused call throws the caller's failure with the API's code, status and message", async () => {
  const { client, close } = await serve((request, response) =>
    request.url === '/api/v1/masters'
      ? json(response, 429, {
          error: { code: 'PHX_API_RATE_LIMITED', message: 'slow down', details: { retryAfterSeconds: 5 } },
        })
      : response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>bad gateway</h1>'),
  );
  try {
    await assert.rejects(client.call('masters'), (err: unknown) => {
      assert.ok(err instanceof Refused);
      assert.deepEqual(err.answer, {
        status: 429,
        code: 'PHX_API_RATE_LIMITED',
        message: 'slow down',
        details: { retryAfterSeconds: 5 },
      });
      return true;
    });
    // A proxy's page, not the API's JSON: the status is all there is.
    await assert.rejects(
      client.call('whoami'),
      (err: unknown) => err instanceof Refused && err.answer.status === 502 && err.answer.code === undefined,
    );
  } finally {
    await close();
  }
});

test('a stream delivers named and unnamed events split anywhere, skipping comments and non-JSON data', async () => {
  const { client, close } = await serve((_request, response) => {
    const raw = sse(response);
    // One event split across writes, a comment, an event whose data is not JSON, CRLF line ends.
    const text =
      ': connected\n\nevent: job\ndata: {"jid":"1","minions":["a"]}\n\nevent: return\r\ndata: {"jid":"1",\r\n' +
      'data: "minionId":"a"}\r\n\r\ndata: not json\n\nevent: done\ndata: {"jid":"1","missing":[],"notConnected":[]}\n\n';
    let at = 0;
    const step = (): void => {
      if (at >= text.length) return void raw.end();
      raw.write(text.slice(at, at + 7));
      at += 7;
      setImmediate(step);
    };
    step();
  });
  const got: Array<{ event: string; data: unknown }> = [];
  let opened = 0;
  try {
    await client.stream('jobStream', { params: { jid: '1' } }, (message) => got.push(message), {
      onOpen: () => opened++,
    });
  } finally {
    await close();
  }
  assert.equal(opened, 1);
  assert.deepEqual(got, [
    { event: 'job', data: { jid: '1', minions: ['a'] } },
    { event: 'return', data: { jid: '1', minionId: 'a' } },
    { event: 'done', data: { jid: '1', missing: [], notConnected: [] } },
  ]);
});

test('an event longer than the bound ends the stream with a failure instead of growing without end', async () => {
  const { client, close } = await serve((_request, response) => {
    sse(response).write(`data: "${'x'.repeat(10_000)}`);
  });
  try {
    await assert.rejects(
      client.stream('events', {}, () => assert.fail('no event')),
      (err: unknown) => err instanceof Refused && /over 4096 characters/.test(err.message),
    );
  } finally {
    await close();
  }
});

test('follow reopens a dropped stream, says it reconnected, and ends with the message that completes it', async () => {
  const { client, seen, close } = await serve((_request, response, index) => {
    const raw = sse(response);
    if (index === 0) {
      // The first master goes away mid-stream: the connection is cut, no `done`.
      raw.write('event: return\ndata: {"minionId":"a"}\n\n');
      setTimeout(() => raw.destroy(), 20);
    } else if (index === 1) {
      raw.end(); // ends at once, nothing sent
    } else {
      raw.write('event: return\ndata: {"minionId":"a"}\n\nevent: return\ndata: {"minionId":"b"}\n\n');
      raw.write('event: done\ndata: {"missing":[]}\n\n');
      // The server would end it; the client stops at `done` either way.
    }
  });
  const events: string[] = [];
  let reconnects = 0;
  let drops = 0;
  try {
    await client.follow(
      'jobStream',
      { params: { jid: '1' }, query: { timeoutMs: 1000 } },
      (message) => events.push(message.event === 'return' ? `return ${message.data.minionId}` : message.event),
      {
        signal: AbortSignal.timeout(30_000),
        pauseMs: 5,
        until: (message) => message.event === 'done',
        onReconnect: () => reconnects++,
        onDrop: () => drops++,
      },
    );
  } finally {
    await close();
  }
  assert.deepEqual(events, ['return a', 'return a', 'return b', 'done']);
  assert.equal(seen.length, 3);
  assert.equal(seen[2]?.url, '/api/v1/jobs/1/stream?timeoutMs=1000');
  assert.equal(reconnects, 2);
  assert.equal(drops, 2);
});

test('follow gives up on a failure it is told not to retry, and after maxFailures in a row', async () => {
  const { client, seen, close } = await serve((request, response) =>
    request.url?.startsWith('/api/v1/jobs/')
      ? json(response, 404, { error: { code: 'PHX_API_NOT_FOUND', message: 'no job 1' } })
      : json(response, 503, { error: { code: 'PHX_API_NOT_READY', message: 'not yet' } }),
  );
  try {
    await assert.rejects(
      client.follow('jobStream', { params: { jid: '1' } }, () => undefined, {
        signal: AbortSignal.timeout(30_000),
        retryable: (err) => !(err instanceof Refused && err.answer.status === 404),
      }),
      (err: unknown) => err instanceof Refused && err.answer.code === 'PHX_API_NOT_FOUND',
    );
    assert.equal(seen.length, 1, 'a refusal that will not change is not asked again');
    await assert.rejects(
      client.follow('events', {}, () => undefined, { signal: AbortSignal.timeout(30_000), pauseMs: 1, maxFailures: 3 }),
      (err: unknown) => err instanceof Refused && err.answer.status === 503,
    );
    assert.equal(seen.length, 4, 'three tries, then the last failure');
  } finally {
    await close();
  }
});

test('follow ends when its signal aborts, even during the pause between tries', async () => {
  const { client, close } = await serve((_request, response) => json(response, 503, {}));
  const controller = new AbortController();
  try {
    const following = client.follow('events', {}, () => undefined, {
      signal: controller.signal,
      pauseMs: 60_000,
      onDrop: () => controller.abort(),
    });
    await following; // resolves at the abort, not a minute later
  } finally {
    await close();
  }
  assert.equal(controller.signal.aborted, true);
});
