import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { BridgeRequest, BridgeResponse, RenderFailure, RenderRequest, RenderResponse } from './render-protocol.js';
import { StateErrors } from '../errors.js';
import { PhoenixError } from '@phoenix/protocol';

/** What a template may reach on the main thread while it renders. */
export interface TemplateServices {
  /** `salt['mod.fun'](...)` for functions the worker does not answer itself. */
  call(fun: string, args: unknown[], kwargs: Record<string, unknown>): Promise<unknown>;
  /** A file of the roots being rendered (include/import), relative path; undefined when missing. */
  read(path: string): Promise<string | undefined>;
  /** Whether an SLS exists in the roots being rendered. */
  slsExists(name: string): Promise<boolean>;
}

export interface TemplateRendererOptions {
  /** One render may take this long (a template that loops forever is stopped). Default 5 minutes. */
  timeoutMs?: number;
  /** Jinja's trim_blocks / lstrip_blocks. Default false, as Salt's jinja_trim_blocks / jinja_lstrip_blocks. */
  trimBlocks?: boolean;
  lstripBlocks?: boolean;
  /** The job's signal: aborting it stops the worker and fails the render in progress. */
  signal?: AbortSignal;
  /**
   * The file system the states manage (the minion's state.root): `file.file_exists` and
   * `file.directory_exists` look there, but in the minion's own directories where they are
   * (see pathOnHost). Default '/'.
   */
  root?: string;
  /**
   * Whether templates may look at this host's files (file.file_exists, file_hashsum): a minion's
   * own, yes (default); a master's, no: they are asked of the services as salt[...] calls.
   */
  hostFiles?: boolean;
  /** Render in this process (a master's RenderProcess) instead of a thread of this one. */
  isolation?: RenderIsolation;
  /** Idle workers to start from and to hand the worker back to on close (see RenderWorkers). */
  workers?: RenderWorkers;
}

/** Where renders may run instead of a thread of this process: a process of their own (render-process.ts). */
export interface RenderIsolation {
  /** A new session: one per renderer, ended when the renderer closes. */
  session(): number;
  render(
    session: number,
    request: TemplateSource,
    settings: { timeoutMs: number; trimBlocks: boolean; lstripBlocks: boolean },
  ): Promise<string>;
  end(session: number): void;
}

export interface TemplateSource {
  readonly source: string;
  /** `salt://web/init.sls`: named in errors, base of relative includes. */
  readonly path: string;
  readonly context: Record<string, unknown>;
  readonly services: TemplateServices;
}

const DEFAULT_TIMEOUT_MS = 300_000;
/** Bounds the worker's heap: a template that builds a huge list fails alone, the minion stays up. */
const WORKER_HEAP_MB = 256;

interface StartedWorker {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly flag: Int32Array;
  readonly callTimeoutMs: number;
}

/**
 * Workers left idle by closed renderers, for the next renderer to start from: a new worker costs
 * about a quarter of a second of CPU (a thread, its isolate, nunjucks), which every state run paid.
 * A worker is handed back only when no render is in progress in it, and each render builds its own
 * environment from its request, so nothing passes from one run to the next. At most `max` wait, each
 * for `idleMs` (a minion that runs one highstate an hour holds no thread between them); owned by
 * whoever creates it (a minion's state service), never shared through the process.
 */
export class RenderWorkers {
  readonly #max: number;
  readonly #idleMs: number;
  /** Each idle worker with what forgets it: its expiry and its listener for an end of its own. */
  readonly #idle = new Map<StartedWorker, { timer: NodeJS.Timeout; onExit: () => void }>();
  #closed = false;

  constructor(options: { max?: number; idleMs?: number } = {}) {
    this.#max = options.max ?? 1;
    this.#idleMs = options.idleMs ?? 60_000;
  }

  /** An idle worker set up for this call timeout, if one waits. */
  take(callTimeoutMs: number): StartedWorker | undefined {
    for (const started of this.#idle.keys()) {
      if (started.callTimeoutMs !== callTimeoutMs) continue;
      this.#forget(started);
      return started;
    }
    return undefined;
  }

