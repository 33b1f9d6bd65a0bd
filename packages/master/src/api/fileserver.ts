import { z } from 'zod';
import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';

const GitRootStatusSchema = z.object({
  key: z.string(),
  url: z.string(),
  ref: z.string(),
  commit: z.string().optional(),
  error: z.string().optional(),
  fetchedAt: z.number().optional(),
});

/** Salt's `salt-run fileserver.update`: fetch the git roots now, on every master. */
export function fileServerRoutes(deps: ApiContext): AnyRoute[] {
  return [
    route({
      method: 'POST',
      url: '/fileserver/update',
      summary:
        'fetches the git roots now: this master waits for its own fetch and answers with it, the others are told to fetch too',
      tag: 'masters',
      role: 'operate',
      response: z.object({ masterId: z.string(), roots: z.array(GitRootStatusSchema) }),
      handler: async (_input, request) => {
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
      },
    }),
  ];
}
