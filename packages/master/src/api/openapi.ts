import { z } from 'zod';
import { fullPath, type AnyRoute } from './route.js';

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

const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});

/** The OpenAPI 3.1 document of every route, written from the same schemas that validate requests. */
export function openApiDocument(routes: readonly AnyRoute[], version: string): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  const error = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  for (const spec of routes) {
    const path = fullPath(spec).replace(/:([A-Za-z_]+)/g, '{$1}');
    const success =
      spec.stream === true
        ? {
            description: 'a server-sent-events stream',
            content: { 'text/event-stream': { schema: jsonSchema(spec.response, 'output') } },
          }
        : {
            description: 'success',
            content: { [spec.produces ?? 'application/json']: { schema: jsonSchema(spec.response, 'output') } },
          };
    paths[path] = {
      ...paths[path],
      [spec.method.toLowerCase()]: {
        summary: spec.summary,
        tags: [spec.tag],
        operationId: `${spec.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
        // Every operation names its least role, `open` included, so a client can tell before it calls.
        'x-phoenix-role': spec.role,
        ...(spec.role === 'open' ? { security: [] } : {}),
        parameters: [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')],
        ...(spec.body === undefined
          ? {}
          : {
              requestBody: {
                required: false,
                content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } },
              },
            }),
        responses: {
          [String(spec.status ?? 200)]: success,
          ...(spec.body === undefined && spec.query === undefined && spec.params === undefined
            ? {}
            : { '400': { description: 'the request does not match its schema', ...error } }),
          ...(spec.role === 'open'
            ? {}
            : {
                '401': { description: 'no token, or not a valid one', ...error },
                '403': { description: `the token's role is below ${spec.role}`, ...error },
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
      schemas: { Error: jsonSchema(ErrorBody, 'output') },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
