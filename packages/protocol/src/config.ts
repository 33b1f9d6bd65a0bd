import type { z } from 'zod';
import { PhoenixError, ProtocolErrorCodes } from './errors.js';

/**
 * Validates a configuration object against its schema. Every problem is named by its key path
 * and the source it came from (a file path, "environment", "command line"), so an operator can
 * fix the right line without guessing.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
      return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
    }
    return `${path ? `"${path}"` : 'value'}: ${issue.message}`;
  });
  throw new PhoenixError(
    ProtocolErrorCodes.CONFIG_INVALID,
    `invalid configuration in ${source}: ${problems.join('; ')}`,
    {
      details: { source, problems },
    },
  );
}

/**
 * Environment overrides for a config object: `<PREFIX>ports__api=0` sets `ports.api` to 0. Path
 * parts are separated by a double underscore and values are read as YAML scalars would be
 * (numbers, booleans, null, else strings), or as JSON when they start with `[` or `{`. The
 * schema then validates the result, so an override of an unknown key is named like a file's.
 */
export function applyEnvOverrides(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  prefix: string,
): Record<string, unknown> {
  const result = structuredClone(config);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const path = name
      .slice(prefix.length)
      .split('__')
      .filter((part) => part !== '');
    const last = path.pop();
    if (last === undefined) continue;
    let node: Record<string, unknown> = result;
    for (const part of path) {
      const next = node[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[last] = scalar(raw, name);
  }
  return result;
}

function scalar(raw: string, name: string): unknown {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw.startsWith('[') || raw.startsWith('{')) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new PhoenixError(ProtocolErrorCodes.CONFIG_INVALID, `invalid configuration in ${name}: not valid JSON`);
    }
  }
  return raw;
}
