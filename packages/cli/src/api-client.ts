import type { IncomingMessage } from 'node:http';
import { readLocalApi } from './home.js';
import { ProtocolErrors, PhoenixError, isPhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from './errors.js';

export interface ApiTarget {
  url: string;
  token: string;
  /** Other masters' APIs, tried in turn when `url` cannot be reached (the local cluster lists them all). */
  others?: readonly string[];
  /** PEM certificates trusted for an https:// API besides the system's (--ca / PHOENIX_CA). */
  ca?: string;
}

/**
 * Where the CLI sends requests: --api/--token, else PHOENIX_API/PHOENIX_TOKEN, else the local
 * cluster's connection file. Any master answers for the whole cluster, so any one URL will do.
 */
export async function resolveApi(flags: {
  api?: string | undefined;
  token?: string | undefined;
  ca?: string | undefined;
}): Promise<ApiTarget> {
  const local = flags.api === undefined && process.env.PHOENIX_API === undefined ? await readLocalApi() : undefined;
  const url = flags.api ?? process.env.PHOENIX_API ?? local?.api[0];
  const token = flags.token ?? process.env.PHOENIX_TOKEN ?? local?.token;
  if (url === undefined || token === undefined) {
    throw new PhoenixError(
      CliErrors.PHX_CLI_NO_API,
      'no master to talk to: pass --api URL and --token TOKEN, set PHOENIX_API and PHOENIX_TOKEN, or start a local cluster with npx phoenix up',
    );
  }
  const others = (local?.api ?? []).filter((other) => other !== url).map((other) => other.replace(/\/+$/, ''));
  const caFile = flags.ca ?? process.env.PHOENIX_CA;
  const ca = caFile === undefined || caFile === '' ? undefined : await readCa(caFile);
  return {
    url: url.replace(/\/+$/, ''),
    token,
    ...(others.length === 0 ? {} : { others }),
    ...(ca === undefined ? {} : { ca }),
  };
}

async function readCa(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new PhoenixError(ProtocolErrors.PHX_CLI_USAGE, `cannot read the CA file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Opens one request with node:http (or node:https), not fetch: fetch loads its HTTP stack on
 * first use, which costs a CLI command more start-up than the rest of it together.
 */
async function open(
  api: ApiTarget,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<IncomingMessage> {
  // Any master answers for the whole cluster: one that is gone (killed a moment ago) is passed over.
  for (const other of api.others ?? []) {
    try {
      return await openOne(api, method, path, body, timeoutMs);
    } catch (err) {
      if (!isPhoenixError(err, CliErrors.PHX_CLI_API_UNREACHABLE)) throw err;
      api = { ...api, url: other };
    }
  }
  return openOne(api, method, path, body, timeoutMs);
}

async function openOne(
  api: ApiTarget,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<IncomingMessage> {
  let url: URL;
  try {
    url = new URL(`${api.url}/api/v1${path}`);
  } catch {
    throw new PhoenixError(
      ProtocolErrors.PHX_CLI_USAGE,
      `--api must be a URL such as http://10.0.0.5:8080, not "${api.url}"`,
    );
  }
  const https = url.protocol === 'https:';
  const { request } = https ? await import('node:https') : await import('node:http');
  // The system's CAs and the operator's: a private CA's API is trusted without trusting only it.
  const ca = https && api.ca !== undefined ? [...(await import('node:tls')).rootCertificates, api.ca] : undefined;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: {
          authorization: `Bearer ${api.token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        timeout: timeoutMs,
        ...(ca === undefined ? {} : { ca }),
      },
      resolve,
    );
    req.once('timeout', () =>
      req.destroy(new PhoenixError(CliErrors.PHX_CLI_API_UNREACHABLE, `no answer within ${timeoutMs / 1000} s`)),
    );
    req.once('error', (err) =>
      reject(
        new PhoenixError(CliErrors.PHX_CLI_API_UNREACHABLE, `cannot reach ${api.url}: ${err.message}`, { cause: err }),
      ),
    );
    req.end(payload);
  });
}

async function readAll(response: IncomingMessage): Promise<string> {
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) text += chunk as string;
  return text;
}

/** One JSON request to the API; an error answer becomes PHX_CLI_API_ERROR carrying the API's code. */
export async function request<T>(
  api: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 60_000,
): Promise<T> {
  const response = await open(api, method, path, body, timeoutMs);
  const text = await readAll(response);
  let payload: { error?: { code?: string; message?: string } } = {};
  try {
    payload = JSON.parse(text) as typeof payload;
  } catch {
    // An answer that is not JSON (a proxy's error page): the status says what happened.
  }
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    const message = payload.error?.message ?? `HTTP ${status}`;
    throw new PhoenixError(CliErrors.PHX_CLI_API_ERROR, `${message} (${payload.error?.code ?? status})`, {
      details: { apiCode: payload.error?.code },
    });
  }
  return payload as T;
}

/** Reads a server-sent-events stream, calling `onEvent` for each event until the server ends it. */
export async function stream(
  api: ApiTarget,
  path: string,
  onEvent: (event: string, data: unknown) => void,
): Promise<void> {
  // No idle timeout: a job's returns may be minutes apart; the server ends the stream.
  const response = await open(api, 'GET', path, undefined, 0);
  if (response.statusCode !== 200) {
    response.resume();
    throw new PhoenixError(CliErrors.PHX_CLI_API_ERROR, `the job stream answered HTTP ${response.statusCode}`);
  }
  response.setEncoding('utf8');
  let buffer = '';
  for await (const chunk of response) {
    buffer += chunk as string;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1];
      onEvent(event, data === undefined ? undefined : (JSON.parse(data) as unknown));
    }
  }
}
