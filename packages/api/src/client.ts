import { createParser, type ParseError } from 'eventsource-parser';
import type { RouteInput, RouteOutput, StreamMessage } from './contract.js';
import {
  ROUTES,
  fullPath,
  type CallRouteName,
  type RouteInfo,
  type RouteName,
  type StreamRouteName,
} from './routes.js';

/**
 * The one client of the master's API, for the CLI and the dashboard alike: typed by the contract
 * (a route's name gives its input and its answer), with the routes' places from routes.ts and no
 * schema library at run time, so a browser loads it as it is. How bytes travel is the caller's
 * (`HttpTransport`: the CLI's node:http with failover between masters, `fetchTransport` in a
 * browser); so is the error a refused request becomes (each program has its own code).
 */

export interface HttpRequest {
  method: 'GET' | 'POST';
  /** From the server's root, query included: `/api/v1/jobs?limit=5`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** No answer within this many milliseconds fails the request; 0 for none (a stream). */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface HttpAnswer {
  status: number;
  /** The answer's body as text, as it arrives; leaving the loop early closes the connection. */
  body: AsyncIterable<string>;
}

/** Sends one request and resolves once the answer's status is known. */
export type HttpTransport = (request: HttpRequest) => Promise<HttpAnswer>;

/** A refused request as the API answered it (or what could be made of an answer that is not JSON). */
export interface ErrorAnswer {
  status: number;
  code?: string;
  message?: string;
  details?: Record<string, unknown>;
}

export interface ApiClientOptions {
  transport: HttpTransport;
  /** The bearer token, read at each request (a dashboard's may change). */
  token: string | (() => string);
  /** The error a refused request throws. */
  failure: (answer: ErrorAnswer) => Error;
  /** The longest server-sent event accepted, in characters (default 16 MiB): a longer one ends the stream. */
  maxEventChars?: number;
}

export interface CallOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface StreamOptions<K extends StreamRouteName> {
  signal?: AbortSignal;
  /** Told once the stream is open (the server said 200). */
  onOpen?: () => void;
  /** The message after which the stream is complete (a job's `done`): reading ends with it. */
  until?: (message: StreamMessage<K>) => boolean;
}

export interface FollowOptions<K extends StreamRouteName> extends StreamOptions<K> {
  /** Following ends only when this aborts (or `until` says the stream is complete). */
  signal: AbortSignal;
  /** Told each time the stream is open again after a drop: what happened meanwhile was missed. */
  onReconnect?: () => void;
  /** Told when the stream dropped or could not be opened, before the pause. */
  onDrop?: (err: unknown) => void;
  /** Whether a failure is worth another try (default: every one is). */
  retryable?: (err: unknown) => boolean;
  /** The pause before the first try again, doubled after each failure up to maxPauseMs; default 500 ms and 10 s. */
  pauseMs?: number;
  maxPauseMs?: number;
  /** Tries in a row that fail before following gives up with the last failure (default: never). */
  maxFailures?: number;
}

type Args<K extends RouteName, O> =
  object extends RouteInput<K> ? [input?: RouteInput<K>, options?: O] : [input: RouteInput<K>, options?: O];

interface AnyInput {
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

export class ApiClient {
  readonly #options: ApiClientOptions;

  constructor(options: ApiClientOptions) {
    this.#options = options;
  }

  /** One request to a route that answers a document; anything but 2xx throws the caller's failure. */
  async call<K extends CallRouteName>(name: K, ...[input, options]: Args<K, CallOptions>): Promise<RouteOutput<K>> {
    const route: RouteInfo = ROUTES[name];
    const answer = await this.#send(route, input ?? {}, options?.timeoutMs ?? DEFAULT_TIMEOUT_MS, options?.signal);
    const text = await readText(answer.body);
    if (answer.status < 200 || answer.status >= 300) throw this.#refused(answer.status, text);
    if (route.produces !== undefined) return text as RouteOutput<K>;
    try {
      return JSON.parse(text) as RouteOutput<K>;
    } catch {
      throw this.#options.failure({ status: answer.status, message: 'the answer is not JSON' });
    }
  }

  /**
   * Opens a stream route once and calls `onMessage` for each event until the server ends it,
   * `until` says it is complete (resolves true) or `signal` aborts; an event whose data is not JSON
   * is not one of this API's and is passed over.
   */
  async stream<K extends StreamRouteName>(
    name: K,
    input: RouteInput<K>,
    onMessage: (message: StreamMessage<K>) => void,
    options: StreamOptions<K> & { onRetry?: (ms: number) => void } = {},
  ): Promise<boolean> {
    const answer = await this.#send(ROUTES[name], input, 0, options.signal);
    if (answer.status !== 200) throw this.#refused(answer.status, await readText(answer.body));
    options.onOpen?.();
    const limit = this.#options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
    let overflow: ParseError | undefined;
    let complete = false;
    const parser = createParser({
      maxBufferSize: limit,
      onEvent: (event) => {
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        if (complete) return;
        const message = { event: event.event ?? 'message', data } as StreamMessage<K>;
        onMessage(message);
        if (options.until?.(message) === true) complete = true;
      },
      ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
      onError: (err) => {
        if (err.type === 'max-buffer-size-exceeded') overflow = err;
      },
    });
    for await (const chunk of answer.body) {
      parser.feed(chunk);
      if (overflow !== undefined) {
        throw this.#options.failure({ status: answer.status, message: `a server-sent event over ${limit} characters` });
      }
      // Complete: leaving the loop closes the connection, whatever the server still sends.
      if (complete) return true;
    }
    return false;
  }

