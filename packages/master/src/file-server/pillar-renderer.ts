import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import {
  compilePillar,
  TemplateRenderer,
  type Pillar,
  type RenderIsolation,
  type StateFiles,
  StateErrors,
} from '@phoenix/state';
import { FairQueue } from '../limits/fair-queue.js';
import { PhoenixError } from '@phoenix/protocol';

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
  /** Where templates run: the master's render process, which holds no secret (see @phoenix/state). */
  readonly isolation?: RenderIsolation;
  /**
   * What a template may learn of the master's own files: only those inside the roots (an absolute
   * path's real path there, else undefined). Without it, nothing.
   */
  readonly hostPath?: (path: string, kind: 'file' | 'directory') => Promise<string | undefined>;
}

/** Hash algorithms of Salt's file.get_hash that a template may name. */
const HASHES = new Set(['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512']);

/**
 * Renders one minion's pillar on the master, from pillar_roots, with the grains the master holds for
 * it (what the minion last reported over its authenticated connection). Only that minion's pillar
 * leaves the master. Templates run with a time limit, as they do on minions, and in the master's
 * render process: a process without secrets that reads no file but its own code.
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
    const renderer = new TemplateRenderer({
      timeoutMs: this.#o.timeoutMs,
      ...(this.#o.isolation === undefined ? {} : { isolation: this.#o.isolation }),
    });
    try {
      return await compilePillar(files, {
        minionId,
        grains,
        saltenv,
        opts: { ...this.#o.opts, id: minionId },
        renderer,
        call: (fun, args, kwargs) =>
          this.#hostFile(fun, args, kwargs) ??
          Promise.reject(
            new PhoenixError(
              StateErrors.PHX_STATE_RENDER,
              `salt['${fun}'] is not available in pillar: the master renders pillar and runs no execution modules for it`,
            ),
          ),
      });
    } finally {
      await renderer.close();
    }
  }

  /**
   * The master's answer to a template's look at its files (file.file_exists, file.directory_exists,
   * file_hashsum): inside the roots as on disk, anywhere else as if missing.
   */
  #hostFile(fun: string, args: unknown[], kwargs: Record<string, unknown>): Promise<unknown> | undefined {
    const path = typeof args[0] === 'string' ? args[0] : undefined;
    const lookUp = (kind: 'file' | 'directory'): Promise<string | undefined> =>
      path === undefined || this.#o.hostPath === undefined ? Promise.resolve(undefined) : this.#o.hostPath(path, kind);
    if (fun === 'file.file_exists') return lookUp('file').then((found) => found !== undefined);
    if (fun === 'file.directory_exists') return lookUp('directory').then((found) => found !== undefined);
    if (fun !== 'file.get_hash') return undefined;
    return lookUp('file').then(async (found) => {
      const form = typeof kwargs.form === 'string' ? kwargs.form : 'sha256';
      if (found === undefined) throw new PhoenixError(StateErrors.PHX_STATE_RENDER, `file ${String(path)} not found`);
      if (!HASHES.has(form)) throw new PhoenixError(StateErrors.PHX_STATE_RENDER, `unknown hash type ${form}`);
      return createHash(form)
        .update(await readFile(found))
        .digest('hex');
    });
  }
}
