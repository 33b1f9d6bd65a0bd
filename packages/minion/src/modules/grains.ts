import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { ExecutionError } from './errors.js';
import { GrainValueSchema } from '../grains/types.js';
import { deepMerge, isMapping, traverse } from '@phoenix/state';
import { defineFunction } from './define-function.js';
import { globMatcher } from './glob.js';
import type { ExecutionModule, JobContext } from './types.js';

/** A mapping, or its YAML/JSON text from a command line. */
const Mapping = z.union([z.record(z.string(), z.unknown()), z.string()]).transform((value, ctx) => {
  if (typeof value !== 'string') return value;
  try {
    const parsed: unknown = parseYaml(value);
    if (isMapping(parsed)) return parsed;
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', message: 'must be a dictionary' });
  return z.NEVER;
});

/** Sets a possibly nested grain (`a:b:c`) by rewriting its top-level custom grain. */
async function setNested(ctx: JobContext, key: string, value: unknown, delimiter: string): Promise<void> {
  const [top, ...rest] = key.split(delimiter);
  if (top === undefined || top === '') throw new ExecutionError('a grain name must not be empty');
  if (rest.length === 0) {
    await ctx.grains.setval(top, value);
    return;
  }
  const base = ctx.grains.items()[top];
  const root: Record<string, unknown> = isMapping(base) ? structuredClone(base) : {};
  let node = root;
  for (const part of rest.slice(0, -1)) {
    const next = node[part];
    node[part] = isMapping(next) ? { ...next } : {};
    node = node[part] as Record<string, unknown>;
  }
  node[rest.at(-1) as string] = value;
  await ctx.grains.setval(top, root);
}

/** Salt's filter_by: the lookup entry matching the grain's value (exact, then glob), else `default`. */
export function filterBy(
  lookup: Record<string, unknown>,
  grainValue: unknown,
  options: { default: string; merge?: Record<string, unknown> | undefined; base?: string | undefined },
): unknown {
  const values = Array.isArray(grainValue)
    ? grainValue.map(String)
    : grainValue === undefined || grainValue === null
      ? []
      : [String(grainValue)];
  let found: unknown;
  outer: for (const value of values) {
    if (Object.hasOwn(lookup, value)) {
      found = lookup[value];
      break;
    }
    for (const key of Object.keys(lookup)) {
      if (globMatcher(key)(value)) {
        found = lookup[key];
        break outer;
      }
    }
  }
  if (found === undefined) found = lookup[options.default];
  if (options.base !== undefined && isMapping(lookup[options.base])) {
    const base = lookup[options.base] as Record<string, unknown>;
    found = isMapping(found) ? deepMerge(base, found) : found === undefined ? base : found;
  }
  if (options.merge !== undefined)
    found = isMapping(found) ? deepMerge(found, options.merge) : found === undefined ? options.merge : found;
  return found ?? null;
}

const Key = z.string().min(1);

/** Salt's grains module: read the minion's grains, and set or delete custom ones (persisted in the cache directory). */
export const grainsModule: ExecutionModule = Object.freeze({
  name: 'grains',
  functions: Object.freeze({
    items: defineFunction({
      doc: "Returns all grains: core grains gathered at start, overridden by custom grains.\n\nCLI Example: phoenix run '*' grains.items",
      schema: z.strictObject({}),
      run: (_args, ctx) => ctx.grains.items(),
    }),
    get: defineFunction({
      doc: `Returns one grain; nested values are reached with the delimiter (\`ip4_interfaces:eth0\`).

key: the grain, e.g. os or ip4_interfaces:eth0:0
default: returned when the grain does not exist (default "")
delimiter: separates the levels of a nested key (default ":")

CLI Example: phoenix run '*' grains.get os_family`,
      schema: z.strictObject({ key: Key, default: z.unknown().optional(), delimiter: z.string().min(1).default(':') }),
      run: ({ key, default: fallback, delimiter }, ctx) => {
        const found = ctx.grains.lookup(key, delimiter);
        return found.found ? found.value : (fallback ?? '');
      },
    }),
    setval: defineFunction({
      doc: `Sets a custom grain, saved in the minion's cache directory so it survives a restart, and reported to the master at once. Returns {key: val}.

key: the grain name (overrides a core grain of the same name; "id" cannot be set)
val: any value: string, number, boolean, list or mapping

CLI Example: phoenix run '*' grains.setval role web`,
      schema: z.strictObject({ key: Key, val: GrainValueSchema }),
      run: async ({ key, val }, ctx) => {
        await ctx.grains.setval(key, val);
        return { [key]: val };
      },
    }),
    delval: defineFunction({
      doc: `As Salt's: sets a custom grain's value to None (it stays, empty); with destructive=True deletes it, and a core grain it overrode shows again. Returns {key: value now}. Core grains cannot be deleted.

key: the grain name
destructive: delete the grain instead of emptying it

CLI Example: phoenix run '*' grains.delval role destructive=True`,
      schema: z.strictObject({ key: Key, destructive: z.boolean().default(false) }),
      run: async ({ key, destructive }, ctx) => {
        if (destructive) await ctx.grains.delval(key);
        else await ctx.grains.setval(key, null);
        const grains = ctx.grains.items();
        return { [key]: Object.hasOwn(grains, key) ? grains[key] : null };
      },
    }),
    delkey: defineFunction({
      doc: "Deletes a custom grain (grains.delval with destructive=True). Returns {key: value now}.\n\nCLI Example: phoenix run '*' grains.delkey role",
      schema: z.strictObject({ key: Key }),
      run: async ({ key }, ctx) => {
        await ctx.grains.delval(key);
        const grains = ctx.grains.items();
        return { [key]: Object.hasOwn(grains, key) ? grains[key] : null };
      },
    }),
    item: defineFunction({
      doc: "Returns {key: value} for each grain named ('' when missing); nested with ':'.\n\nCLI Example: phoenix run '*' grains.item os osrelease",
      schema: z.strictObject({
        args: z.array(Key),
        delimiter: z.string().min(1).default(':'),
        sanitize: z.boolean().optional(),
      }),
      varargs: 'args',
      run: ({ args, delimiter }, ctx) => {
        const grains = ctx.grains.items();
        return Object.fromEntries(args.map((key) => [key, traverse(grains, key, '', delimiter)]));
      },
    }),
    set: defineFunction({
      doc: `Sets a grain, nested with the delimiter (\`a:b:c\`). Returns {result, comment, changes}.

key, val: the grain and its value
force: replace a dict or list
delimiter: default ":"

CLI Example: phoenix run '*' grains.set 'apps:myApp:port' 2209`,
      schema: z.strictObject({
        key: Key,
        val: GrainValueSchema,
        force: z.boolean().default(false),
        destructive: z.boolean().default(false),
        delimiter: z.string().min(1).default(':'),
      }),
      run: async ({ key, val, force, delimiter }, ctx) => {
        const before = traverse(ctx.grains.items(), key, undefined, delimiter);
        if (JSON.stringify(before) === JSON.stringify(val))
          return { result: true, comment: 'The value is already set', changes: {} };
        if ((isMapping(before) || Array.isArray(before)) && !force)
          return {
            result: false,
            comment: `The key '${key}' exists and the given value is a dict or a list. Use 'force=True' to overwrite.`,
            changes: {},
          };
        await setNested(ctx, key, val, delimiter);
        return {
          result: true,
          comment: '',
          changes: { [key.split(delimiter)[0] as string]: ctx.grains.items()[key.split(delimiter)[0] as string] },
        };
      },
    }),
    append: defineFunction({
      doc: `Appends a value to a list grain (created when missing). Returns {key: list}.

key, val: the grain and the value
convert: turn a scalar grain into a list first
delimiter: default ":"

CLI Example: phoenix run '*' grains.append roles web`,
      schema: z.strictObject({
        key: Key,
        val: GrainValueSchema,
        convert: z.boolean().default(false),
        delimiter: z.string().min(1).default(':'),
      }),
      run: async ({ key, val, convert, delimiter }, ctx) => {
        let list = traverse(ctx.grains.items(), key, [], delimiter);
        if (!Array.isArray(list)) {
          if (!convert) throw new ExecutionError(`The key ${key} is not a valid list`);
          list = list === null || list === '' ? [] : [list];
        }
        const items = list as unknown[];
        if (items.some((item) => JSON.stringify(item) === JSON.stringify(val)))
          return `The val ${JSON.stringify(val)} was already in the list ${key}`;
        const next = [...items, val];
        await setNested(ctx, key, next, delimiter);
        return { [key]: next };
      },
    }),
    remove: defineFunction({
      doc: "Removes a value from a list grain. Returns {key: list}.\n\nCLI Example: phoenix run '*' grains.remove roles web",
      schema: z.strictObject({ key: Key, val: GrainValueSchema, delimiter: z.string().min(1).default(':') }),
      run: async ({ key, val, delimiter }, ctx) => {
        const list = traverse(ctx.grains.items(), key, [], delimiter);
        if (!Array.isArray(list)) throw new ExecutionError(`The key ${key} is not a valid list`);
        const next = list.filter((item) => JSON.stringify(item) !== JSON.stringify(val));
        if (next.length === list.length) return `The val ${JSON.stringify(val)} was not in the list ${key}`;
        await setNested(ctx, key, next, delimiter);
        return { [key]: next };
      },
    }),
    has_value: defineFunction({
      doc: "Returns True when the grain exists and is not empty.\n\nCLI Example: phoenix run '*' grains.has_value roles",
      schema: z.strictObject({ key: Key }),
      run: ({ key }, ctx) => {
        const value = traverse(ctx.grains.items(), key, undefined, ':');
        return (
          value !== undefined &&
          value !== null &&
          value !== '' &&
          !(Array.isArray(value) && value.length === 0) &&
          !(isMapping(value) && Object.keys(value).length === 0)
        );
      },
    }),
    filter_by: defineFunction({
      doc: `Returns the entry of a lookup dictionary that matches a grain's value (exact, then glob), else the default entry.

lookup_dict: {Debian: {...}, RedHat: {...}}
grain: the grain to match (default os_family)
merge: a dictionary merged over the result
default: the key used when nothing matches (default "default")
base: a key of lookup_dict merged under the result

CLI Example: phoenix run '*' grains.filter_by '{Debian: Debheads rule, RedHat: I love my hat}'`,
      schema: z.strictObject({
        lookup_dict: Mapping,
        grain: z.string().min(1).default('os_family'),
        merge: Mapping.nullish(),
        default: z.string().default('default'),
        base: z.string().nullish(),
      }),
      run: ({ lookup_dict, grain, merge, default: fallback, base }, ctx) =>
        filterBy(lookup_dict, traverse(ctx.grains.items(), grain, undefined, ':'), {
          default: fallback,
          ...(merge == null ? {} : { merge }),
          ...(base == null ? {} : { base }),
        }),
    }),
    ls: defineFunction({
      doc: "Returns the names of all grains, sorted.\n\nCLI Example: phoenix run '*' grains.ls",
      schema: z.strictObject({}),
      run: (_args, ctx) => ctx.grains.keys(),
    }),
  }),
});
