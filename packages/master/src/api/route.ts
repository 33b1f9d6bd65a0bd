import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Role } from './auth.js';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

/**
 * On every API answer, the streams' included (they are written past fastify's hooks): they carry
 * tokens' effects and the fleet's state, so no cache keeps them and no browser sniffs them.
 */
export const API_ANSWER_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

type Schema = z.ZodType | undefined;
type Parsed<S extends Schema> = S extends z.ZodType ? z.output<S> : undefined;

/**
 * One API route: its input schemas (path, query, body) and output schema are the only description
 * of it, used both to validate requests and to write the OpenAPI document, so the two never drift.
 */
export interface RouteSpec<P extends Schema = Schema, Q extends Schema = Schema, B extends Schema = Schema> {
  method: 'GET' | 'POST';
  /** Relative to the API prefix (`/api/v1`) unless `absolute`. */
  url: string;
  absolute?: boolean;
  summary: string;
  tag: string;
  /** `open`: no token needed (only the health probes). */
  role: Role | 'open';
  params?: P;
  query?: Q;
  body?: B;
  /** The success status and the shape of its JSON body; `stream` routes answer text/event-stream. */
  status?: number;
  response: z.ZodType;
  stream?: boolean;
  /** Content type of a non-JSON answer (the metrics text). */
  produces?: string;
  handler(
    input: { params: Parsed<P>; query: Parsed<Q>; body: Parsed<B> },
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<unknown>;
}

export type AnyRoute = RouteSpec<Schema, Schema, Schema>;

export function route<P extends Schema = undefined, Q extends Schema = undefined, B extends Schema = undefined>(
  spec: RouteSpec<P, Q, B>,
): AnyRoute {
  return spec as unknown as AnyRoute;
}

export const API_PREFIX = '/api/v1';

export function fullPath(spec: AnyRoute): string {
  return spec.absolute === true ? spec.url : `${API_PREFIX}${spec.url}`;
}

/** Parses a request part with its schema; a mismatch is a 400 naming the field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new PhoenixError(MasterErrors.PHX_API_BAD_REQUEST, `invalid ${where}: ${describeIssues(result.error.issues)}`);
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      const where = path === '' ? '' : `"${path}": `;
      return issue.code === 'unrecognized_keys'
        ? `${where}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : `${path === '' ? '' : where}${issue.message}`;
    })
    .join('; ');
}

/** Registers routes: auth pre-handler by role, input validation, and an output check against the schema. */
export function mountRoutes(
  app: FastifyInstance,
  routes: readonly AnyRoute[],
  requireRole: (role: Role) => preHandlerHookHandler,
  log: Logger,
): void {
  for (const spec of routes) {
    app.route({
      method: spec.method,
      url: fullPath(spec),
      ...(spec.role === 'open' ? {} : { preHandler: requireRole(spec.role) }),
      handler: async (request, reply) => {
        const input = {
          params: spec.params === undefined ? undefined : validate(spec.params, request.params, 'path'),
          query: spec.query === undefined ? undefined : validate(spec.query, request.query, 'query'),
          body: spec.body === undefined ? undefined : validate(spec.body, request.body ?? {}, 'body'),
        };
        const result = await spec.handler(input, request, reply);
        if (spec.stream === true || reply.sent) return reply;
        // The schema is the contract the OpenAPI document promises: a drift is a bug worth a loud line,
        // but the caller still gets its answer.
        const checked = spec.response.safeParse(result);
        if (!checked.success) {
          log.error(
            { route: `${spec.method} ${fullPath(spec)}`, problems: describeIssues(checked.error.issues) },
            'response does not match its schema',
          );
        }
        if (spec.produces !== undefined) void reply.type(spec.produces);
        return reply.status(spec.status ?? 200).send(result);
      },
    });
  }
}
