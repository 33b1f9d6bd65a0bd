import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { DEFAULT_ENV, parseFileUrl, sha256 } from './state-files.js';
import type { StateFile, StateFiles } from './state-files.js';
import { PhoenixError } from '@phoenix/protocol';
import { StateErrors } from '../errors.js';

/** Salt's `file_roots` / `pillar_roots`: environment name → directories, searched in order. */
export type RootsConfig = Readonly<Record<string, readonly string[]>>;

/** A listing stops here: a root is a tree of SLS files, not a disk to index. */
const MAX_LISTED_FILES = 50_000;

/**
 * Directories on disk as a file server, like `salt-call --local` with `file_roots`. The first root
 * of an environment that has a file wins. A path that leaves its root — through `..` or through a
 * symbolic link that points outside — is refused, never served.
 */
export class LocalRoots implements StateFiles {
  readonly #roots: RootsConfig;

  constructor(roots: RootsConfig) {
    this.#roots = Object.freeze(Object.fromEntries(Object.entries(roots).map(([env, dirs]) => [env, [...dirs]])));
  }

  /** The environments configured, for the top file and error messages. */
  envs(): string[] {
    return Object.keys(this.#roots);
  }

  async read(url: string, env: string = DEFAULT_ENV): Promise<StateFile | undefined> {
    const file = await this.locate(url, env);
    if (file === undefined) return undefined;
    const content = await readFile(file).catch((err: unknown) => {
      throw unreadable(url, err);
    });
    return { content, hash: sha256(content) };
  }

  /**
   * Where `url` is on disk: the real path of the first root's regular file, with the same refusals
   * as `read` (a file server streams it from there instead of loading it whole).
   */
  async locate(url: string, env: string = DEFAULT_ENV): Promise<string | undefined> {
    const location = parseFileUrl(url, env);
    for (const root of this.#roots[location.env] ?? []) {
      const file = await this.#resolve(root, location.path, url);
      if (file !== undefined) return file;
    }
    return undefined;
  }

  async list(prefix: string, env: string = DEFAULT_ENV): Promise<string[]> {
    const found = new Set<string>();
    const normalized = prefix === '' ? '' : parseFileUrl(prefix, env).path;
    for (const root of this.#roots[env] ?? []) {
      const realRoot = await realpath(root).catch(() => undefined);
      if (realRoot === undefined) continue;
      await this.#walk(realRoot, realRoot, found);
    }
    return [...found].filter((path) => path.startsWith(normalized)).sort();
  }

  /**
   * An absolute path of this host, if it is a file (or directory) inside one of the roots, of any
   * environment: its real path, never one a link leads to outside the root. What a template on a
   * master may learn of the master's files (Salt's `file.file_exists(opts['pillar_roots'][...])`).
   */
  async hostPath(path: string, kind: 'file' | 'directory'): Promise<string | undefined> {
    if (!path.startsWith('/')) return undefined;
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined) return undefined;
    for (const root of new Set(Object.values(this.#roots).flat())) {
      const realRoot = await realpath(root).catch(() => undefined);
      if (realRoot === undefined || !inside(realRoot, real)) continue;
      const info = await stat(real).catch(() => undefined);
      if (kind === 'file' ? info?.isFile() : info?.isDirectory()) return real;
    }
    return undefined;
  }

  /** The real path of `path` under `root` if it is a regular file inside the root; else undefined. */
  async #resolve(root: string, path: string, url: string): Promise<string | undefined> {
    const realRoot = await realpath(root).catch(() => undefined);
    if (realRoot === undefined) return undefined;
    let real: string;
    try {
      real = await realpath(join(realRoot, path));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw unreadable(url, err);
    }
    if (!inside(realRoot, real)) {
      throw new PhoenixError(
        StateErrors.PHX_STATE_FILE_REFUSED,
        `refused to serve '${url}': it leads outside the file roots`,
        {
          details: { url },
        },
      );
    }
    const info = await stat(real);
    return info.isFile() ? real : undefined;
  }

  async #walk(realRoot: string, dir: string, found: Set<string>): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (found.size >= MAX_LISTED_FILES) return;
      const full = join(dir, entry.name);
      let target = full;
      if (entry.isSymbolicLink()) {
        // A link is listed only if it stays inside the root, exactly as read() would serve it.
        const real = await realpath(full).catch(() => undefined);
        if (real === undefined || !inside(realRoot, real)) continue;
        target = real;
      }
      const info = entry.isSymbolicLink() ? await stat(target).catch(() => undefined) : entry;
      if (info?.isDirectory()) {
        if (!entry.isSymbolicLink()) await this.#walk(realRoot, full, found);
      } else if (info?.isFile()) {
        found.add(relative(realRoot, full).split(sep).join('/'));
      }
    }
  }
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function unreadable(url: string, err: unknown): PhoenixError {
  return new PhoenixError(
    StateErrors.PHX_STATE_FILE_UNREADABLE,
    `cannot read '${url}' from the file roots: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err, details: { url } },
  );
}
