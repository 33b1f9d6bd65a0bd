import { z } from 'zod';
import { CONTRACT } from './contract.js';
import { ROUTES, fullPath, type RouteName } from './routes.js';
import { ErrorBodySchema } from './schemas.js';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** Path and query parameters from an object schema, one OpenAPI parameter per property. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (schema === undefined) return [];
  const object = jsonSchema(schema, 'input');
  const properties = (object.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((object.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
    ...(Array.isArray(property.type) || property.type === 'array' || property.anyOf !== undefined
      ? { style: 'form', explode: true }
      : {}),
  }));
}

/**
 * The OpenAPI 3.1 document of the named routes (a master lists those it serves), written from the
 * same schemas that validate requests, so the two never drift.
 */
export function openApiDocument(names: readonly RouteName[], version: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  const error = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  for (const name of names) {
    const info: (typeof ROUTES)[RouteName] & { status?: number; stream?: true; produces?: string } = ROUTES[name];
    const schemas: { params?: z.ZodType; query?: z.ZodType; body?: z.ZodType; response: z.ZodType } = CONTRACT[name];
    const path = fullPath(info).replace(/:([A-Za-z_]+)/g, '{$1}');
    const success =
      info.stream === true
        ? {
            description: 'a server-sent-events stream',
            content: { 'text/event-stream': { schema: jsonSchema(schemas.response, 'output') } },
          }
        : {
            description: 'success',
            content: { [info.produces ?? 'application/json']: { schema: jsonSchema(schemas.response, 'output') } },
          };
    paths[path] = {
      ...paths[path],
      [info.method.toLowerCase()]: {
        summary: info.summary,
        tags: [info.tag],
        operationId: `${info.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
        // Every operation names its least role, `open` included, so a client can tell before it calls.
        'x-phoenix-role': info.role,
        ...(info.role === 'open' ? { security: [] } : {}),
        parameters: [...parameters(schemas.params, 'path'), ...parameters(schemas.query, 'query')],
        ...(schemas.body === undefined
          ? {}
          : {
              requestBody: {
                required: false,
                content: { 'application/json': { schema: jsonSchema(schemas.body, 'input') } },
              },
            }),
        responses: {
          [String(info.status ?? 200)]: success,
          ...(schemas.body === undefined && schemas.query === undefined && schemas.params === undefined
            ? {}
            : { '400': { description: 'the request does not match its schema', ...error } }),
          ...(info.role === 'open'
            ? {}
            : {
                '401': { description: 'no token, or not a valid one', ...error },
                '403': { description: `the token's role is below ${info.role}`, ...error },
                '429': { description: 'too many failed authentications from this address', ...error },
              }),
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Phoenix master API',
      version,
      description:
        'Any master answers for the whole cluster. Bearer tokens with roles read < operate < admin; ' +
        'x-phoenix-role names the least role each operation needs (open: no token). Only /healthz and /readyz ' +
        'are open. A minion an admin disabled can be enabled by an admin only (POST /minions/{id}/enable, or a ' +
        'state.enable job from an admin token); below admin, a state.enable job skips it.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: jsonSchema(ErrorBodySchema, 'output') },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
