import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';

/** Salt's `salt-run fileserver.update`: fetch the git roots now, on every master. */
export function fileServerRoutes(deps: ApiContext): AnyRoute[] {
  return [
    route('fileServerUpdate', async (_input, request) => {
      deps.log.info(
        { audit: 'fileserver', action: 'update', by: request.caller?.name ?? 'unknown' },
        'file server update',
      );
      const roots = (await deps.fileServer?.update()) ?? [];
      return {
        masterId: deps.masterId,
        roots: roots.map((r) => ({
          key: r.key,
          url: r.url,
          ref: r.ref,
          ...(r.commit === undefined ? {} : { commit: r.commit }),
          ...(r.error === undefined ? {} : { error: r.error }),
          ...(r.fetchedAt === undefined ? {} : { fetchedAt: r.fetchedAt }),
        })),
      };
    }),
  ];
}
