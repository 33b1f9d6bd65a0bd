import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from '../errors.js';

/** The programs the local cluster runs as its instances. */
export interface PhoenixBinaries {
  readonly master: string;
  readonly minion: string;
}

/**
 * Finds phoenix-master and phoenix-minion without loading any of their code (the CLI must never
 * import them): first through Node's own resolution of the package (`import.meta.resolve` only
 * computes a path), then as the CLI's sibling package, which is where both the monorepo
 * (`packages/cli` next to `packages/master`) and an npm install (`node_modules/@phoenix/cli` next
 * to `node_modules/@phoenix/master`) put it. The path comes from the package's own `bin` field, so
 * a change of its build layout needs no change here.
 */
export function locatePhoenixBinaries(): PhoenixBinaries {
  return {
    master: locateBin('@phoenix/master', 'phoenix-master'),
    minion: locateBin('@phoenix/minion', 'phoenix-minion'),
  };
}

function locateBin(pkg: string, name: string): string {
  const tried: string[] = [];
  for (const root of packageRoots(pkg)) {
    const manifest = readManifest(join(root, 'package.json'));
    if (manifest?.name !== pkg) continue;
    const relative = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[name];
    if (relative === undefined) continue;
    const path = resolve(root, relative);
    if (existsSync(path)) return path;
    tried.push(path);
  }
  throw new PhoenixError(
    CliErrors.PHX_CLI_LOCAL_CLUSTER_FAILED,
    `cannot find ${name}${tried.length > 0 ? ` (looked for ${tried.join(', ')})` : ''}: build it with npm run build, or install ${pkg} next to @phoenix/cli`,
  );
}

/** Candidate package directories, most authoritative first. */
function packageRoots(pkg: string): string[] {
  const roots: string[] = [];
  try {
    // The package's entry point lies somewhere below its root: walk up to its own package.json.
    let dir = dirname(fileURLToPath(import.meta.resolve(pkg)));
    while (readManifest(join(dir, 'package.json'))?.name !== pkg && dirname(dir) !== dir) dir = dirname(dir);
    roots.push(dir);
  } catch {
    // Not resolvable from here: try the sibling directory.
  }
  // This file is <cli root>/dist/src/local/binaries.js.
  const cliRoot = fileURLToPath(new URL('../../../', import.meta.url));
  roots.push(join(dirname(cliRoot), pkg.slice(pkg.indexOf('/') + 1)));
  return roots;
}

interface Manifest {
  name?: string;
  bin?: string | Record<string, string>;
}

function readManifest(path: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}
