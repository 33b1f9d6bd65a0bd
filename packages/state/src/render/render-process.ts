import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { HostRequest, HostResponse } from './render-host-protocol.js';
import { TemplateRenderError, type TemplateServices, type TemplateSource } from './template-renderer.js';
import { PhoenixError } from '@phoenix/protocol';
import { StateErrors } from '../errors.js';

/**
 * Templates rendered on a master (pillar) run in a process of their own, the second wall behind
 * the Jinja environment's (python.ts: no way from a template to JavaScript). That process holds no
 * secret: it is started with an empty environment, gets only the template and its variables, and
 * runs under Node's permission model, reading only the code it runs (this package and its
 * dependencies): not the cluster key, the config, the roots (files come through the bridge, as on
 * a minion), and it can neither write, nor start processes. Node's permission model does not cover
 * the network; see the state README.
 *
 * One process serves every render of a master. Each TemplateRenderer given this process is one
 * session there (its own render thread, started on first use, ended by close), so renders keep
 * their time limits and may run side by side; a process that dies fails the renders in progress
 * and is started again by the next one.
 */
export interface RenderProcessOptions {
  /** Heap limit of the process (its render threads have their own, 256 MB each). Default 512. */
  readonly maxOldSpaceMb?: number;
  /** Called with the process's last words when it exits unasked (no secret is in them: it has none). */
  readonly onExit?: (detail: { code: number | null; signal: string | null; stderr: string }) => void;
}

interface Render {
  readonly session: number;
  readonly path: string;
  readonly services: TemplateServices;
  readonly timer: NodeJS.Timeout;
  resolve(output: string): void;
  reject(err: unknown): void;
}

const HostMessage = z.union([
  z.object({
    t: z.literal('done'),
    id: z.number(),
    ok: z.literal(true),
    output: z.string(),
  }),
  z.object({
    t: z.literal('done'),
    id: z.number(),
    ok: z.literal(false),
    error: z.object({
      file: z.string(),
      line: z.number().optional(),
      reason: z.string(),
      excerpt: z.string().optional(),
    }),
  }),
  z.object({
    t: z.literal('ask'),
    ask: z.number(),
    id: z.number(),
    request: z.discriminatedUnion('op', [
      z.object({
        op: z.literal('call'),
        fun: z.string(),
        args: z.array(z.unknown()),
        kwargs: z.record(z.string(), z.unknown()),
      }),
      z.object({ op: z.literal('read'), path: z.string() }),
      z.object({ op: z.literal('sls_exists'), name: z.string() }),
    ]),
  }),
]);

type AskRequest = Extract<z.output<typeof HostMessage>, { t: 'ask' }>['request'];

/** Beyond the render's own time limit (enforced in the process), how long before the process is stopped. */
const GRACE_MS = 5_000;
const STDERR_KEPT = 4_096;

export class RenderProcess {
  readonly #options: RenderProcessOptions;
  #child: ChildProcess | undefined;
  #stderr = '';
  readonly #renders = new Map<number, Render>();
  #nextId = 1;
  #nextSession = 1;
  #closed = false;

  constructor(options: RenderProcessOptions = {}) {
    this.#options = options;
  }

  /** A new session's number: one per TemplateRenderer. */
  session(): number {
    return this.#nextSession++;
  }

  /** The process's pid while it runs (for operators and tests), undefined before the first render. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  render(
    session: number,
    request: TemplateSource,
    settings: { timeoutMs: number; trimBlocks: boolean; lstripBlocks: boolean },
  ): Promise<string> {
    if (this.#closed)
      return Promise.reject(new PhoenixError(StateErrors.PHX_STATE_RENDER, 'the render process is closed'));
    const child = this.#start();
    const id = this.#nextId++;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        // The process enforces the time limit itself; one that does not answer is stopped.
        this.#stop(
          new TemplateRenderError(
            request.path,
            undefined,
            `rendering took longer than ${settings.timeoutMs} ms and was stopped`,
            undefined,
          ),
        );
        // (Not unref'd: a render in progress keeps its caller's process alive, as a thread's does.)
      }, settings.timeoutMs + GRACE_MS);
      this.#renders.set(id, {
        session,
        path: request.path,
        services: request.services,
        timer,
        resolve: (output) => {
          clearTimeout(timer);
          resolve(output);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.#send(child, {
        t: 'render',
        id,
        session,
        source: request.source,
        path: request.path,
        context: request.context,
        ...settings,
      });
    });
  }

  /** Ends a session: its render thread stops; a render of it still running fails. */
  end(session: number): void {
    for (const [id, render] of this.#renders) {
      if (render.session !== session) continue;
      this.#renders.delete(id);
      render.reject(new TemplateRenderError(render.path, undefined, 'the render was stopped', undefined));
    }
    if (this.#child !== undefined) this.#send(this.#child, { t: 'end', session });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const child = this.#child;
    this.#stop(new PhoenixError(StateErrors.PHX_STATE_RENDER, 'the render process is closed'));
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.ref(); // until it is gone: the caller may be all that keeps this process running
      await exited;
    }
  }

