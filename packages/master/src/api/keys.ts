import type { FastifyPluginAsync, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import { KeyStateSchema } from '@phoenix/protocol';
import type { Role } from './auth.js';
import { validate, type ApiDeps } from './server.js';

const Pattern = z.string().min(1).max(1024);
const ListQuery = z.strictObject({ match: Pattern.default('*'), state: KeyStateSchema.optional() });
const ActionBody = z.strictObject({
  match: Pattern,
  /** accept: also rejected keys; reject: also accepted keys (salt-key's --include-rejected / --include-accepted). */
  include: z.boolean().default(false),
});
const ActionParams = z.strictObject({ action: z.enum(['accept', 'reject', 'delete']) });

/** Keys: listing for readers, changes for admins; a change takes effect on every master. */
export function keyRoutes(deps: ApiDeps, requireRole: (role: Role) => preHandlerHookHandler): FastifyPluginAsync {
  return async (app) => {
    app.get('/keys', { preHandler: requireRole('read') }, async (request) => {
      const query = validate(ListQuery, request.query, 'query');
      return { keys: await deps.keys.list(query.match, query.state) };
    });

    app.post('/keys/:action', { preHandler: requireRole('admin') }, async (request) => {
      const { action } = validate(ActionParams, request.params, 'path');
      const body = validate(ActionBody, request.body ?? {}, 'body');
      const changes = await deps.keys.apply(action, body.match, body.include);
      deps.log.info(
        { audit: 'keys', action, match: body.match, by: request.caller?.name, changed: changes.map((c) => c.minionId) },
        'key action',
      );
      return { changes };
    });
  };
}
