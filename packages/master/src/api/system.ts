import { openApiDocument } from '@phoenix/api';
import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

/** Health probes (open), the masters list, the caller's role, metrics and the OpenAPI document (read role). */
export function systemRoutes(deps: ApiContext, all: () => readonly AnyRoute[]): AnyRoute[] {
  let document: Record<string, unknown> | undefined;
  return [
    route('health', async () => {
      if (deps.fileServer?.starting() === true) {
        throw new PhoenixError(
          MasterErrors.PHX_API_NOT_READY,
          `master ${deps.masterId} is starting: it does not yet serve the cluster's commit of its git roots`,
        );
      }
      return { status: 'ok' as const, masterId: deps.masterId };
    }),
    route('ready', async () => {
      const masters = await Promise.race([
        deps.masters(),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000).unref()),
      ]).catch(() => undefined);
      const self = masters?.find((m) => m.masterId === deps.masterId);
      if (self === undefined || self.liveness !== 'live') {
        throw new PhoenixError(
          MasterErrors.PHX_API_NOT_READY,
          masters === undefined
            ? 'the masters table did not answer'
            : `master ${deps.masterId} is ${self?.liveness ?? 'not yet registered'}`,
        );
      }
      return { status: 'ready' as const, masterId: deps.masterId };
    }),
    route('masters', async () => ({ masters: await deps.masters() })),
    route('whoami', async (_input, request) => ({
      name: request.caller?.name ?? 'unknown',
      role: request.caller?.role ?? 'read',
      masterId: deps.masterId,
    })),
    route(
      'openapi',
      async () =>
        (document ??= openApiDocument(
          all().map((spec) => spec.name),
          deps.version,
        )),
    ),
    route('metrics', async () => deps.metrics.registry.metrics()),
  ];
}
