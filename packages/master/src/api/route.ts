import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { hasZodFastifySchemaValidationErrors, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  CONTRACT,
  ROUTES,
  fullPath,
  type RouteInfo,
  type RouteName,
  type RouteOutput,
  type RouteParsed,
  type RouteSchemas,
  type StreamRouteName,
} from '@phoenix/api';
import type { Role } from './auth.js';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

/**
 * On every API answer, the streams' included (they are written past fastify's hooks): they carry
 * tokens' effects and the fleet's state, so no cache keeps them and no browser sniffs them.
 */
export const API_ANSWER_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

type Handler<K extends RouteName> = (
  input: RouteParsed<K>,
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<K extends StreamRouteName ? FastifyReply : RouteOutput<K>>;

/** One route of the contract (`@phoenix/api`) with what this master does when it is called. */
export interface AnyRoute {
  name: RouteName;
  handler(
    input: { params: unknown; query: unknown; body: unknown },
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<unknown>;
}

/** The handler of the contract's route `name`: it gets the request's parts as its schemas parsed them. */
export function route<K extends RouteName>(name: K, handler: Handler<K>): AnyRoute {
  return { name, handler: handler as unknown as AnyRoute['handler'] };
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      const where = path === '' ? '' : `"${path}": `;
      return issue.code === 'unrecognized_keys'
        ? `${where}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : `${where}${issue.message}`;
    })
    .join('; ');
}

const PARTS: Record<string, string> = { params: 'path', querystring: 'query', body: 'body', headers: 'headers' };

/**
 * The error fastify's validation (the contract's zod schemas, through fastify-type-provider-zod)
 * raised, as the API's own: PHX_API_BAD_REQUEST naming the part and the fields. Anything else is
 * returned as it is.
 */
export function requestRefusal(err: unknown): unknown {
  if (!hasZodFastifySchemaValidationErrors(err)) return err;
  const where = PARTS[(err as { validationContext?: string }).validationContext ?? ''] ?? 'request';
  const problems = err.validation.map((entry) => {
    const path = entry.instancePath
      .split('/')
      .filter((part) => part !== '')
      .join('.');
    const at = path === '' ? '' : `"${path}": `;
    const keys = (entry.params as { keys?: unknown }).keys;
    return entry.keyword === 'unrecognized_keys' && Array.isArray(keys)
      ? `${at}unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${String(k)}"`).join(', ')}`
      : `${at}${entry.message}`;
  });
  return new PhoenixError(MasterErrors.PHX_API_BAD_REQUEST, `invalid ${where}: ${problems.join('; ')}`);
}

/**
 * Registers routes: the token's role is checked first (preValidation: a caller without the role
 * learns nothing of the schemas), then fastify validates the path, query and body with the
 * contract's schemas, and the answer is checked against its schema.
 */
export function mountRoutes(
  app: FastifyInstance,
  routes: readonly AnyRoute[],
  requireRole: (role: Role) => preHandlerHookHandler,
  log: Logger,
): void {
  app.setValidatorCompiler(validatorCompiler);
  for (const spec of routes) {
    const info: RouteInfo = ROUTES[spec.name];
    const schemas: RouteSchemas = CONTRACT[spec.name];
    const where = `${info.method} ${fullPath(info)}`;
    app.route({
      method: info.method,
      url: fullPath(info),
      schema: {
        ...(schemas.params === undefined ? {} : { params: schemas.params }),
        ...(schemas.query === undefined ? {} : { querystring: schemas.query }),
        ...(schemas.body === undefined ? {} : { body: schemas.body }),
      },
      preValidation: [
        ...(info.role === 'open' ? [] : [requireRole(info.role)]),
        // A POST with no body at all is an empty object, so its schema says what is missing.
        ...(schemas.body === undefined ? [] : [emptyBody]),
      ],
      handler: async (request, reply) => {
        const input = {
          params: schemas.params === undefined ? undefined : request.params,
          query: schemas.query === undefined ? undefined : request.query,
          body: schemas.body === undefined ? undefined : request.body,
        };
        const result = await spec.handler(input, request, reply);
        if (info.stream === true || reply.sent) return reply;
        // The schema is the contract the OpenAPI document promises: a drift is a bug worth a loud line,
        // but the caller still gets its answer.
        const checked = schemas.response.safeParse(result);
        if (!checked.success) {
          log.error(
            { route: where, problems: describeIssues(checked.error.issues) },
            'response does not match its schema',
          );
        }
        if (info.produces !== undefined) void reply.type(info.produces);
        return reply.status(info.status ?? 200).send(result);
      },
    });
  }
}

async function emptyBody(request: FastifyRequest): Promise<void> {
  request.body ??= {};
}
