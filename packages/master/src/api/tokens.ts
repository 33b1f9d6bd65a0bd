import type { ApiTokenRecord } from '@phoenix/store';
import type { TokenView } from '@phoenix/api';
import { roleAtLeast } from './auth.js';
import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';
import type { TokenRegistry } from './token-registry.js';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

function view(record: ApiTokenRecord, now: number): TokenView {
  const { sha256: _hash, ...rest } = record;
  const state =
    record.revokedAt !== undefined
      ? 'revoked'
      : record.validUntil !== undefined && record.validUntil <= now
        ? 'expired'
        : 'active';
  return { ...rest, state };
}

/** Tokens: made, listed and revoked by admins (audited); the token itself is shown once, at creation. */
export function tokenRoutes(deps: ApiContext, tokens: TokenRegistry): AnyRoute[] {
  return [
    route('createToken', async ({ body }, request) => {
      const by = request.caller?.name ?? 'unknown';
      if (!roleAtLeast(request.caller, body.role)) {
        throw new PhoenixError(
          MasterErrors.PHX_API_FORBIDDEN,
          `a ${request.caller?.role} token cannot make a ${body.role} token`,
        );
      }
      const { token, record } = await tokens.create({ ...body, by });
      deps.log.info(
        { audit: 'token', action: 'create', id: record.id, name: record.name, role: record.role, by },
        'token made',
      );
      deps.events.emit('token/created', { id: record.id, name: record.name, role: record.role, by });
      return { token, info: view(record, Date.now()) };
    }),
    route('listTokens', async () => {
      const now = Date.now();
      const all = await tokens.list();
      return { tokens: all.sort((a, b) => a.createdAt - b.createdAt).map((record) => view(record, now)) };
    }),
    route('revokeToken', async ({ params }, request) => {
      const by = request.caller?.name ?? 'unknown';
      const record = await tokens.revoke(params.id, by);
      deps.log.info({ audit: 'token', action: 'revoke', id: record.id, name: record.name, by }, 'token revoked');
      deps.events.emit('token/revoked', { id: record.id, name: record.name, by });
      return { info: view(record, Date.now()) };
    }),
  ];
}
