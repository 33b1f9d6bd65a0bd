import type { TokenView } from '@phoenix/api';
import { apiClient, resolveApi } from '../api-client.js';
import { emit } from '../output.js';
import type { ApiOptions } from './masters.js';

export interface TokenCreateOptions extends ApiOptions {
  role: 'read' | 'operate' | 'admin';
  /** Seconds the token is valid for (program.ts parses 30d, 12h...). */
  ttl?: number;
}

/** `phoenix tokens create NAME --role R [--ttl 30d]`: prints the token once; only its hash is kept. */
export async function create(name: string, options: TokenCreateOptions): Promise<number> {
  const made = await apiClient(await resolveApi(options)).call('createToken', {
    body: { name, role: options.role, ...(options.ttl === undefined ? {} : { ttlSeconds: options.ttl }) },
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
  const { tokens: found } = await apiClient(await resolveApi(options)).call('listTokens');
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
  const { info } = await apiClient(await resolveApi(options)).call('revokeToken', { params: { id }, body: {} });
  await emit(options.out ?? 'text', { info }, () => `token ${info.id} "${info.name}" revoked`);
  return 0;
}

function until(token: TokenView): string {
  return token.validUntil === undefined ? '' : ` until ${new Date(token.validUntil).toISOString()}`;
}
