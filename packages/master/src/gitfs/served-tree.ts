import {
  LocalRoots,
  parseFileUrl,
  parseTop,
  SlsLoader,
  StateErrors,
  TemplateRenderer,
  type RenderIsolation,
  type RootsConfig,
  type StateFile,
  type StateFiles,
} from '@phoenix/state';
import { PhoenixError } from '@phoenix/protocol';
import { StateTree } from '../file-server/state-tree.js';

/** Environment → path → why a checked-out commit leaves that file out. */
export type Refusals = Readonly<Record<string, ReadonlyArray<Readonly<Record<string, string>>>>>;

function refusal(refusals: Refusals, url: string, env: string): PhoenixError | undefined {
  const { path, env: saltenv } = parseFileUrl(url, env);
  for (const refused of refusals[saltenv] ?? []) {
    const why = refused[path];
    if (why !== undefined) {
      return new PhoenixError(StateErrors.PHX_STATE_FILE_REFUSED, `refused to serve 'salt://${path}': it is ${why}`, {
        details: { url: `salt://${path}` },
      });
    }
  }
  return undefined;
}

/**
 * A state tree of directories and checked-out commits. A file that a commit holds but the file
 * server leaves out (over the size limit, a submodule) is an error that says so, not "no such file".
 */
export class ServedStateTree extends StateTree {
  readonly #refused: Refusals;

  constructor(fileRoots: RootsConfig, pillarRoots: RootsConfig, refused: Refusals) {
    super(fileRoots, pillarRoots);
    this.#refused = refused;
  }

  override async read(
    path: string,
    env: string,
    offset: number,
    limit: number,
  ): Promise<{ hash: string; size: number; content: Uint8Array } | undefined> {
    const found = await super.read(path, env, offset, limit);
    if (found !== undefined) return found;
    const refused = refusal(this.#refused, path, env);
    if (refused !== undefined) throw refused;
    return undefined;
  }

  override async hashOf(path: string, env: string): Promise<string | undefined> {
    const found = await super.hashOf(path, env);
    if (found !== undefined) return found;
    const refused = refusal(this.#refused, path, env);
    if (refused !== undefined) throw refused;
    return undefined;
  }
}

/** Pillar roots with the same rule: a file left out of a commit is an error naming why. */
export class ServedPillarFiles implements StateFiles {
  readonly #inner: StateFiles;
  readonly #refused: Refusals;

  constructor(inner: StateFiles, refused: Refusals) {
    this.#inner = inner;
    this.#refused = refused;
  }

  async read(url: string, env?: string): Promise<StateFile | undefined> {
    const found = await this.#inner.read(url, env);
    if (found !== undefined) return found;
    const refused = refusal(this.#refused, url, env ?? 'base');
    if (refused !== undefined) throw refused;
    return undefined;
  }

  list(prefix: string, env?: string): Promise<string[]> {
    return this.#inner.list(prefix, env);
  }
}

/** A name a top file cannot be judged by without a minion's grains or pillar (StrictUndefined). */
const NEEDS_A_MINION = /is undefined|has no attribute|is not available here/;

/**
 * Whether the top file of a checked-out commit renders: Jinja and YAML, and the shape of a top
 * file. It is rendered with no grains and no pillar: a name only a minion would give is not held
 * against it, a syntax error or a broken structure is. A commit's templates are as untrusted as
 * pillar's, so they render where pillar does (the master's render process, without secrets). One
 * render thread serves every check, so a fetch is not held up by a thread's start; after a render
 * that threw, the next check gets a fresh one.
 */
export class TopFileCheck {
  readonly #options: { readonly timeoutMs: number; readonly isolation?: RenderIsolation };
  #renderer: TemplateRenderer | undefined;
  /** Checks run one after another: one that fails replaces the renderer under no other. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: { readonly timeoutMs: number; readonly isolation?: RenderIsolation }) {
    this.#options = options;
  }

  /** Why `top` in `dir` (the tree of environment `env`) is not served; undefined when it renders or there is none. */
  problem(dir: string, env: string, top = 'top.sls'): Promise<string | undefined> {
    const result = this.#queue.then(() => this.#check(dir, env, top));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #check(dir: string, env: string, top: string): Promise<string | undefined> {
    const files = new LocalRoots({ [env]: [dir] });
    const found = await files.read(top, env).catch((err: unknown) => err);
    if (found === undefined) return undefined;
    if (found instanceof Error) return `${top} cannot be read: ${found.message}`;
    const file = found as StateFile;
    const renderer = (this.#renderer ??= new TemplateRenderer({
      timeoutMs: this.#options.timeoutMs,
      hostFiles: false,
      ...(this.#options.isolation === undefined ? {} : { isolation: this.#options.isolation }),
    }));
    try {
      const loader = new SlsLoader(files, renderer, (fun) =>
        Promise.reject(new PhoenixError(StateErrors.PHX_STATE_RENDER, `salt['${fun}'] is not available here`)),
      );
      const { data } = await loader.renderData(
        file.content.toString('utf8'),
        top,
        env,
        { grains: {}, pillar: {}, opts: {} },
        { tplpath: top, tplfile: top, tpldir: '' },
      );
      parseTop(data, `the top file (${top})`);
      return undefined;
    } catch (err) {
      if (this.#renderer === renderer) this.#renderer = undefined;
      await renderer.close();
      const message = err instanceof Error ? err.message : String(err);
      return NEEDS_A_MINION.test(message) ? undefined : `${top} does not render: ${message}`;
    }
  }

  async close(): Promise<void> {
    await this.#queue;
    const renderer = this.#renderer;
    this.#renderer = undefined;
    await renderer?.close();
  }
}
