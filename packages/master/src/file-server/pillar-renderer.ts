import type { Logger } from 'pino';
import {
  compilePillar,
  StateError,
  StateErrorCodes,
  TemplateRenderer,
  type Pillar,
  type StateFiles,
} from '@phoenix/state';
import { FairQueue } from '../limits/fair-queue.js';

export interface PillarRendererOptions {
  readonly files: StateFiles;
  /** One render of one minion's pillar may take this long. */
  readonly timeoutMs: number;
  /** Renders at once; more wait their turn, so a fleet-wide highstate cannot start a worker per minion. */
  readonly concurrency: number;
  /** Renders one minion may have waiting; one more is refused at once (PHX_MASTER_BUSY). */
  readonly waitingPerMinion: number;
  readonly opts: Readonly<Record<string, unknown>>;
  readonly log: Logger;
}

/**
 * Renders one minion's pillar on the master, from pillar_roots, with the grains the master holds for
 * it (what the minion last reported over its authenticated connection). Only that minion's pillar
 * leaves the master. Templates run in a worker with a time limit, as they do on minions.
 * Minions take turns: each has at most one render running, and a few waiting, so one that asks five
 * hundred times delays another's pillar by one render at most, not by five hundred.
 */
export class PillarRenderer {
  readonly #o: PillarRendererOptions;
  readonly #queue: FairQueue;

  constructor(options: PillarRendererOptions) {
    this.#o = options;
    this.#queue = new FairQueue({
      concurrency: options.concurrency,
      perKeyRunning: 1,
      perKeyWaiting: options.waitingPerMinion,
    });
  }

  /**
   * `files`: the pillar roots to render from (a state run's revision of them); default the configured ones.
   * PHX_MASTER_BUSY (FairQueueFullError) when this minion has its share of renders waiting already.
   */
  render(
    minionId: string,
    grains: Readonly<Record<string, unknown>>,
    saltenv: string,
    files: StateFiles = this.#o.files,
  ): Promise<Pillar> {
    return this.#queue.run(minionId, () => this.#render(minionId, grains, saltenv, files));
  }

  async #render(
    minionId: string,
    grains: Readonly<Record<string, unknown>>,
    saltenv: string,
    files: StateFiles,
  ): Promise<Pillar> {
    const renderer = new TemplateRenderer({ timeoutMs: this.#o.timeoutMs });
    try {
      return await compilePillar(files, {
        minionId,
        grains,
        saltenv,
        opts: { ...this.#o.opts, id: minionId },
        renderer,
        call: (fun) =>
          Promise.reject(
            new StateError(
              StateErrorCodes.RENDER,
              `salt['${fun}'] is not available in pillar: the master renders pillar and runs no execution modules for it`,
            ),
          ),
      });
    } finally {
      await renderer.close();
    }
  }
}
