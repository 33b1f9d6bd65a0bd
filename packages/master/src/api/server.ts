import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { isPhoenixError } from '@phoenix/protocol';
import { authenticator } from './auth.js';
import type { ApiContext, ApiDeps } from './context.js';
import { AuthFailureLimiter } from './auth-failures.js';
import { mountDashboard } from './dashboard.js';
import { eventRoutes } from './event-stream.js';
import { jobRoutes } from './jobs.js';
import { keyRoutes } from './keys.js';
import { createMetrics } from './metrics.js';
import { minionRoutes } from './minions.js';
import { mountRoutes, type AnyRoute } from './route.js';
import { systemRoutes } from './system.js';
import { MasterErrors } from '../errors.js';

export { validate } from './route.js';

/** The master's HTTP API: any master answers for the whole cluster. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  // Per-request lines only at warn and above: the audit lines say who did what.
  const logger = deps.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger;
  const app = Fastify({ loggerInstance: logger, bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024 });
  const metrics = createMetrics({
    masterId: deps.masterId,
    connectedMinions: deps.connectedMinions,
    events: deps.events,
  });
  const failures = new AuthFailureLimiter(deps.authFailures ?? { maxFailures: 20, windowMs: 60_000 });
  const requireRole = authenticator(deps.tokens, failures, (reason) => metrics.authFailures.inc({ reason }));
  const streams = new Set<() => void>();
  const context: ApiContext = {
    ...deps,
    metrics,
    onStreamOpen(end) {
      streams.add(end);
      return () => streams.delete(end);
    },
  };

  // Key changes made here or told by a peer: one event each (`key/accepted` and the like come from
  // the reactor's own decisions; this is the change itself, whoever made it).
  const stopKeys = deps.keys.onChange((change, local) => {
    deps.events.emit('key/changed', { ...change, local });
  });

  app.setErrorHandler((err, request, reply) => {
    if (isPhoenixError(err)) {
      // The status is the error table's (a code without one of its own answers 500).
      const status = err.status;
      if (status === 429) void reply.header('retry-after', String(err.details.retryAfterSeconds ?? 60));
      if (status >= 500) request.log.error({ err }, 'request failed');
      void reply.status(status).send({ error: err.toJSON() });
      return;
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err }, 'request failed');
    const code =
      status === 413
        ? MasterErrors.PHX_API_BODY_TOO_LARGE.code
        : status < 500
          ? MasterErrors.PHX_API_BAD_REQUEST.code
          : MasterErrors.PHX_API_INTERNAL.code;
    void reply
      .status(status)
      .send({ error: { code, message: status < 500 ? (err as Error).message : 'internal error' } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({
      error: { code: MasterErrors.PHX_API_NOT_FOUND.code, message: `no route ${request.method} ${request.url}` },
    });
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.requestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.addHook('preClose', async () => {
    for (const end of [...streams]) end();
  });
  app.addHook('onClose', async () => {
    stopKeys();
    metrics.close();
  });

  const routes: AnyRoute[] = [];
  routes.push(
    ...systemRoutes(context, () => routes),
    ...minionRoutes(context),
    ...keyRoutes(context),
    ...jobRoutes(context),
    ...eventRoutes(context),
  );
  mountRoutes(app, routes, requireRole, deps.log.child({ component: 'api' }));
  if (deps.dashboard !== false) mountDashboard(app, deps.log.child({ component: 'dashboard' }));
  return app;
}
