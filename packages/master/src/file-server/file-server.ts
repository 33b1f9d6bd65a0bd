import type { Logger } from 'pino';
import {
  FILE_CHUNK_BYTES,
  PhoenixError,
  WIRE_VERSION,
  type MasterMessage,
  type MinionMessage,
} from '@phoenix/protocol';
import { FairQueue, FairQueueFullError } from '../limits/fair-queue.js';
import type { Refusals } from '../limits/refusals.js';
import type { PillarRenderer } from './pillar-renderer.js';
import type { StateTree } from './state-tree.js';
import { MasterErrors } from '../errors.js';

type Request = Extract<MinionMessage, { t: 'file' } | { t: 'pillar' }>;
type Reply = Extract<MasterMessage, { t: 'reply' }>;

export interface FileServerOptions {
  readonly tree: StateTree;
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

  constructor(options: FileServerOptions) {
    this.#o = options;
    this.#files = new FairQueue({
      concurrency: options.files.atOnce,
      perKeyRunning: options.files.runningPerMinion,
      perKeyWaiting: options.files.waitingPerMinion,
    });
  }

  async answer(minionId: string, request: Request): Promise<Reply> {
    const reply = { v: WIRE_VERSION, t: 'reply', req: request.req } as const;
    try {
      if (request.t === 'pillar') {
        const grains = this.#o.grainsOf(minionId) ?? { id: minionId };
        return { ...reply, pillar: await this.#o.pillar.render(minionId, grains, request.env) };
      }
      return { ...reply, ...(await this.#files.run(minionId, () => this.#file(request))) };
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

  async #file(request: Extract<Request, { t: 'file' }>): Promise<Partial<Reply>> {
    switch (request.op) {
      case 'list':
        return { paths: await this.#o.tree.list(request.path, request.env) };
      case 'hash': {
        const hash = await this.#o.tree.hashOf(request.path, request.env);
        return hash === undefined ? {} : { hash };
      }
      case 'read': {
        const chunk = await this.#o.tree.read(request.path, request.env, request.offset ?? 0, FILE_CHUNK_BYTES);
        return chunk ?? {};
      }
    }
  }
}
