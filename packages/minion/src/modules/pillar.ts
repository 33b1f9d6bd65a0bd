import { z } from 'zod';
import { deepMerge, isMapping, traverse } from '@phoenix/state';
import { ExecutionError } from './errors.js';
import { defineFunction } from './define-function.js';
import type { ExecutionModule, JobContext } from './types.js';

/** Compiles this minion's pillar (the master's rendering of it, or local pillar_roots). */
export type PillarCompiler = (
  ctx: JobContext,
  request: { saltenv: string; override?: Record<string, unknown> },
) => Promise<Record<string, unknown>>;

const Env = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/)
  .optional();
const MISSING = Symbol('missing');

/**
 * Salt's pillar module. Phoenix keeps no pillar in memory between jobs: every call compiles it
 * (from the master, which renders it for this minion alone), so what it returns is never stale.
 */
export function createPillarModule(compile: PillarCompiler): ExecutionModule {
  const pillar = (
    ctx: JobContext,
    env: { saltenv?: string | undefined; pillarenv?: string | undefined },
    override?: Record<string, unknown>,
  ) =>
    compile(ctx, { saltenv: env.pillarenv ?? env.saltenv ?? 'base', ...(override === undefined ? {} : { override }) });
  return Object.freeze({
    name: 'pillar',
    functions: Object.freeze({
      get: defineFunction({
        doc: `Returns one pillar value; nested keys with the delimiter (\`apache:port\`).

key: the pillar key
default: returned when the key does not exist (default "")
merge: with a dict default, merge the pillar value over it
delimiter: separates the levels (default ":")
saltenv, pillarenv: the pillar environment

CLI Example: phoenix run '*' pillar.get pkg:apache`,
        schema: z.strictObject({
          key: z.string().min(1),
          default: z.unknown().optional(),
          merge: z.boolean().default(false),
          merge_nested_lists: z.boolean().optional(),
          delimiter: z.string().min(1).default(':'),
          pillarenv: Env,
          saltenv: Env,
        }),
        run: async (args, ctx) => {
          const value = traverse(await pillar(ctx, args), args.key, MISSING, args.delimiter);
          const fallback = args.default ?? '';
          if (value === MISSING) return fallback;
          if (args.merge) {
            if (isMapping(fallback) && isMapping(value)) return deepMerge(fallback, value);
            if (Array.isArray(fallback) && Array.isArray(value)) return [...fallback, ...value];
          }
          return value;
        },
      }),
      item: defineFunction({
        doc: "Returns {key: value} for each key given ('' when missing, or default).\n\nCLI Example: phoenix run '*' pillar.item foo bar baz",
        schema: z.strictObject({
          args: z.array(z.string().min(1)),
          default: z.unknown().optional(),
          delimiter: z.string().min(1).default(':'),
          pillarenv: Env,
          saltenv: Env,
        }),
        varargs: 'args',
        run: async (args, ctx) => {
          const data = await pillar(ctx, args);
          return Object.fromEntries(
            args.args.map((key) => [key, traverse(data, key, args.default ?? '', args.delimiter)]),
          );
        },
      }),
      items: defineFunction({
        doc: "Returns this minion's whole pillar (with the given keys, only those).\n\npillar: a dictionary merged over it for this call\nsaltenv, pillarenv: the pillar environment\n\nCLI Example: phoenix run '*' pillar.items",
        schema: z.strictObject({
          args: z.array(z.string().min(1)),
          pillar: z.record(z.string(), z.unknown()).optional(),
          pillar_enc: z.string().optional(),
          pillarenv: Env,
          saltenv: Env,
        }),
        varargs: 'args',
        run: async (args, ctx) => {
          if (args.pillar_enc !== undefined)
            throw new ExecutionError('pillar_enc is not supported: Phoenix has no GPG renderer');
          const data = await pillar(ctx, args, args.pillar);
          return args.args.length === 0
            ? data
            : Object.fromEntries(args.args.map((key) => [key, traverse(data, key, '', ':')]));
        },
      }),
      raw: defineFunction({
        doc: "Returns the pillar, or one key of it (no default; nested keys with ':').\n\nCLI Example: phoenix run '*' pillar.raw key='roles'",
        schema: z.strictObject({ key: z.string().min(1).optional() }),
        run: async ({ key }, ctx) => {
          const data = await pillar(ctx, {});
          return key === undefined ? data : traverse(data, key, {}, ':');
        },
      }),
      keys: defineFunction({
        doc: "Returns the keys of a pillar dictionary (nested with ':').\n\nCLI Example: phoenix run '*' pillar.keys web:sites",
        schema: z.strictObject({ key: z.string().min(1), delimiter: z.string().min(1).default(':') }),
        run: async ({ key, delimiter }, ctx) => {
          const value = traverse(await pillar(ctx, {}), key, MISSING, delimiter);
          if (value === MISSING) throw new ExecutionError(`Pillar key not found: ${key}`);
          if (!isMapping(value)) throw new ExecutionError(`Pillar value in key ${key} is not a dict`);
          return Object.keys(value);
        },
      }),
      ls: defineFunction({
        doc: "Returns the top-level pillar keys.\n\nCLI Example: phoenix run '*' pillar.ls",
        schema: z.strictObject({ saltenv: Env, pillarenv: Env }),
        run: async (args, ctx) => Object.keys(await pillar(ctx, args)),
      }),
    }),
  });
}
