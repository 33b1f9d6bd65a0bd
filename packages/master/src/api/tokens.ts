import { z } from 'zod';
import type { ApiTokenRecord } from '@phoenix/store';
import { roleAtLeast } from './auth.js';
import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';
import type { TokenRegistry } from './token-registry.js';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

const TokenView = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(['read', 'operate', 'admin']),
  createdAt: z.number(),
  createdBy: z.string(),
  validUntil: z.number().optional(),
  revokedAt: z.number().optional(),
  revokedBy: z.string().optional(),
  state: z.enum(['active', 'expired', 'revoked']),
});

function view(record: ApiTokenRecord, now: number): z.output<typeof TokenView> {
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
    route({
      method: 'POST',
      url: '/tokens',
      summary: 'make an API token (admin, audited); the answer holds the token, shown this once',
      tag: 'tokens',
      role: 'admin',
      status: 201,
      body: z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, '1-64 letters, digits, ".", "_", "@" or "-"'),
        role: z.enum(['read', 'operate', 'admin']),
        /** Without it the token works until revoked. */
        ttlSeconds: z
          .int()
          .min(1)
          .max(10 * 365 * 86_400)
          .optional(),
      }),
      response: z.object({ token: z.string(), info: TokenView }),
      handler: async ({ body }, request) => {
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
      },
    }),
    route({
      method: 'GET',
      url: '/tokens',
      summary: 'the API tokens made with phoenix tokens create (never the tokens themselves)',
      tag: 'tokens',
      role: 'admin',
      response: z.object({ tokens: z.array(TokenView) }),
      handler: async () => {
        const now = Date.now();
        const all = await tokens.list();
        return { tokens: all.sort((a, b) => a.createdAt - b.createdAt).map((record) => view(record, now)) };
      },
    }),
    route({
      method: 'POST',
      url: '/tokens/:id/revoke',
      summary: 'revoke an API token at once, on every master (admin, audited)',
      tag: 'tokens',
      role: 'admin',
      params: z.strictObject({ id: z.string().regex(/^[0-9a-f]{12}$/, 'a token id (12 hex digits)') }),
      body: z.strictObject({}),
      response: z.object({ info: TokenView }),
      handler: async ({ params }, request) => {
        const by = request.caller?.name ?? 'unknown';
        const record = await tokens.revoke(params.id, by);
        deps.log.info({ audit: 'token', action: 'revoke', id: record.id, name: record.name, by }, 'token revoked');
        deps.events.emit('token/revoked', { id: record.id, name: record.name, by });
        return { info: view(record, Date.now()) };
      },
    }),
  ];
}
