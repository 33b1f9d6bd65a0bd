import { z } from 'zod';
import { openApiDocument } from './openapi.js';
import { route, type AnyRoute } from './route.js';
import { MasterViewSchema } from './schemas.js';
import type { ApiContext } from './context.js';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

/** Health probes (open), the masters list, the caller's role, metrics and the OpenAPI document (read role). */
export function systemRoutes(deps: ApiContext, all: () => readonly AnyRoute[]): AnyRoute[] {
  let document: Record<string, unknown> | undefined;
  return [
    route({
      method: 'GET',
      url: '/healthz',
      absolute: true,
      summary: 'liveness: the process answers',
      tag: 'system',
      role: 'open',
      response: z.object({ status: z.literal('ok'), masterId: z.string() }),
      handler: async () => ({ status: 'ok' as const, masterId: deps.masterId }),
    }),
    route({
      method: 'GET',
      url: '/readyz',
      absolute: true,
      summary: 'readiness: the masters table answers and this master is live in it (503 otherwise)',
      tag: 'system',
      role: 'open',
      response: z.object({ status: z.literal('ready'), masterId: z.string() }),
      handler: async () => {
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
      },
    }),
    route({
      method: 'GET',
      url: '/masters',
      summary: 'every master in the masters table with its liveness',
      tag: 'masters',
      role: 'read',
      response: z.object({ masters: z.array(MasterViewSchema) }),
      handler: async () => ({ masters: await deps.masters() }),
    }),
    route({
      method: 'GET',
      url: '/whoami',
      summary: "the caller's token name and role, and the master answering (the dashboard shows what a role allows)",
      tag: 'system',
      role: 'read',
      response: z.object({ name: z.string(), role: z.enum(['read', 'operate', 'admin']), masterId: z.string() }),
      handler: async (_input, request) => ({
        name: request.caller?.name ?? 'unknown',
        role: request.caller?.role ?? 'read',
        masterId: deps.masterId,
      }),
    }),
    route({
      method: 'GET',
      url: '/openapi.json',
      summary: 'this document',
      tag: 'system',
      role: 'read',
      response: z.record(z.string(), z.unknown()),
      handler: async () => (document ??= openApiDocument(all(), deps.version)),
    }),
    route({
      method: 'GET',
      url: '/metrics',
      absolute: true,
      summary: "this master's metrics in the Prometheus text format",
      tag: 'system',
      role: 'read',
      produces: 'text/plain; version=0.0.4; charset=utf-8',
      response: z.string(),
      handler: async () => deps.metrics.registry.metrics(),
    }),
  ];
}
