import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { LocalRoots, type RootsConfig } from '@phoenix/state';

/** A file's hash as of its inode, size and change times: read again when one of them changes. */
interface KnownHash {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly hash: string;
}

/** Hashes remembered (by real path); a state tree has far fewer files, and a forgotten one is hashed again. */
const HASHES_HELD = 20_000;

/**
 * The master's state tree: `file_roots` served to minions (`salt://`), `pillar_roots` read only
 * here (they are rendered per minion, never served). Reading is `LocalRoots`, which refuses any path
 * leaving its root. `hash()` digests both trees so operators can see which masters differ.
 * Files are streamed: a hash is computed by reading the file in pieces, a chunk is read from its
 * offset, and no file is ever held whole, whatever its size and however many minions ask.
 */
export class StateTree {
  readonly files: LocalRoots;
  readonly pillar: LocalRoots;
  readonly #fileRoots: RootsConfig;
  readonly #pillarRoots: RootsConfig;
  readonly #hashes = new Map<string, KnownHash>();

  constructor(fileRoots: RootsConfig, pillarRoots: RootsConfig) {
    this.#fileRoots = fileRoots;
    this.#pillarRoots = pillarRoots;
    this.files = new LocalRoots(fileRoots);
    this.pillar = new LocalRoots(pillarRoots);
  }

  /**
   * One chunk of a file: the whole file's hash and size, and at most `limit` bytes from `offset`,
   * read from the same open file. A file rewritten between two chunks shows a new hash with the
   * second, and the minion starts over (RemoteFiles does).
   */
  async read(
    path: string,
    env: string,
    offset: number,
    limit: number,
  ): Promise<{ hash: string; size: number; content: Uint8Array } | undefined> {
    const real = await this.files.locate(path, env);
    if (real === undefined) return undefined;
    const file = await open(real, 'r');
    try {
      const info = await file.stat();
      const hash = await this.#hashOf(real, file, info);
      const length = Math.max(0, Math.min(limit, info.size - offset));
      const content = Buffer.alloc(length);
      const { bytesRead } = length === 0 ? { bytesRead: 0 } : await file.read(content, 0, length, offset);
      return { hash, size: info.size, content: content.subarray(0, bytesRead) };
    } finally {
      await file.close();
    }
  }

  async hashOf(path: string, env: string): Promise<string | undefined> {
    return this.#hashAt(await this.files.locate(path, env));
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
          const hash = await roots
            .locate(path, env)
            .then((real) => this.#hashAt(real))
            .catch(() => undefined);
          digest.update(`${kind}\0${env}\0${path}\0${hash ?? 'unreadable'}\n`);
        }
      }
    }
    return digest.digest('hex');
  }

  async #hashAt(real: string | undefined): Promise<string | undefined> {
    if (real === undefined) return undefined;
    const file = await open(real, 'r');
    try {
      return await this.#hashOf(real, file, await file.stat());
    } finally {
      await file.close();
    }
  }

  /**
   * The sha256 of the open `file` (at `real`) as `info` describes it: remembered, or streamed from
   * that same open file in pieces, so the hash is of the bytes the chunks are read from.
   */
  async #hashOf(real: string, file: FileHandle, info: Stats): Promise<string> {
    const known = this.#hashes.get(real);
    if (known !== undefined && same(known, info)) return known.hash;
    const digest = createHash('sha256');
    for await (const piece of file.createReadStream({ start: 0, autoClose: false, highWaterMark: 256 * 1024 }))
      digest.update(piece as Buffer);
    const hash = digest.digest('hex');
    this.#hashes.delete(real);
    if (this.#hashes.size >= HASHES_HELD) {
      const oldest = this.#hashes.keys().next();
      if (oldest.done !== true) this.#hashes.delete(oldest.value);
    }
    this.#hashes.set(real, { ino: info.ino, size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, hash });
    return hash;
  }
}

function same(known: KnownHash, info: Stats): boolean {
  return (
    known.ino === info.ino &&
    known.size === info.size &&
    known.mtimeMs === info.mtimeMs &&
    known.ctimeMs === info.ctimeMs
  );
}
