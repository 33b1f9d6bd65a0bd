import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CUSTOM_GRAINS_FILE, readCustomGrains, writeCustomGrains } from './custom-grains-file.js';
import { deepFreeze } from './deep-freeze.js';
import { lookupNested } from './nested-key.js';
import type { Lookup } from './nested-key.js';
import { GrainValueSchema } from './types.js';
import type { GrainValue, Grains } from './types.js';
import { PhoenixError } from '@phoenix/protocol';
import { MinionErrors } from '../errors.js';

/** What changed: `value` is undefined when the custom grain was deleted. */
export interface GrainChange {
  readonly key: string;
  readonly value: GrainValue | undefined;
}

export type GrainsListener = (grains: Grains, change: GrainChange) => void;

export interface GrainStoreOptions {
  /** Grains gathered at start (see gatherCoreGrains); never written to disk. */
  core: Record<string, unknown>;
  /** The minion's cache directory; custom grains live in `grains.yaml` inside it. */
  cacheDir: string;
  /** Told about a change listener that throws; the change itself still stands. */
  logger?: Logger;
}

/** Grains that identify the minion: changing them by setval would make grains lie about who it is. */
const PROTECTED_GRAINS = new Set(['id']);

/**
 * One minion's grains: core grains gathered at start merged with custom grains (custom wins).
 * Custom grains are persisted before they become visible, so what a listener sees is always what
 * the next start will load; writes are serialized so two concurrent setvals cannot lose one another.
 */
export class GrainStore {
  readonly file: string;
  readonly #cacheDir: string;
  readonly #core: Grains;
  readonly #logger: Logger | undefined;
  readonly #changes = new EventEmitter<{ change: Parameters<GrainsListener> }>().setMaxListeners(0);
  #custom: Readonly<Record<string, GrainValue>>;
  /** Grains that mirror state kept elsewhere (the state killswitch): never on disk, never set by hand. */
  #reflected: Readonly<Record<string, GrainValue>> = Object.freeze({});
  readonly #reflectedKeys = new Set<string>();
  #snapshot: Grains;
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(options: GrainStoreOptions, custom: Record<string, GrainValue>) {
    this.#cacheDir = options.cacheDir;
    this.file = join(options.cacheDir, CUSTOM_GRAINS_FILE);
    this.#core = deepFreeze(structuredClone(options.core));
    this.#logger = options.logger;
    this.#custom = deepFreeze(custom);
    this.#snapshot = this.#merge();
  }

  /** Loads the custom grains file; a corrupt one is PHX_GRAINS_FILE_INVALID naming the file, not an empty store. */
  static async open(options: GrainStoreOptions): Promise<GrainStore> {
    const custom = await readCustomGrains(join(options.cacheDir, CUSTOM_GRAINS_FILE));
    return new GrainStore(options, custom);
  }

  /** The merged grains, frozen: safe to hand to any caller and to keep. */
  items(): Grains {
    return this.#snapshot;
  }

  /** The custom grains alone, frozen. */
  custom(): Readonly<Record<string, GrainValue>> {
    return this.#custom;
  }

