import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { z } from 'zod';
import { PhoenixError, ProtocolErrors } from './errors.js';

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
    ProtocolErrors.PHX_CONFIG_INVALID,
    `invalid configuration in ${source}: ${problems.join('; ')}`,
    {
      details: { source, problems },
    },
  );
}

/**
 * Environment overrides for a config object: `<PREFIX>ports__api=0` sets `ports.api` to 0. Path
 * parts are separated by a double underscore. The schema says how a value is read: as JSON where
 * the key holds an object, a record or an array; as it is where it holds a string (a Z85 key may
 * start with `[` or `{`, an id may look like a number); else as a YAML scalar would be (numbers,
 * booleans, null, else strings). The schema then validates the result, so an override of an
 * unknown key is named like a file's.
 */
export function applyEnvOverrides(
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  prefix: string,
  schema?: z.ZodType,
): Record<string, unknown> {
  const result = structuredClone(config);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(prefix) || raw === undefined) continue;
    const path = name
      .slice(prefix.length)
      .split('__')
      .filter((part) => part !== '');
    const last = path.at(-1);
    if (last === undefined) continue;
    let node: Record<string, unknown> = result;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[last] = readOverride(raw, name, schema === undefined ? 'scalar' : expectedKind(schema, path));
  }
  return result;
}

type ValueKind = 'json' | 'string' | 'scalar';

function readOverride(raw: string, name: string, kind: ValueKind): unknown {
  if (kind === 'string') return raw;
  if (kind === 'json') {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new PhoenixError(ProtocolErrors.PHX_CONFIG_INVALID, `invalid configuration in ${name}: not valid JSON`);
    }
  }
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  return raw;
}

/** The zod definition fields this walk reads (zod 4 keeps them on `_zod.def`). */
interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType;
  options?: readonly z.ZodType[];
  getter?: () => z.ZodType;
}

function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;
}

/** Wrappers that hold one schema: optional, default, nullable, a pipe's input, a lazy's target. */
function unwrap(schema: z.ZodType): z.ZodType {
  for (let depth = 0; depth < 32; depth++) {
    const def = defOf(schema);
    const inner = def.innerType ?? def.in ?? def.getter?.();
    if (inner === undefined) return schema;
    schema = inner;
  }
  return schema;
}

/** What the key at `path` holds, as far as the schema says; a key it does not know reads as a scalar. */
function expectedKind(schema: z.ZodType, path: readonly string[]): ValueKind {
  let node: z.ZodType | undefined = unwrap(schema);
  for (const part of path) {
    const def = defOf(node);
    node = def.type === 'object' ? def.shape?.[part] : def.type === 'record' ? def.valueType : undefined;
    if (node === undefined) return 'scalar';
    node = unwrap(node);
  }
  return kindOf(node);
}

function kindOf(schema: z.ZodType): ValueKind {
  const def = defOf(unwrap(schema));
  if (['object', 'record', 'array', 'tuple', 'map', 'set'].includes(def.type)) return 'json';
  if (def.type === 'string' || def.type === 'template_literal') return 'string';
  if (def.type === 'union') {
    const kinds = (def.options ?? []).map(kindOf);
    if (kinds.includes('json')) return 'json';
    if (kinds.length > 0 && kinds.every((kind) => kind === 'string')) return 'string';
  }
  return 'scalar';
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
      throw new PhoenixError(ProtocolErrors.PHX_CONFIG_UNREADABLE, `cannot read ${path}: ${(err as Error).message}`);
    }
    try {
      fromFile = parse(text) ?? {};
    } catch (err) {
      throw new PhoenixError(
        ProtocolErrors.PHX_CONFIG_INVALID,
        `invalid configuration in ${path}: ${(err as Error).message}`,
      );
    }
    if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new PhoenixError(ProtocolErrors.PHX_CONFIG_INVALID, `invalid configuration in ${path}: not a mapping`);
    }
  }
  const merged = applyEnvOverrides(fromFile as Record<string, unknown>, env, envPrefix, schema);
  const touched = Object.keys(env).some((name) => name.startsWith(envPrefix));
  const source = path === undefined ? 'the environment' : touched ? `${path} (with ${envPrefix}* overrides)` : path;
  return parseConfig(schema, merged, source);
}
