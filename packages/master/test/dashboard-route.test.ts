import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import pino from 'pino';
import { DashboardErrors } from '@phoenix/dashboard';
import { PhoenixError } from '@phoenix/protocol';
import { mountDashboard } from '../src/api/dashboard.js';

const quiet = pino({ level: 'silent' });

test('the dashboard is served from memory at /ui/ with its policy, and / leads there', async () => {
  const app = Fastify();
  mountDashboard(app, quiet);
  try {
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 302);
    assert.equal(root.headers.location, '/ui/');
    const page = await app.inject({ method: 'GET', url: '/ui/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self' 'sha256-/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const script = await app.inject({ method: 'GET', url: '/ui/app/main.js' });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    const vendor = await app.inject({ method: 'GET', url: '/ui/vendor/preact.mjs' });
    assert.equal(vendor.statusCode, 200);
  } finally {
    await app.close();
  }
});

test('a path that is not a dashboard file is a 404, however it is spelled', async () => {
  const app = Fastify();
  mountDashboard(app, quiet);
  try {
    for (const url of ['/ui/../package.json', '/ui/..%2f..%2fpackage.json', '/ui/app/../../index.js', '/ui/x.js']) {
      const answer = await app.inject({ method: 'GET', url });
      assert.equal(answer.statusCode, 404, url);
      assert.doesNotMatch(answer.body, /"name":\s*"@phoenix/, `${url} leaks no file`);
    }
  } finally {
    await app.close();
  }
});

test('a master whose dashboard is not compiled serves no /ui/ and starts all the same', async () => {
  const app = Fastify();
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  mountDashboard(app, log, () => {
    throw new PhoenixError(DashboardErrors.PHX_DASHBOARD_NOT_BUILT, 'the dashboard is not compiled');
  });
  try {
    assert.equal((await app.inject({ method: 'GET', url: '/ui/' })).statusCode, 404);
    assert.ok(warnings.some((line) => line.includes('the dashboard is not served')));
  } finally {
    await app.close();
  }
});