  /** `key` may be nested with the delimiter (`ip4_interfaces:eth0:0`). */
  lookup(key: string, delimiter = ':'): Lookup {
    return lookupNested(this.#snapshot, key, delimiter);
  }

  keys(): string[] {
    return Object.keys(this.#snapshot).sort();
  }

  /**
   * Shows `value` as grain `key` (undefined removes it), mirroring state this minion keeps
   * elsewhere, such as the state killswitch file: that state stays the truth, so the grain is not
   * persisted, wins over core and custom grains, and grains.setval/delval refuse the key from then
   * on. Listeners hear a change only when the value differs.
   */
  reflect(key: string, value: GrainValue | undefined): void {
    assertWritableKey(key);
    this.#reflectedKeys.add(key);
    const before = this.#reflected[key];
    if (value === undefined ? before === undefined : JSON.stringify(value) === JSON.stringify(before)) return;
    const next = { ...this.#reflected };
    if (value === undefined) delete next[key];
    else next[key] = deepFreeze(structuredClone(value));
    this.#reflected = Object.freeze(next);
    this.#snapshot = this.#merge();
    this.#publish({ key, value });
  }

  /** Sets a custom grain; resolves once it is on disk and visible. */
  async setval(key: string, value: unknown): Promise<Grains> {
    assertWritableKey(key);
    this.#assertNotReflected(key);
    const parsed = GrainValueSchema.safeParse(value);
    if (!parsed.success) {
      throw new PhoenixError(
        MinionErrors.PHX_GRAINS_INVALID_GRAIN,
        `grain '${key}' must be JSON-like data (${parsed.error.issues[0]?.message ?? 'invalid'})`,
        {
          details: { key },
        },
      );
    }
    const stored = deepFreeze(structuredClone(parsed.data));
    return this.#serialize(async () => {
      // Built from the custom grains as they are now: a write queued before this one may have changed them.
      await this.#persistAndPublish(key, { ...this.#custom, [key]: stored }, stored);
      return this.#snapshot;
    });
  }

  /**
   * Removes a custom grain (a core grain it overrode shows again). Resolves false when there was no
   * such custom grain; deleting a core grain is refused, since the next start would gather it again.
   */
  async delval(key: string): Promise<boolean> {
    assertWritableKey(key);
    this.#assertNotReflected(key);
    return this.#serialize(async () => {
      if (!Object.hasOwn(this.#custom, key)) {
        if (Object.hasOwn(this.#core, key)) {
          throw new PhoenixError(
            MinionErrors.PHX_GRAINS_READ_ONLY,
            `grain '${key}' is a core grain gathered at start; only custom grains (set with grains.setval) can be deleted`,
            { details: { key } },
          );
        }
        return false;
      }
      const next = { ...this.#custom };
      delete next[key];
      await this.#persistAndPublish(key, next, undefined);
      return true;
    });
  }

  /** Called after every change with the new snapshot; returns the unsubscribe function. */
  onChange(listener: GrainsListener): () => void {
    this.#changes.on('change', listener);
    return () => void this.#changes.off('change', listener);
  }

  async #persistAndPublish(
    key: string,
    next: Record<string, GrainValue>,
    value: GrainValue | undefined,
  ): Promise<void> {
    try {
      await mkdir(this.#cacheDir, { recursive: true });
      await writeCustomGrains(this.file, next);
    } catch (err) {
      throw new PhoenixError(
        MinionErrors.PHX_GRAINS_WRITE_FAILED,
        `cannot save custom grains to ${this.file}: ${String(err)}; nothing was changed`,
        {
          cause: err,
          details: { key, path: this.file },
        },
      );
    }
    this.#custom = Object.freeze(next);
    this.#snapshot = this.#merge();
    this.#publish({ key, value });
  }

  #publish(change: GrainChange): void {
    // Each listener on its own: one that throws is logged, and the others still hear the change.
    for (const listener of this.#changes.listeners('change')) {
      try {
        listener(this.#snapshot, change);
      } catch (err) {
        this.#logger?.error({ err, grain: change.key }, 'grains change listener failed');
      }
    }
  }

  #merge(): Grains {
    return Object.freeze({ ...this.#core, ...this.#custom, ...this.#reflected });
  }

  #assertNotReflected(key: string): void {
    if (!this.#reflectedKeys.has(key)) return;
    throw new PhoenixError(
      MinionErrors.PHX_GRAINS_READ_ONLY,
      `grain '${key}' mirrors the minion's own state and cannot be set by hand (for state_runs_disabled: use state.disable / state.enable)`,
      { details: { key } },
    );
  }

  /** Runs writes one at a time, in call order; a failed write does not block the next. */
  #serialize<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#writes.then(task, task);
    this.#writes = result.catch(() => undefined);
    return result;
  }
}

function assertWritableKey(key: string): void {
  if (key.length === 0) {
    throw new PhoenixError(MinionErrors.PHX_GRAINS_INVALID_GRAIN, 'a grain name must not be empty');
  }
  // It would be an own key in memory but a prototype on the way back from YAML: refused, not half-kept.
  if (key === '__proto__') {
    throw new PhoenixError(MinionErrors.PHX_GRAINS_INVALID_GRAIN, "'__proto__' cannot be a grain name");
  }
  if (PROTECTED_GRAINS.has(key)) {
    throw new PhoenixError(
      MinionErrors.PHX_GRAINS_READ_ONLY,
      `grain '${key}' is the minion's identity and cannot be changed`,
      {
        details: { key },
      },
    );
  }
}
