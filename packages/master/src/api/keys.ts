import { z } from 'zod';
import { KeyStateSchema } from '@phoenix/protocol';
import { route, type AnyRoute } from './route.js';
import { KeyChangeSchema, KeyInfoSchema } from './schemas.js';
import type { ApiContext } from './context.js';

const Pattern = z.string().min(1).max(1024);
const ListQuery = z.strictObject({ match: Pattern.default('*'), state: KeyStateSchema.optional() });
const ActionBody = z.strictObject({
  match: Pattern,
  /** accept: also rejected keys; reject: also accepted keys (salt-key's --include-rejected / --include-accepted). */
  include: z.boolean().default(false),
  /** Only the key with this fingerprint (as listed): how an operator settles a contested id. */
  fingerprint: z
    .string()
    .regex(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/, 'a key fingerprint as listed (32 hex pairs)')
    .optional(),
});
const ActionParams = z.strictObject({ action: z.enum(['accept', 'reject', 'delete']) });

/** Keys: listing for readers, changes for admins; a change takes effect on every master. */
export function keyRoutes(deps: ApiContext): AnyRoute[] {
  return [
    route({
      method: 'GET',
      url: '/keys',
      summary: 'minion keys whose id matches a glob, optionally in one state',
      tag: 'keys',
      role: 'read',
      query: ListQuery,
      response: z.object({ keys: z.array(KeyInfoSchema) }),
      handler: async ({ query }) => ({ keys: await deps.keys.list(query.match, query.state) }),
    }),
    route({
      method: 'POST',
      url: '/keys/:action',
      summary: 'accept, reject or delete the keys matching a glob (audited); accept also lifts a quarantine',
      tag: 'keys',
      role: 'admin',
      params: ActionParams,
      body: ActionBody,
      response: z.object({ changes: z.array(KeyChangeSchema) }),
      handler: async ({ params, body }, request) => {
        const changes = await deps.keys.apply(params.action, body.match, body.include, Date.now(), body.fingerprint);
        deps.log.info(
          {
            audit: 'keys',
            action: params.action,
            match: body.match,
            ...(body.fingerprint === undefined ? {} : { fingerprint: body.fingerprint }),
            by: request.caller?.name,
            changed: changes.map((c) => c.minionId),
          },
          'key action',
        );
        return { changes };
      },
    }),
  ];
}
