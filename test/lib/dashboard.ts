import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_TOKEN } from './cluster.js';

// The dashboard in Debian's Chromium, driven by playwright-core, shared by the dashboard test files.

export const CHROMIUM = process.env.PHOENIX_CHROMIUM ?? '/usr/bin/chromium';
export const skipWithoutChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM} (.ci/run installs Debian's chromium package)`;
export const ARTIFACTS = resolve(
  process.env.PHOENIX_ARTIFACTS ?? join(fileURLToPath(new URL('../../../', import.meta.url)), 'test-artifacts'),
  'dashboard',
);
/** Where the README's pictures live: written when PHOENIX_DOCS_SCREENSHOTS=1. */
export const DOCS = fileURLToPath(new URL('../../../docs/dashboard/', import.meta.url));
/** The screenshots the README shows (the others stay in the test artifacts). */
const DOCS_SHOTS = new Set([
  'fleet',
  'instances-10000',
  'instances-800px',
  'results-highstate',
  'jobs-skipped',
  'job-page',
  'keys-confirm',
  'minion-page',
  'minion-histories',
  'instances-terminated',
  'a11y-dark-1400',
  'a11y-light-390',
  'events-lost',
  'token-revoked',
]);

/** Debian's Chromium, headless, with the flags every browser test needs and any of its own. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      ...extraArgs,
    ],
  });
}

export interface DashboardPage {
  page: Page;
  /** Script errors, console errors and requests outside the master, as they happened. */
  problems: string[];
}

/** A new tab on the master's dashboard, signed in with `token` (the admin's by default). */
export async function openDashboard(
  browser: Browser,
  api: string,
  options: {
    token?: string;
    viewport?: { width: number; height: number };
    colorScheme?: 'light' | 'dark';
    path?: string;
  } = {},
): Promise<DashboardPage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1400, height: 1000 },
    colorScheme: options.colorScheme ?? 'light',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    // The location names the resource of a "Failed to load resource" line, which its text does not.
    if (message.type() === 'error') problems.push(`console: ${message.text()} (${message.location().url})`);
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(api)) problems.push(`request outside the master: ${request.url()}`);
  });
  page.on('dialog', (dialog) => {
    problems.push(`unexpected browser dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(`${api}${options.path ?? '/ui/'}`);
  await page.locator('#login input[name="token"]').fill(options.token ?? ADMIN_TOKEN);
  await page.locator('#login button[type="submit"]').click();
  await page.locator('#link-state', { hasText: 'events: live' }).waitFor();
  return { page, problems };
}

/** A full-page screenshot in the test artifacts, and in docs/ when PHOENIX_DOCS_SCREENSHOTS=1. */
export async function screenshot(t: TestContext, page: Page, name: string): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  // A loaded machine can take a while to paint a long page.
  await page.screenshot({ path, fullPage: true, timeout: 60_000 });
  t.diagnostic(`screenshot: ${path}`);
  if (process.env.PHOENIX_DOCS_SCREENSHOTS === '1' && DOCS_SHOTS.has(name)) {
    await mkdir(DOCS, { recursive: true });
    await copyFile(path, join(DOCS, `${name}.png`));
  }
}

/** An admin call to the API, as the CLI would make it. */
export async function api<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as T };
}
