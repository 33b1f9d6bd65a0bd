import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { checkValue, DATA_LIMITS, isPhoenixError, type DataLimits, PhoenixError } from '@phoenix/protocol';
import { authenticator, staticTokens } from './auth.js';
import type { ApiContext, ApiDeps } from './context.js';
import { AuthFailureLimiter } from './auth-failures.js';
import { mountDashboard } from './dashboard.js';
import { eventRoutes } from './event-stream.js';
import { fileServerRoutes } from './fileserver.js';
import { jobRoutes } from './jobs.js';
import { keyRoutes } from './keys.js';
import { createMetrics } from './metrics.js';
import { minionRoutes } from './minions.js';
import { runRoutes } from './runs.js';
import { API_ANSWER_HEADERS, mountRoutes, requestRefusal, type AnyRoute } from './route.js';
import { systemRoutes } from './system.js';
import { tokenRoutes } from './tokens.js';
import { MasterErrors } from '../errors.js';

/** Request bodies: a job's arguments (DATA_LIMITS) plus the body's own levels around them. */
export const API_BODY_LIMITS: DataLimits = Object.freeze({ ...DATA_LIMITS, maxDepth: DATA_LIMITS.maxDepth + 8 });

/** The master's HTTP API: any master answers for the whole cluster. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  // Per-request lines only at warn and above: the audit lines say who did what.
  const logger = deps.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger;
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: deps.bodyLimitBytes ?? 1024 * 1024,
    ...(deps.https === undefined ? {} : { https: deps.https }),
  }) as unknown as FastifyInstance;
  const metrics = createMetrics({
    masterId: deps.masterId,
    connectedMinions: deps.connectedMinions,
    events: deps.events,
    ...(deps.refusals === undefined ? {} : { refusals: deps.refusals }),
    ...(deps.fileServer?.sent === undefined ? {} : { fileSent: deps.fileServer.sent }),
    ...(deps.tableReads === undefined ? {} : { tableReads: deps.tableReads }),
  });
  const failures = new AuthFailureLimiter(deps.authFailures ?? { maxFailures: 20, windowMs: 60_000 });
  const fromConfig = staticTokens(deps.tokens);
  const requireRole = authenticator(
    async (token) => fromConfig(token) ?? (await deps.apiTokens?.verify(token)),
    failures,
    (reason) => metrics.authFailures.inc({ reason }),
  );
  const streams = new Set<() => void>();
  const streamsOf = new Map<string, number>();
  const streamsPerToken = deps.streamsPerToken ?? 32;
  const context: ApiContext = {
    ...deps,
    metrics,
    onStreamOpen(end, owner) {
      const open = streamsOf.get(owner) ?? 0;
      if (open >= streamsPerToken) {
        deps.refusals?.count('stream', 'per-token');
        throw new PhoenixError(
          MasterErrors.PHX_API_RATE_LIMITED,
          `token "${owner}" holds ${open} open streams already (the limit is ${streamsPerToken}); close one first`,
          { details: { retryAfterSeconds: 5 } },
        );
      }
      streamsOf.set(owner, open + 1);
      streams.add(end);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        streams.delete(end);
        const left = (streamsOf.get(owner) ?? 1) - 1;
        if (left === 0) streamsOf.delete(owner);
        else streamsOf.set(owner, left);
      };
    },
  };

  // JSON bodies are parsed as always (prototype poisoning refused), then bounded before any schema,
  // handler or store walks them: a body nested 500,000 deep is a 400, not a stack overflow.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parseJson(request, body.toString(), (err, value) => {
      if (err !== null) return done(err);
      const violation = checkValue(value, API_BODY_LIMITS);
      if (violation === undefined) return done(null, value);
      deps.refusals?.count('api', violation.reason);
      done(new PhoenixError(MasterErrors.PHX_INPUT_OVER_LIMIT, `request body refused: ${violation.message}`));
    });
  });

  // Key changes made here or told by a peer: one event each (`key/accepted` and the like come from
  // the reactor's own decisions; this is the change itself, whoever made it).
  const stopKeys = deps.keys.onChange((change, local) => {
    deps.events.emit('key/changed', { ...change, local });
  });

  app.setErrorHandler((raised, request, reply) => {
    const err = requestRefusal(raised);
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
  // The dashboard's own files (no data in them) may be cached; nothing else.
  app.addHook('onSend', async (request, reply, payload) => {
    void reply.header('x-content-type-options', API_ANSWER_HEADERS['x-content-type-options']);
    if (!request.url.startsWith('/ui/') && request.url !== '/')
      void reply.header('cache-control', API_ANSWER_HEADERS['cache-control']);
    return payload;
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
    ...runRoutes(context),
    ...eventRoutes(context),
    ...fileServerRoutes(context),
    ...(deps.apiTokens === undefined ? [] : tokenRoutes(context, deps.apiTokens)),
  );
  mountRoutes(app, routes, requireRole, deps.log.child({ component: 'api' }));
  if (deps.dashboard !== false) mountDashboard(app, deps.log.child({ component: 'dashboard' }));
  return app;
}
