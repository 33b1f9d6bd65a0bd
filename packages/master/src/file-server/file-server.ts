import type { Logger } from 'pino';
import {
  FILE_CHUNK_BYTES,
  PhoenixError,
  WIRE_VERSION,
  type MasterMessage,
  type MinionMessage,
} from '@phoenix/protocol';
import type { StateFiles } from '@phoenix/state';
import { FairQueue, FairQueueFullError } from '../limits/fair-queue.js';
import type { Refusals } from '../limits/refusals.js';
import type { PillarRenderer } from './pillar-renderer.js';
import type { StateTree } from './state-tree.js';
import { MasterErrors } from '../errors.js';

type Request = Extract<MinionMessage, { t: 'file' } | { t: 'pillar' }>;
type Reply = Extract<MasterMessage, { t: 'reply' }>;

/** What one request is answered from: a tree, its pillar roots, and the revision of git roots they are. */
export interface ServedTree {
  /** Undefined when no root is a git remote: directories are served as they are. */
  readonly revision: string | undefined;
  readonly tree: StateTree;
  readonly pillar: StateFiles;
}

export interface FileServerOptions {
  /** The tree to answer from: the current one, or a state run's revision of the git roots. */
  readonly trees: { at(revision?: string): Promise<ServedTree> };
  readonly pillar: PillarRenderer;
  /** The grains this master holds for a minion (reported over its own authenticated connection). */
  readonly grainsOf: (minionId: string) => Readonly<Record<string, unknown>> | undefined;
  /** File requests at once, and per minion running and waiting (taking turns, like pillar renders). */
  readonly files: { atOnce: number; runningPerMinion: number; waitingPerMinion: number };
  readonly refusals?: Refusals;
  readonly log: Logger;
}

/**
 * Answers minions' file and pillar requests: `salt://` files from file_roots, in chunks, and each
 * minion's own rendered pillar. A request that fails is answered with a coded error, never dropped,
 * so the minion can say what went wrong instead of waiting out a timeout. Requests are served by
 * turns between minions (FairQueue): a minion over its share is answered PHX_MASTER_BUSY at once.
 */
export class FileServer {
  readonly #o: FileServerOptions;
  readonly #files: FairQueue;
  /** File chunks answered and their bytes, for /metrics: a new commit should cost only its changed files. */
  readonly #sent = { reads: 0, bytes: 0 };

  constructor(options: FileServerOptions) {
    this.#o = options;
    this.#files = new FairQueue({
      concurrency: options.files.atOnce,
      perKeyRunning: options.files.runningPerMinion,
      perKeyWaiting: options.files.waitingPerMinion,
    });
  }

  /** File chunks sent to minions so far, and their bytes. */
  sent(): { reads: number; bytes: number } {
    return { ...this.#sent };
  }

  async answer(minionId: string, request: Request): Promise<Reply> {
    let reply: Reply = { v: WIRE_VERSION, t: 'reply', req: request.req };
    try {
      const served = await this.#o.trees.at(request.rev);
      const tree = served.tree;
      if (served.revision !== undefined) reply = { ...reply, rev: served.revision };
      if (request.t === 'pillar') {
        const grains = this.#o.grainsOf(minionId) ?? { id: minionId };
        return { ...reply, pillar: await this.#o.pillar.render(minionId, grains, request.env, served.pillar) };
      }
      return { ...reply, ...(await this.#files.run(minionId, () => this.#file(tree, request))) };
    } catch (err) {
      if (err instanceof FairQueueFullError) {
        this.#o.refusals?.count(request.t, 'busy');
        return { ...reply, error: { code: err.code, message: err.message } };
      }
      const code = err instanceof PhoenixError ? err.code : MasterErrors.PHX_FILE_SERVER.code;
      const message = err instanceof Error ? err.message : String(err);
      this.#o.log.warn({ minionId, request: request.t, code, err: message }, 'file server request failed');
      return { ...reply, error: { code, message: message.slice(0, 16_000) } };
    }
  }

  async #file(tree: StateTree, request: Extract<Request, { t: 'file' }>): Promise<Partial<Reply>> {
    switch (request.op) {
      case 'list':
        return { paths: await tree.list(request.path, request.env) };
      case 'hash': {
        const hash = await tree.hashOf(request.path, request.env);
        return hash === undefined ? {} : { hash };
      }
      case 'read': {
        const chunk = await tree.read(request.path, request.env, request.offset ?? 0, FILE_CHUNK_BYTES);
        if (chunk !== undefined) {
          this.#sent.reads++;
          this.#sent.bytes += chunk.content.byteLength;
        }
        return chunk ?? {};
      }
    }
  }
}
