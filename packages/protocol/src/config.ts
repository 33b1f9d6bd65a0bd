import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
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

/**
 * A process's configuration: the YAML file (optional), then `<prefix>…` environment overrides,
 * then the schema. Errors name the file, the environment variable or the key at fault.
 */
export async function loadConfig<S extends z.ZodType>(
  schema: S,
  path: string | undefined,
  env: NodeJS.ProcessEnv,
  envPrefix: string,
): Promise<z.output<S>> {
  let fromFile: unknown = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new PhoenixError(ProtocolErrorCodes.CONFIG_UNREADABLE, `cannot read ${path}: ${(err as Error).message}`);
    }
    try {
      fromFile = parse(text) ?? {};
    } catch (err) {
      throw new PhoenixError(
        ProtocolErrorCodes.CONFIG_INVALID,
        `invalid configuration in ${path}: ${(err as Error).message}`,
      );
    }
    if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new PhoenixError(ProtocolErrorCodes.CONFIG_INVALID, `invalid configuration in ${path}: not a mapping`);
    }
  }
  const merged = applyEnvOverrides(fromFile as Record<string, unknown>, env, envPrefix);
  const touched = Object.keys(env).some((name) => name.startsWith(envPrefix));
  const source = path === undefined ? 'the environment' : touched ? `${path} (with ${envPrefix}* overrides)` : path;
  return parseConfig(schema, merged, source);
}
