import { createHash } from 'node:crypto';
import { LocalRoots, type RootsConfig, type StateFile } from '@phoenix/state';

/** A file as the master last read it: kept while its bytes are served in chunks. */
interface Held {
  readonly file: StateFile;
  readonly at: number;
}

/** Files held for chunked reads; a state tree's files are small, a large artifact is rare. */
const HELD_FILES = 32;
const HELD_FOR_MS = 60_000;

/**
 * The master's state tree: `file_roots` served to minions (`salt://`), `pillar_roots` read only
 * here (they are rendered per minion, never served). Reading is `LocalRoots`, which refuses any path
 * leaving its root. `hash()` digests both trees so operators can see which masters differ.
 */
export class StateTree {
  readonly files: LocalRoots;
  readonly pillar: LocalRoots;
  readonly #fileRoots: RootsConfig;
  readonly #pillarRoots: RootsConfig;
  readonly #held = new Map<string, Held>();

  constructor(fileRoots: RootsConfig, pillarRoots: RootsConfig) {
    this.#fileRoots = fileRoots;
    this.#pillarRoots = pillarRoots;
    this.files = new LocalRoots(fileRoots);
    this.pillar = new LocalRoots(pillarRoots);
  }

  /**
   * One chunk of a file: the whole file's hash and size, and `limit` bytes from `offset`. The first
   * chunk (offset 0) reads the file afresh; later chunks come from the copy it read, so a file being
   * rewritten mid-transfer still arrives whole and matching its hash.
   */
  async read(
    path: string,
    env: string,
    offset: number,
    limit: number,
  ): Promise<{ hash: string; size: number; content: Uint8Array } | undefined> {
    const key = `${env}\0${path}`;
    let held = offset === 0 ? undefined : this.#held.get(key);
    if (held === undefined) {
      const file = await this.files.read(path, env);
      if (file === undefined) return undefined;
      held = { file, at: Date.now() };
      this.#hold(key, held);
    }
    const { content, hash } = held.file;
    return { hash, size: content.byteLength, content: content.subarray(offset, offset + limit) };
  }

  async hashOf(path: string, env: string): Promise<string | undefined> {
    return (await this.files.read(path, env))?.hash;
  }

  list(prefix: string, env: string): Promise<string[]> {
    return this.files.list(prefix, env);
  }

  /**
   * sha256 over every file of both trees (kind, environment, path and content hash, sorted): equal
   * on two masters exactly when they would serve the same states and render the same pillar.
   */
  async hash(): Promise<string> {
    const digest = createHash('sha256');
    for (const [kind, roots, config] of [
      ['file_roots', this.files, this.#fileRoots],
      ['pillar_roots', this.pillar, this.#pillarRoots],
    ] as const) {
      for (const env of Object.keys(config).sort()) {
        for (const path of await roots.list('', env)) {
          const file = await roots.read(path, env).catch(() => undefined);
          digest.update(`${kind}\0${env}\0${path}\0${file?.hash ?? 'unreadable'}\n`);
        }
      }
    }
    return digest.digest('hex');
  }

  #hold(key: string, held: Held): void {
    const now = Date.now();
    for (const [other, entry] of this.#held) {
      if (now - entry.at > HELD_FOR_MS || this.#held.size >= HELD_FILES) this.#held.delete(other);
    }
    this.#held.set(key, held);
  }
}
