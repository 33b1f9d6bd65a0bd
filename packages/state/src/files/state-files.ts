import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { PhoenixError } from '@phoenix/protocol';
import { StateErrors } from '../errors.js';

/** One file from the file server: its bytes and their sha256 (hex), the key of every cache. */
export interface StateFile {
  readonly content: Buffer;
  readonly hash: string;
}

/**
 * The file server as states and pillar see it: `file_roots` for states, `pillar_roots` for pillar.
 * Masterless it is `LocalRoots` (directories on disk); later the master serves the same interface
 * over the wire, wrapped in `CachedFiles`. Paths are `salt://web/nginx.conf` or `web/nginx.conf`,
 * always relative to the roots of one environment (`base` unless told).
 */
export interface StateFiles {
  /** undefined when no root of `env` has the file. */
  read(url: string, env?: string): Promise<StateFile | undefined>;
  /** Every file (relative path, sorted) whose path starts with `prefix` ('' for all). */
  list(prefix: string, env?: string): Promise<string[]>;
  /**
   * The hash alone, when the server can answer it without sending the file: lets `CachedFiles`
   * skip the transfer of a file it already holds. Optional; local roots simply read.
   */
  hash?(url: string, env?: string): Promise<string | undefined>;
  /**
   * A view for one state run, when the server serves revisions (a master serving git roots): every
   * answer of the view comes from the revision its first answer came from. Optional.
   */
  forRun?(): StateFiles;
  /** The revision a run view is pinned to (asking the server for one if nothing was asked yet). */
  revision?(): Promise<string | undefined>;
}

export const DEFAULT_ENV = 'base';

/** `salt://path?saltenv=dev` or a relative path, as the file server understands it. */
export interface FileLocation {
  /** Normalized, relative, posix: never absolute, never through `..`. */
  readonly path: string;
  readonly env: string;
}

const ENV_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Parses and normalizes a file-server path. Anything that could reach outside the roots (absolute
 * paths, `..` above the root, NUL) is refused here, before any root is touched.
 */
export function parseFileUrl(url: string, env: string = DEFAULT_ENV): FileLocation {
  let path = url;
  let saltenv = env;
  if (path.startsWith('salt://')) {
    path = path.slice('salt://'.length);
    const query = path.indexOf('?');
    if (query !== -1) {
      const params = new URLSearchParams(path.slice(query + 1));
      path = path.slice(0, query);
      saltenv = params.get('saltenv') ?? params.get('env') ?? saltenv;
    }
  }
  if (!ENV_NAME.test(saltenv)) throw refused(url, `'${saltenv}' is not an environment name`);
  if (path.includes('\0')) throw refused(url, 'it contains a NUL byte');
  if (path === '' || path.startsWith('/')) throw refused(url, 'a file-server path is relative to the roots');
  const normalized = posix.normalize(path);
  if (normalized === '..' || normalized.startsWith('../') || normalized === '.') {
    throw refused(url, 'it leads outside the file roots');
  }
  return { path: normalized.replace(/^\.\//, '').replace(/\/$/, ''), env: saltenv };
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function refused(url: string, why: string): PhoenixError {
  return new PhoenixError(StateErrors.PHX_STATE_FILE_REFUSED, `refused to serve '${url}': ${why}`, {
    details: { url },
  });
}

/**
 * Remembers every answer for the life of one state run: a file included by ten SLS files is read
 * once, and the run sees one consistent version of it.
 */
export class RunFiles implements StateFiles {
  readonly #inner: StateFiles;
  readonly #reads = new Map<string, Promise<StateFile | undefined>>();
  readonly #lists = new Map<string, Promise<string[]>>();

  constructor(inner: StateFiles) {
    this.#inner = inner;
  }

  revision(): Promise<string | undefined> {
    return this.#inner.revision?.() ?? Promise.resolve(undefined);
  }

  read(url: string, env: string = DEFAULT_ENV): Promise<StateFile | undefined> {
    const { path, env: saltenv } = parseFileUrl(url, env);
    const key = `${saltenv}\0${path}`;
    let found = this.#reads.get(key);
    if (!found) {
      found = this.#inner.read(path, saltenv);
      this.#reads.set(key, found);
    }
    return found;
  }

  list(prefix: string, env: string = DEFAULT_ENV): Promise<string[]> {
    const key = `${env}\0${prefix}`;
    let found = this.#lists.get(key);
    if (!found) {
      found = this.#inner.list(prefix, env);
      this.#lists.set(key, found);
    }
    return found;
  }
}
