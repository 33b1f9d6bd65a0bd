import { resolveApi, request } from '../api-client.js';
import { emit } from '../output.js';
import type { ApiOptions } from './masters.js';

export interface TokenCreateOptions extends ApiOptions {
  role: 'read' | 'operate' | 'admin';
  /** Seconds the token is valid for (program.ts parses 30d, 12h...). */
  ttl?: number;
}

interface TokenInfo {
  id: string;
  name: string;
  role: string;
  createdAt: number;
  createdBy: string;
  validUntil?: number;
  state: string;
}

/** `phoenix tokens create NAME --role R [--ttl 30d]`: prints the token once; only its hash is kept. */
export async function create(name: string, options: TokenCreateOptions): Promise<number> {
  const api = await resolveApi(options);
  const made = await request<{ token: string; info: TokenInfo }>(api, 'POST', '/tokens', {
    name,
    role: options.role,
    ...(options.ttl === undefined ? {} : { ttlSeconds: options.ttl }),
  });
  await emit(
    options.out ?? 'text',
    made,
    () =>
      `${made.token}\n(token ${made.info.id} "${made.info.name}", ${made.info.role}${until(made.info)}: shown this once)`,
  );
  return 0;
}

/** `phoenix tokens list`: every token made with `tokens create`, active, expired or revoked. */
export async function list(options: ApiOptions): Promise<number> {
  const api = await resolveApi(options);
  const { tokens: found } = await request<{ tokens: TokenInfo[] }>(api, 'GET', '/tokens');
  await emit(options.out ?? 'text', { tokens: found }, () =>
    found.length === 0
      ? 'No tokens made with phoenix tokens create.'
      : found
          .map((t) => `${t.id}  ${t.name.padEnd(20)} ${t.role.padEnd(8)} ${t.state.padEnd(8)}${until(t)}`)
          .join('\n'),
  );
  return 0;
}

/** `phoenix tokens revoke ID`: refused from then on, on every master. */
export async function revoke(id: string, options: ApiOptions): Promise<number> {
  const api = await resolveApi(options);
  const { info } = await request<{ info: TokenInfo }>(api, 'POST', `/tokens/${encodeURIComponent(id)}/revoke`, {});
  await emit(options.out ?? 'text', { info }, () => `token ${info.id} "${info.name}" revoked`);
  return 0;
}

function until(token: TokenInfo): string {
  return token.validUntil === undefined ? '' : ` until ${new Date(token.validUntil).toISOString()}`;
}
