import type { Logger } from 'pino';
import {
  compilePillar,
  StateError,
  StateErrorCodes,
  TemplateRenderer,
  type Pillar,
  type StateFiles,
} from '@phoenix/state';

export interface PillarRendererOptions {
  readonly files: StateFiles;
  /** One render of one minion's pillar may take this long. */
  readonly timeoutMs: number;
  /** Renders at once; more wait their turn, so a fleet-wide highstate cannot start a worker per minion. */
  readonly concurrency: number;
  readonly opts: Readonly<Record<string, unknown>>;
  readonly log: Logger;
}

/**
 * Renders one minion's pillar on the master, from pillar_roots, with the grains the master holds for
 * it (what the minion last reported over its authenticated connection). Only that minion's pillar
 * leaves the master. Templates run in a worker with a time limit, as they do on minions.
 */
export class PillarRenderer {
  readonly #o: PillarRendererOptions;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(options: PillarRendererOptions) {
    this.#o = options;
  }

  /** `files`: the pillar roots to render from (a state run's revision of them); default the configured ones. */
  async render(
    minionId: string,
    grains: Readonly<Record<string, unknown>>,
    saltenv: string,
    files: StateFiles = this.#o.files,
  ): Promise<Pillar> {
    await this.#turn();
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
      this.#active--;
      this.#waiting.shift()?.();
    }
  }

  #turn(): Promise<void> {
    if (this.#active < this.#o.concurrency) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.#active++;
        resolve();
      }),
    );
  }
}
