import type { z } from 'zod';
import { ArgumentError } from './errors.js';
import type { ArgsSchema, JobContext, ModuleFunction } from './types.js';

export interface FunctionDefinition<S extends ArgsSchema> {
  doc: string;
  schema: S;
  /** Take keyword arguments the schema does not name; `run` gets them as `extra`, unvalidated. */
  extraKeywords?: boolean;
  /**
   * A schema key that collects the positional arguments after the ones before it (Salt's `*args`);
   * keys after it are keyword-only.
   */
  varargs?: string;
  run(args: z.output<S>, ctx: JobContext, extra: Readonly<Record<string, unknown>>): unknown;
}

/** Types `run`'s arguments from the schema, and validates them there, before the body ever sees them. */
export function defineFunction<S extends ArgsSchema>(definition: FunctionDefinition<S>): ModuleFunction {
  const { doc, schema, varargs } = definition;
  const keys = Object.keys(schema.shape);
  const at = varargs === undefined ? -1 : keys.indexOf(varargs);
  const params = Object.freeze(at === -1 ? keys : keys.slice(0, at));
  const keywordOnly = Object.freeze(at === -1 ? [] : keys.slice(at + 1));
  const declared: readonly string[] = [...params, ...keywordOnly, ...(varargs === undefined ? [] : [varargs])];
  return Object.freeze({
    doc,
    schema,
    params,
    ...(at === -1 ? {} : { varargs: varargs as string, keywordOnly }),
    extraKeywords: definition.extraKeywords === true,
    async run(args: Readonly<Record<string, unknown>>, ctx: JobContext): Promise<unknown> {
      const named: Record<string, unknown> = {};
      const extra: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(args)) {
        if (definition.extraKeywords === true && !declared.includes(key)) extra[key] = value;
        else named[key] = value;
      }
      const parsed = schema.safeParse(named);
      if (!parsed.success) throw argumentError(parsed.error, named);
      return definition.run(parsed.data, ctx, Object.freeze(extra));
    },
  });
}

/** The first problem, named by argument the way an operator wrote it. */
function argumentError(error: z.ZodError, args: Readonly<Record<string, unknown>>): ArgumentError {
  const issue = error.issues[0];
  if (!issue) return new ArgumentError('invalid arguments');
  if (issue.code === 'unrecognized_keys') {
    return new ArgumentError(`unexpected keyword argument '${issue.keys.join("', '")}'`, issue.keys[0]);
  }
  const name = issue.path[0];
  if (typeof name !== 'string') return new ArgumentError(issue.message);
  if (args[name] === undefined && issue.path.length === 1) {
    return new ArgumentError(`missing required argument '${name}'`, name);
  }
  const where = issue.path.length > 1 ? `${name}:${issue.path.slice(1).join(':')}` : name;
  return new ArgumentError(`argument '${where}': ${issue.message}`, name);
}
