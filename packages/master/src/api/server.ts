import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { isPhoenixError } from '@phoenix/protocol';
import type { ApiToken } from '../config.js';
import { MasterError, MasterErrorCodes } from '../errors.js';
import type { JobService } from '../jobs.js';
import type { KeyRegistry } from '../keys.js';
import type { MasterView } from '../registry.js';
import { authenticator } from './auth.js';
import { jobRoutes } from './jobs.js';
import { keyRoutes } from './keys.js';

export interface ApiDeps {
  masterId: string;
  tokens: readonly ApiToken[];
  keys: KeyRegistry;
  jobs: JobService;
  masters: () => Promise<MasterView[]>;
  defaultJobTimeoutMs: number;
  log: Logger;
}

const STATUS: Record<string, number> = {
  [MasterErrorCodes.UNAUTHORIZED]: 401,
  [MasterErrorCodes.FORBIDDEN]: 403,
  [MasterErrorCodes.NOT_FOUND]: 404,
  [MasterErrorCodes.BAD_REQUEST]: 400,
  [MasterErrorCodes.NO_MINIONS]: 404,
  PHX_TARGET_INVALID: 400,
};

/** Parses a request part with its schema; a mismatch is a 400 naming the field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return issue.code === 'unrecognized_keys'
      ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
      : `${path === '' ? where : `"${path}"`}: ${issue.message}`;
  });
  throw new MasterError(MasterErrorCodes.BAD_REQUEST, `invalid ${where}: ${problems.join('; ')}`);
}

/** The master's HTTP API: any master answers for the whole cluster. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  // Per-request lines only at warn and above: the audit lines say who did what.
  const logger = deps.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger;
  const app = Fastify({ loggerInstance: logger, bodyLimit: 1024 * 1024 });
  const requireRole = authenticator(deps.tokens);

  app.setErrorHandler((err, request, reply) => {
    if (isPhoenixError(err)) {
      void reply.status(STATUS[err.code] ?? 500).send({ error: err.toJSON() });
      return;
    }
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err }, 'request failed');
    const code =
      status === 413 ? 'PHX_API_BODY_TOO_LARGE' : status < 500 ? MasterErrorCodes.BAD_REQUEST : 'PHX_API_INTERNAL';
    void reply
      .status(status)
      .send({ error: { code, message: status < 500 ? (err as Error).message : 'internal error' } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .status(404)
      .send({ error: { code: MasterErrorCodes.NOT_FOUND, message: `no route ${request.method} ${request.url}` } });
  });

  app.get('/healthz', async () => ({ status: 'ok', masterId: deps.masterId }));
  void app.register(keyRoutes(deps, requireRole), { prefix: '/api/v1' });
  app.get('/api/v1/masters', { preHandler: requireRole('read') }, async () => ({ masters: await deps.masters() }));
  void app.register(jobRoutes(deps, requireRole), { prefix: '/api/v1' });
  return app;
}
