import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';

/** Keys: listing for readers, changes for admins; a change takes effect on every master. */
export function keyRoutes(deps: ApiContext): AnyRoute[] {
  return [
    route('listKeys', async ({ query }) => ({ keys: await deps.keys.list(query.match, query.state) })),
    route('changeKeys', async ({ params, body }, request) => {
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
    }),
  ];
}