  /**
   * A stream route followed across drops: opened again after a pause that grows while it keeps
   * failing (the server's `retry:` field, when it sends one, wins), until `until` says the stream
   * is complete or `signal` aborts. A failure `retryable` refuses, or `maxFailures` in a row, ends it.
   */
  async follow<K extends StreamRouteName>(
    name: K,
    input: RouteInput<K>,
    onMessage: (message: StreamMessage<K>) => void,
    options: FollowOptions<K>,
  ): Promise<void> {
    const { signal } = options;
    const firstPause = options.pauseMs ?? 500;
    let pause = firstPause;
    let serverPause: number | undefined;
    let failures = 0;
    let opened = false;
    while (!signal.aborted) {
      let complete = false;
      let failure: unknown;
      try {
        complete = await this.stream(name, input, onMessage, {
          signal,
          ...(options.until === undefined ? {} : { until: options.until }),
          onOpen: () => {
            if (opened) options.onReconnect?.();
            opened = true;
            pause = firstPause;
            failures = 0;
            options.onOpen?.();
          },
          onRetry: (ms) => (serverPause = ms),
        });
      } catch (err) {
        failure = err;
      }
      if (complete || signal.aborted) return;
      if (failure !== undefined && options.retryable?.(failure) === false) throw failure;
      failures++;
      if (options.maxFailures !== undefined && failures >= options.maxFailures) {
        throw (
          failure ?? this.#options.failure({ status: 200, message: 'the stream kept ending before it was complete' })
        );
      }
      options.onDrop?.(failure);
      await sleep(serverPause ?? pause, signal);
      pause = Math.min(pause * 2, options.maxPauseMs ?? 10_000);
    }
  }

  #send(route: RouteInfo, input: AnyInput, timeoutMs: number, signal: AbortSignal | undefined): Promise<HttpAnswer> {
    const path = fullPath(route).replace(/:([A-Za-z_]+)/g, (_match, key: string) =>
      encodeURIComponent(String(input.params?.[key] ?? '')),
    );
    const search = queryString(input.query);
    const token = typeof this.#options.token === 'string' ? this.#options.token : this.#options.token();
    const body = input.body === undefined ? undefined : JSON.stringify(input.body);
    return this.#options.transport({
      method: route.method,
      path: search === '' ? path : `${path}?${search}`,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(route.stream === true ? { accept: 'text/event-stream' } : {}),
      },
      ...(body === undefined ? {} : { body }),
      timeoutMs,
      ...(signal === undefined ? {} : { signal }),
    });
  }

  #refused(status: number, text: string): Error {
    let error: { code?: unknown; message?: unknown; details?: unknown } | undefined;
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error;
    } catch {
      // An answer that is not JSON (a proxy's error page): the status says what happened.
    }
    return this.#options.failure({
      status,
      ...(typeof error?.code === 'string' ? { code: error.code } : {}),
      ...(typeof error?.message === 'string' ? { message: error.message } : {}),
      ...(typeof error?.details === 'object' && error.details !== null
        ? { details: error.details as Record<string, unknown> }
        : {}),
    });
  }
}

/** A query object as the URL's search part: arrays repeat their key (`?tag=a&tag=b`), undefined is left out. */
function queryString(query: Record<string, unknown> | undefined): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined) search.append(key, String(one));
    }
  }
  return search.toString();
}

async function readText(body: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of body) text += chunk;
  return text;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The transport of a page (same origin by default) or of any program with `fetch`. */
export function fetchTransport(base = ''): HttpTransport {
  return async (request) => {
    const signals = [request.signal, request.timeoutMs > 0 ? AbortSignal.timeout(request.timeoutMs) : undefined];
    const active = signals.filter((signal): signal is AbortSignal => signal !== undefined);
    const response = await fetch(`${base}${request.path}`, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(active.length === 0 ? {} : { signal: AbortSignal.any(active) }),
    });
    return { status: response.status, body: textOf(response.body) };
  };
}

async function* textOf(body: ReadableStream<Uint8Array> | null): AsyncGenerator<string> {
  if (body === null) return;
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield decoder.decode(value, { stream: true });
    }
    const rest = decoder.decode();
    if (rest !== '') yield rest;
  } finally {
    // Left early (the caller stopped reading): close the connection.
    reader.cancel().catch(() => undefined);
  }
}

export type { RouteInput, RouteOutput, StreamMessage } from './contract.js';
export type { CallRouteName, RouteName, StreamRouteName } from './routes.js';
