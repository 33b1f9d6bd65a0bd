import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhoenixError } from '@phoenix/protocol';
import { DashboardErrors } from './errors.js';
import { STYLE_CSS } from './style.js';

export { DashboardErrors } from './errors.js';

/** One file of the dashboard, ready to send. */
export interface DashboardAsset {
  body: Buffer;
  contentType: string;
}

export interface Dashboard {
  /** Files by their path under the mount point (`index.html`, `app/main.js`, `vendor/preact.mjs`, …). */
  assets: ReadonlyMap<string, DashboardAsset>;
  /** The Content-Security-Policy every dashboard answer carries: no inline script but the import map. */
  contentSecurityPolicy: string;
}

const JS = 'text/javascript; charset=utf-8';

/**
 * The browser modules the compiled UI imports by bare name, and where they are served. They are the
 * npm package's own ES module files, so the page needs nothing from outside the master that serves it.
 */
const VENDOR: Record<string, { specifier: string; path: string; production?: boolean }> = {
  preact: { specifier: 'preact', path: 'vendor/preact.mjs' },
  'preact/hooks': { specifier: 'preact/hooks', path: 'vendor/preact-hooks.mjs' },
  'preact/jsx-runtime': { specifier: 'preact/jsx-runtime', path: 'vendor/preact-jsx-runtime.mjs' },
  // The API's typed client (and routes.js beside it, which it imports), with its SSE parser.
  '@phoenix/api/client': { specifier: '@phoenix/api/client', path: 'vendor/phoenix-api/client.js' },
  'eventsource-parser': { specifier: 'eventsource-parser', path: 'vendor/eventsource-parser.js' },
  // The instance table's windowing: only the rows in view are in the page, whatever the fleet's size.
  '@tanstack/virtual-core': {
    specifier: '@tanstack/virtual-core',
    path: 'vendor/virtual-core/index.js',
    production: true,
  },
  // The fleet overview's time chart (its ES module build; the package's main is CommonJS).
  uplot: { specifier: 'uplot/dist/uPlot.esm.js', path: 'vendor/uplot.js' },
  // `phoenix run`'s argument grammar, so the job runner parses a line exactly as the CLI does.
  '@phoenix/protocol/arguments': {
    specifier: '@phoenix/protocol/arguments',
    path: 'vendor/phoenix-protocol/arguments.js',
  },
};

/** A module's relative imports (`from './routes.js'`), served beside it. */
const RELATIVE_IMPORT = /\b(?:import|export)\b[^'"`;]*?\bfrom\s*["'](\.\/[^"']+)["']/g;

/**
 * A module's files as a bundler's production build would serve them: `process.env.NODE_ENV`, which
 * a browser has no `process` for, reads "production" (its development checks are left out).
 */
function production(body: Buffer): Buffer {
  return Buffer.from(body.toString('utf8').replaceAll('process.env.NODE_ENV', '"production"'));
}

function addModule(assets: Map<string, DashboardAsset>, file: string, path: string, asProduction = false): void {
  if (assets.has(path)) return;
  const body = asProduction ? production(readFileSync(file)) : readFileSync(file);
  assets.set(path, { body, contentType: JS });
  for (const match of body.toString('utf8').matchAll(RELATIVE_IMPORT)) {
    const name = (match[1] as string).slice(2);
    addModule(assets, join(dirname(file), name), `${path.slice(0, path.lastIndexOf('/') + 1)}${name}`, asProduction);
  }
}

/**
 * Reads the dashboard's files once: the compiled UI (`dist/src/ui`), the vendored modules, and the
 * page itself. Throws PHX_DASHBOARD_NOT_BUILT when the UI has not been compiled (run `npx tsc -b`).
 */
export function loadDashboard(mount = '/ui/'): Dashboard {
  const uiDir = fileURLToPath(new URL('./ui/', import.meta.url));
  if (!existsSync(join(uiDir, 'main.js'))) {
    throw new PhoenixError(
      DashboardErrors.PHX_DASHBOARD_NOT_BUILT,
      `the dashboard is not compiled (no ${join(uiDir, 'main.js')}): run npx tsc -b`,
    );
  }
  const assets = new Map<string, DashboardAsset>();
  for (const file of readdirSync(uiDir)) {
    if (file.endsWith('.js')) assets.set(`app/${file}`, { body: readFileSync(join(uiDir, file)), contentType: JS });
  }
  const imports: Record<string, string> = {};
  for (const [name, { specifier, path, production: asProduction = false }] of Object.entries(VENDOR)) {
    addModule(assets, fileURLToPath(import.meta.resolve(specifier)), path, asProduction);
    imports[name] = `${mount}${path}`;
  }
  assets.set('vendor/uplot.css', {
    body: readFileSync(fileURLToPath(import.meta.resolve('uplot/dist/uPlot.min.css'))),
    contentType: 'text/css; charset=utf-8',
  });
  assets.set('style.css', { body: Buffer.from(STYLE_CSS), contentType: 'text/css; charset=utf-8' });
  const importMap = JSON.stringify({ imports });
  assets.set('index.html', { body: Buffer.from(page(mount, importMap)), contentType: 'text/html; charset=utf-8' });
  // The import map is the one inline script; its hash is all the policy allows inline.
  const mapHash = createHash('sha256').update(importMap).digest('base64');
  const contentSecurityPolicy = [
    "default-src 'none'",
    `script-src 'self' 'sha256-${mapHash}'`,
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  return { assets, contentSecurityPolicy };
}

function page(mount: string, importMap: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Phoenix</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${mount}vendor/uplot.css" />
    <link rel="stylesheet" href="${mount}style.css" />
    <script type="importmap">${importMap}</script>
    <script type="module" src="${mount}app/main.js"></script>
  </head>
  <body>
    <div id="root"><p class="loading">Loading the Phoenix dashboard…</p></div>
    <noscript>The Phoenix dashboard needs JavaScript.</noscript>
  </body>
</html>
`;
}
