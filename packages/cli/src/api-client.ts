import { ApiClient, type HttpAnswer, type HttpRequest } from '@phoenix/api/client';
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
 * The typed client of `@phoenix/api` over this CLI's transport; a refused request is
 * PHX_CLI_API_ERROR carrying the API's message and code.
 */
export function apiClient(api: ApiTarget): ApiClient {
  return new ApiClient({
    transport: (request) => open(api, request),
    token: api.token,
    failure: (answer) =>
      new PhoenixError(
        CliErrors.PHX_CLI_API_ERROR,
        `${answer.message ?? `HTTP ${answer.status}`} (${answer.code ?? answer.status})`,
        answer.code === undefined ? {} : { details: { apiCode: answer.code } },
      ),
  });
}

/**
 * Sends one request with node:http (or node:https), not fetch: fetch loads its HTTP stack on first
 * use, which costs a CLI command more start-up than the rest of it together.
 */
async function open(api: ApiTarget, request: HttpRequest): Promise<HttpAnswer> {
  // Any master answers for the whole cluster: one that is gone (killed a moment ago) is passed over.
  for (const other of api.others ?? []) {
    try {
      return await openOne(api, request);
    } catch (err) {
      if (!isPhoenixError(err, CliErrors.PHX_CLI_API_UNREACHABLE)) throw err;
      api = { ...api, url: other };
    }
  }
  return openOne(api, request);
}

async function openOne(api: ApiTarget, request: HttpRequest): Promise<HttpAnswer> {
  let url: URL;
  try {
    url = new URL(`${api.url}${request.path}`);
  } catch {
    throw new PhoenixError(
      ProtocolErrors.PHX_CLI_USAGE,
      `--api must be a URL such as http://10.0.0.5:8080, not "${api.url}"`,
    );
  }
  const https = url.protocol === 'https:';
  const { request: send } = https ? await import('node:https') : await import('node:http');
  // The system's CAs and the operator's: a private CA's API is trusted without trusting only it.
  const ca = https && api.ca !== undefined ? [...(await import('node:tls')).rootCertificates, api.ca] : undefined;
  const { timeoutMs } = request;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: request.method,
        headers: request.headers,
        // 0: no idle bound (a stream: a job's returns may be minutes apart; the server ends it).
        timeout: timeoutMs,
        ...(ca === undefined ? {} : { ca }),
        ...(request.signal === undefined ? {} : { signal: request.signal }),
      },
      (response) => {
        response.setEncoding('utf8');
        resolve({ status: response.statusCode ?? 0, body: response as AsyncIterable<string> });
      },
    );
    req.once('timeout', () =>
      req.destroy(new PhoenixError(CliErrors.PHX_CLI_API_UNREACHABLE, `no answer within ${timeoutMs / 1000} s`)),
    );
    req.once('error', (err) =>
      reject(
        new PhoenixError(CliErrors.PHX_CLI_API_UNREACHABLE, `cannot reach ${api.url}: ${err.message}`, { cause: err }),
      ),
    );
    req.end(request.body);
  });
}
