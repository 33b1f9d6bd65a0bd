import { CliError, CliErrorCodes } from './errors.js';
import { readConnectionFile } from './home.js';

export interface ApiTarget {
  url: string;
  token: string;
}

/**
 * Where the CLI sends requests: --api/--token, else PHOENIX_API/PHOENIX_TOKEN, else the local
 * cluster's connection file. Any master answers for the whole cluster, so any one URL will do.
 */
export async function resolveApi(flags: { api?: string | undefined; token?: string | undefined }): Promise<ApiTarget> {
  const local =
    flags.api === undefined && process.env.PHOENIX_API === undefined ? await readConnectionFile() : undefined;
  const url = flags.api ?? process.env.PHOENIX_API ?? local?.api?.[0];
  const token = flags.token ?? process.env.PHOENIX_TOKEN ?? local?.token;
  if (url === undefined || token === undefined) {
    throw new CliError(
      CliErrorCodes.NO_API,
      'no master to talk to: pass --api URL and --token TOKEN, set PHOENIX_API and PHOENIX_TOKEN, or start a local cluster with phoenix up',
    );
  }
  return { url: url.replace(/\/+$/, ''), token };
}

/** One JSON request to the API; an error answer becomes a CliError carrying the API's code. */
export async function request<T>(api: ApiTarget, method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${api.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${api.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new CliError(CliErrorCodes.API_UNREACHABLE, `cannot reach ${api.url}: ${(err as Error).message}`, err);
  }
  const payload = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
  if (!response.ok) {
    const message = payload.error?.message ?? `HTTP ${response.status}`;
    throw new CliError(CliErrorCodes.API_ERROR, `${message} (${payload.error?.code ?? response.status})`);
  }
  return payload as T;
}

/** Reads a server-sent-events stream, calling `onEvent` for each event until the server ends it. */
export async function stream(
  api: ApiTarget,
  path: string,
  onEvent: (event: string, data: unknown) => void,
): Promise<void> {
  const response = await fetch(`${api.url}/api/v1${path}`, { headers: { authorization: `Bearer ${api.token}` } }).catch(
    (err: unknown) => {
      throw new CliError(CliErrorCodes.API_UNREACHABLE, `cannot reach ${api.url}: ${(err as Error).message}`, err);
    },
  );
  if (!response.ok || response.body === null) {
    throw new CliError(CliErrorCodes.API_ERROR, `the job stream answered HTTP ${response.status}`);
  }
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
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
