import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@phoenix/protocol';
import { DEFAULT_ENV, parseFileUrl, sha256 } from './state-files.js';
import type { StateFile, StateFiles } from './state-files.js';

/** Under the minion's cache directory. */
export const FILE_CACHE_DIR = 'files';

type Index = Record<string, Record<string, string>>;

/**
 * Keeps every file the inner server sent in the minion's cache directory, named by its sha256:
 * - a server that can tell a file's hash alone (`hash`) does not send a file the cache already holds;
 * - when the server cannot be reached (it throws), the last version seen of each path is served, so a
 *   minion cut off from its masters can still apply the states it last had.
 * A cached file whose bytes no longer match its name is ignored and fetched again.
 */
export class CachedFiles implements StateFiles {
  readonly #inner: StateFiles;
  readonly #dir: string;
  #index: Promise<Index> | undefined;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(inner: StateFiles, cacheDir: string) {
    this.#inner = inner;
    this.#dir = join(cacheDir, FILE_CACHE_DIR);
  }

  read(url: string, env: string = DEFAULT_ENV): Promise<StateFile | undefined> {
    return this.#read(this.#inner, url, env);
  }

  list(prefix: string, env: string = DEFAULT_ENV): Promise<string[]> {
    return this.#list(this.#inner, prefix, env);
  }

  /** A view for one state run over the inner server's (same cache, same index). */
  forRun(): StateFiles {
    const inner = this.#inner.forRun?.() ?? this.#inner;
    return {
      read: (url, env = DEFAULT_ENV) => this.#read(inner, url, env),
      list: (prefix, env = DEFAULT_ENV) => this.#list(inner, prefix, env),
      revision: () => inner.revision?.() ?? Promise.resolve(undefined),
    };
  }

  async #read(server: StateFiles, url: string, env: string): Promise<StateFile | undefined> {
    const location = parseFileUrl(url, env);
    try {
      if (server.hash) {
        const hash = await server.hash(location.path, location.env);
        if (hash === undefined) return undefined;
        const cached = await this.#cached(hash);
        if (cached) {
          await this.#remember(location.env, location.path, hash);
          return cached;
        }
      }
      const file = await server.read(location.path, location.env);
      if (file === undefined) return undefined;
      await this.#store(file);
      await this.#remember(location.env, location.path, file.hash);
      return file;
    } catch (err) {
      const hash = (await this.#loadIndex())[location.env]?.[location.path];
      const cached = hash === undefined ? undefined : await this.#cached(hash);
      if (cached) return cached;
      throw err;
    }
  }

  async #list(server: StateFiles, prefix: string, env: string): Promise<string[]> {
    try {
      return await server.list(prefix, env);
    } catch (err) {
      const known = Object.keys((await this.#loadIndex())[env] ?? {});
      if (known.length === 0) throw err;
      return known.filter((path) => path.startsWith(prefix)).sort();
    }
  }

  async #cached(hash: string): Promise<StateFile | undefined> {
    if (!/^[0-9a-f]{64}$/.test(hash)) return undefined;
    const content = await readFile(join(this.#dir, 'sha256', hash)).catch(() => undefined);
    if (content === undefined || sha256(content) !== hash) return undefined;
    return { content, hash };
  }

  async #store(file: StateFile): Promise<void> {
    if (sha256(file.content) !== file.hash) return; // the server lied or the transfer broke: do not cache
    await writeAtomic(join(this.#dir, 'sha256'), file.hash, file.content);
  }

  #loadIndex(): Promise<Index> {
    this.#index ??= readFile(join(this.#dir, 'index.json'), 'utf8').then(
      (text) => {
        const parsed: unknown = JSON.parse(text);
        return parsed !== null && typeof parsed === 'object' ? (parsed as Index) : {};
      },
      () => ({}),
    );
    return this.#index;
  }

  /** The index (env → path → hash) is what the offline fallback reads; writes are serialized. */
  #remember(env: string, path: string, hash: string): Promise<void> {
    const write = this.#writes.then(async () => {
      const index = await this.#loadIndex();
      if (index[env]?.[path] === hash) return;
      (index[env] ??= {})[path] = hash;
      await writeAtomic(this.#dir, 'index.json', Buffer.from(JSON.stringify(index)));
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }
}

/** A cache entry: a torn file is never seen, and one lost to a power cut is only fetched again. */
async function writeAtomic(dir: string, name: string, content: Buffer): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, name), content, { mode: 0o600, durable: false });
}