  /** Keeps a worker with no render in progress; false when it is not wanted (the caller stops it). */
  give(started: StartedWorker): boolean {
    if (this.#closed || this.#idle.size >= this.#max) return false;
    const timer = setTimeout(() => {
      this.#forget(started);
      started.port.close();
      void started.worker.terminate();
    }, this.#idleMs);
    timer.unref();
    // An idle worker that ends by itself (out of memory, say) is forgotten.
    const onExit = (): void => this.#forget(started);
    started.worker.once('exit', onExit);
    this.#idle.set(started, { timer, onExit });
    return true;
  }

  /** How many workers wait for a run. */
  get idle(): number {
    return this.#idle.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const idle = [...this.#idle.keys()];
    for (const started of idle) this.#forget(started);
    await Promise.all(
      idle.map((started) => {
        started.port.close();
        return started.worker.terminate();
      }),
    );
  }

  #forget(started: StartedWorker): void {
    const held = this.#idle.get(started);
    if (held === undefined) return;
    clearTimeout(held.timer);
    started.worker.off('exit', held.onExit);
    this.#idle.delete(started);
  }
}

/** A render failed: names the template (the included one when the error is there) and the line. */
export class TemplateRenderError extends PhoenixError {
  readonly file: string;
  readonly line: number | undefined;
  readonly reason: string;