  #start(): ChildProcess {
    if (this.#child !== undefined) return this.#child;
    const child = fork(fileURLToPath(new URL('./render-host.js', import.meta.url)), [], {
      execArgv: renderProcessFlags(this.#options.maxOldSpaceMb ?? 512),
      // No environment: no credentials, no tokens, no paths to anything.
      env: {},
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.#child = child;
    this.#stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEPT);
    });
    child.on('message', (message: unknown) => this.#onMessage(child, message));
    child.on('error', () => undefined); // an exit follows
    child.on('exit', (code, signal) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      if (!this.#closed) this.#options.onExit?.({ code, signal, stderr: this.#stderr });
      this.#failAll(new TemplateRenderError(this.#firstPath(), undefined, 'the render process stopped', undefined));
    });
    // A master stopping does not wait for an idle render process.
    child.unref();
    child.channel?.unref();
    return child;
  }

  #onMessage(child: ChildProcess, raw: unknown): void {
    const parsed = HostMessage.safeParse(raw);
    if (!parsed.success) {
      // Not what the render host sends: the process is not trusted further.
      this.#stop(new TemplateRenderError(this.#firstPath(), undefined, 'the render process misbehaved', undefined));
      return;
    }
    const message = parsed.data;
    const render = this.#renders.get(message.id);
    if (message.t === 'ask') {
      if (render === undefined) return; // ended meanwhile
      void this.#answer(child, render, message.ask, message.request);
      return;
    }
    if (render === undefined) return;
    this.#renders.delete(message.id);
    if (message.ok) render.resolve(message.output);
    else {
      const { file, line, reason, excerpt } = message.error;
      render.reject(new TemplateRenderError(file, line, reason, excerpt));
    }
  }

  async #answer(child: ChildProcess, render: Render, ask: number, request: AskRequest): Promise<void> {
    let response: HostResponse;
    try {
      const { services } = render;
      const value =
        request.op === 'call'
          ? await services.call(request.fun, request.args, request.kwargs)
          : request.op === 'read'
            ? await services.read(request.path)
            : await services.slsExists(request.name);
      response = { t: 'answer', ask, ok: true, value };
    } catch (err) {
      response = { t: 'answer', ask, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (this.#child === child) this.#send(child, response);
  }

  #send(child: ChildProcess, message: HostRequest | HostResponse): void {
    try {
      child.send(message);
    } catch (err) {
      this.#stop(
        new TemplateRenderError(
          this.#firstPath(),
          undefined,
          `its variables cannot be passed to the template: ${String(err)}`,
          undefined,
        ),
      );
    }
  }

  #firstPath(): string {
    return this.#renders.values().next().value?.path ?? 'template';
  }

  #failAll(reason: unknown): void {
    const renders = [...this.#renders.values()];
    this.#renders.clear();
    for (const render of renders) render.reject(reason);
  }

  #stop(reason: unknown): void {
    const child = this.#child;
    this.#child = undefined;
    this.#failAll(reason);
    child?.kill('SIGKILL');
  }
}

/**
 * Node's flags for the render process: the permission model, reading only the directories of this
 * package and of the packages it loads (found as Node finds them, and their real paths too, since
 * workspaces link them), and threads (the renders' own, which inherit the same limits).
 */
export function renderProcessFlags(maxOldSpaceMb = 512): string[] {
  const read = [...moduleDirectories(packageRoot())].flatMap((dir) => [`--allow-fs-read=${dir}/`]);
  return ['--experimental-permission', ...read, '--allow-worker', `--max-old-space-size=${maxOldSpaceMb}`];
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new PhoenixError(StateErrors.PHX_STATE_RENDER, 'the state package has no package.json');
    dir = parent;
  }
  return dir;
}

/** A package's directory and those of its dependencies, transitively; each as found and as real path. */
function moduleDirectories(root: string): Set<string> {
  const found = new Set<string>();
  const visited = new Set<string>();
  const visit = (dir: string): void => {
    const real = realpathSync(dir);
    found.add(dir);
    found.add(real);
    if (visited.has(real)) return;
    visited.add(real);
    const manifest = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const names = Object.keys({
      ...manifest.dependencies,
      ...manifest.optionalDependencies,
      ...manifest.peerDependencies,
    });
    for (const name of names) {
      const dependency = lookUp(real, name) ?? lookUp(dir, name);
      if (dependency !== undefined) visit(dependency);
    }
  };
  visit(root);
  return found;
}

/** Where Node finds package `name` from `dir`: the nearest node_modules/name up the tree. */
function lookUp(dir: string, name: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(at) === at) return undefined;
  }
}
