import { ArgumentError } from './errors.js';

/**
 * Salt's calling convention: positional arguments fill the parameters in order, keyword arguments
 * name them. The result is validated afterwards by the function's own schema.
 */
export function bindArguments(
  params: readonly string[],
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
  /** The function takes keyword arguments beyond its parameters (Salt's `**kwargs`). */
  extraKeywords = false,
  /** The parameter that collects positional arguments beyond `params` (Salt's `*args`), as a list. */
  varargs?: string,
  /** Parameters after `varargs`: named only, never filled by position. */
  keywordOnly?: readonly string[],
): Record<string, unknown> {
  if (args.length > params.length && varargs === undefined) {
    throw new ArgumentError(
      params.length === 0
        ? `takes no positional arguments but ${args.length} ${args.length === 1 ? 'was' : 'were'} given`
        : `takes at most ${params.length} positional argument${params.length === 1 ? '' : 's'} (${params.join(', ')}) but ${args.length} were given`,
    );
  }
  // Null prototype: a kwarg named __proto__ must not be able to reach Object.prototype.
  const bound: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  args.slice(0, params.length).forEach((value, index) => {
    bound[params[index] as string] = value;
  });
  if (varargs !== undefined) bound[varargs] = args.slice(params.length);
  for (const [name, value] of Object.entries(kwargs)) {
    if (name === varargs) throw new ArgumentError(`'${name}' takes positional arguments only`, name);
    if (!params.includes(name) && !extraKeywords && !keywordOnly?.includes(name))
      throw new ArgumentError(`unexpected keyword argument '${name}'`, name);
    if (name in bound) throw new ArgumentError(`got multiple values for argument '${name}'`, name);
    bound[name] = value;
  }
  return bound;
}