  constructor(file: string, line: number | undefined, reason: string, excerpt: string | undefined) {
    super(
      StateErrors.PHX_STATE_RENDER,
      `Jinja error in ${file}${line === undefined ? '' : `, line ${line}`}: ${reason}${
        excerpt === undefined || excerpt.trim() === '' ? '' : `\n    ${line} | ${excerpt}`
      }`,
      { details: { file, ...(line === undefined ? {} : { line }) } },
    );
    this.name = 'TemplateRenderError';
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

interface Running {
  readonly id: number;
  readonly request: TemplateSource;
  /** Texts of the files the template read, by salt:// path, to quote the line of an error. */
  readonly sources: Map<string, string>;
  resolve(output: string): void;
  reject(err: unknown): void;
}

/**
 * Renders Jinja templates in a worker thread (see render-worker.ts for why). One renderer serves one
 * state run: renders are queued one after another, the worker starts on first use and `close` (or
 * the job's signal) stops it.
 */
export class TemplateRenderer {
  readonly #timeoutMs: number;
  readonly #trimBlocks: boolean;
  readonly #lstripBlocks: boolean;
  readonly #hostFiles: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #root: string;
  readonly #isolation: { readonly to: RenderIsolation; readonly session: number } | undefined;
  readonly #workers: RenderWorkers | undefined;
  #worker: StartedWorker | undefined;
  /** The listeners this renderer put on its worker, taken off when it hands the worker back. */
  #detach: (() => void) | undefined;
  #running: Running | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #nextId = 1;
  #closed = false;
  readonly #onAbort = (): void => this.#fail(this.#signal?.reason);

  constructor(options: TemplateRendererOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#trimBlocks = options.trimBlocks ?? false;
    this.#lstripBlocks = options.lstripBlocks ?? false;
    this.#hostFiles = options.hostFiles ?? true;
    this.#signal = options.signal;
    this.#root = options.root ?? '/';
    this.#workers = options.workers;
    this.#isolation =
      options.isolation === undefined ? undefined : { to: options.isolation, session: options.isolation.session() };
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  render(request: TemplateSource): Promise<string> {
    const result = this.#queue.then(() => this.#renderNow(request));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#isolation?.to.end(this.#isolation.session);
    const render = this.#running;
    this.#running = undefined;
    render?.reject(new TemplateRenderError(render.request.path, undefined, 'the renderer was closed', undefined));
    const running = this.#worker;
    this.#worker = undefined;
    if (running) {
      this.#detach?.();
      // A worker that was rendering is stopped; an idle one may serve the next run.
      if (render === undefined && this.#workers?.give(running) === true) return;
      running.port.close();
      await running.worker.terminate();
    }
  }

  #renderNow(request: TemplateSource): Promise<string> {
    if (this.#signal?.aborted) return Promise.reject(this.#signal.reason as unknown);
    if (this.#closed)
      return Promise.reject(new PhoenixError(StateErrors.PHX_STATE_RENDER, 'the template renderer is closed'));
    if (this.#isolation !== undefined) {
      return this.#isolation.to.render(this.#isolation.session, request, {
        timeoutMs: this.#timeoutMs,
        trimBlocks: this.#trimBlocks,
        lstripBlocks: this.#lstripBlocks,
      });
    }
    const { worker } = this.#start();
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(
          new TemplateRenderError(
            request.path,
            undefined,
            `rendering took longer than ${this.#timeoutMs} ms and was stopped`,
            undefined,
          ),
        );
      }, this.#timeoutMs);
      const running: Running = {
        id: this.#nextId++,
        request,
        sources: new Map([[request.path, request.source]]),
        resolve: (output) => {
          clearTimeout(timer);
          resolve(output);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.#running = running;
      const message: RenderRequest = {
        id: running.id,
        source: request.source,
        path: request.path,
        context: request.context,
        trimBlocks: this.#trimBlocks,
        lstripBlocks: this.#lstripBlocks,
        root: this.#root,
        hostFiles: this.#hostFiles,
      };
      try {
        worker.postMessage(message);
      } catch (err) {
        this.#running = undefined;
        running.reject(
          new TemplateRenderError(
            request.path,
            undefined,
            `its variables cannot be passed to the template: ${String(err)}`,
            undefined,
          ),
        );
      }
    });
  }

  #start(): StartedWorker {
    if (this.#worker) return this.#worker;
    const started = this.#workers?.take(this.#timeoutMs) ?? this.#spawn();
    this.#worker = started;
    const { worker, port } = started;
    const onMessage = (response: RenderResponse): void => this.#finish(response);
    // Only the current worker's end fails the render in progress: a worker stopped on purpose
    // (timeout, abort) reports its exit after a new one may already have started.
    const onError = (err: Error): void => {
      if (this.#worker !== started) return;
      this.#fail(
        new TemplateRenderError(
          this.#running?.request.path ?? 'template',
          undefined,
          `the renderer stopped: ${err.message}`,
          undefined,
        ),
      );
    };
    const onExit = (): void => {
      port.close();
      if (this.#worker !== started) return;
      this.#fail(
        new TemplateRenderError(
          this.#running?.request.path ?? 'template',
          undefined,
          'the renderer stopped',
          undefined,
        ),
      );
    };
    const onBridge = (request: BridgeRequest): void => {
      void this.#answer(started, request);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    port.on('message', onBridge);
    // A renderer left open must not keep the process alive (a listener added refs a port again).
    worker.unref();
    port.unref();
    this.#detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      port.off('message', onBridge);
      this.#detach = undefined;
    };
    return started;
  }

  #spawn(): StartedWorker {
    const { port1, port2 } = new MessageChannel();
    const shared = new SharedArrayBuffer(4);
    const worker = new Worker(new URL('./render-worker.js', import.meta.url), {
      workerData: { port: port2, flag: shared, callTimeoutMs: this.#timeoutMs },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
      stdout: false,
      stderr: false,
    });
    return { worker, port: port1, flag: new Int32Array(shared), callTimeoutMs: this.#timeoutMs };
  }

  async #answer(target: { port: MessagePort; flag: Int32Array }, request: BridgeRequest): Promise<void> {
    const running = this.#running;
    let response: BridgeResponse;
    try {
      if (!running) throw new PhoenixError(StateErrors.PHX_STATE_RENDER, 'no render is in progress');
      const { services } = running.request;
      let value: unknown;
      if (request.op === 'call') value = await services.call(request.fun, request.args, request.kwargs);
      else if (request.op === 'read') {
        value = await services.read(request.path);
        if (typeof value === 'string') running.sources.set(`salt://${request.path}`, value);
      } else value = await services.slsExists(request.name);
      response = { ok: true, value: value === undefined ? undefined : structuredClone(value) };
    } catch (err) {
      response = { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (this.#worker?.port !== target.port) return; // stopped meanwhile
    target.port.postMessage(response);
    Atomics.store(target.flag, 0, 1);
    Atomics.notify(target.flag, 0);
  }

  #finish(response: RenderResponse): void {
    const running = this.#running;
    if (!running || running.id !== response.id) return;
    this.#running = undefined;
    if (response.ok) running.resolve(response.output);
    else running.reject(this.#error(running, response.error));
  }

  #error(running: Running, failure: RenderFailure): TemplateRenderError {
    const file = failure.file ?? running.request.path;
    const text = running.sources.get(file);
    const excerpt = failure.line === undefined ? undefined : text?.split('\n')[failure.line - 1];
    return new TemplateRenderError(file, failure.line, failure.message, excerpt);
  }

  /** Stops the worker (a timeout, the job's signal, a crash) and fails the render in progress. */
  #fail(reason: unknown): void {
    // In a render process, ending the session stops its thread and fails its render.
    this.#isolation?.to.end(this.#isolation.session);
    const running = this.#running;
    this.#running = undefined;
    const started = this.#worker;
    this.#worker = undefined;
    if (started) {
      started.port.close();
      void started.worker.terminate();
    }
    running?.reject(reason);
  }
}
