import { z } from 'zod';
import { CompoundParser } from './targeting/compound.js';
import { invalid, quote } from './targeting/errors.js';
import { compileGrain } from './targeting/grains.js';
import { compileList, idGlob, idRegex } from './targeting/ids.js';
import type { MinionFacts, Predicate } from './targeting/predicate.js';
import { checkExpression, TARGET_LIMITS } from './targeting/limits.js';

/**
 * Salt-compatible targeting: which minions a job is for. Masters use it to compute the expected
 * minions of a job and to decide whom to send it to; the expression itself never travels to a minion.
 *
 * Expressions come from operators and the API, so this is an input boundary: everything is parsed
 * and validated in `compileTarget` (which throws PHX_TARGET_INVALID naming the problem and where it
 * is), nothing is ever evaluated as code, and every match runs in time linear in the value.
 *
 * Salt's behaviour was checked and kept (salt/matchers/*.py, salt/utils/data.py). Under targeting/:
 * - ids.ts: glob is fnmatch (glob.ts), case-sensitive, on the whole id; pcre is Python's `re.match`
 *   on RE2 (regex.ts): anchored at the start of the id but not at the end (`E@web` matches `web1`;
 *   write `E@web$` for the whole id); list names exact ids.
 * - grains.ts: `key:value`, nested keys, values matched case-insensitively.
 * - compound.ts: `and`, `or`, `not`, parentheses, and the prefixes `G@ P@ L@ E@`.
 * - limits.ts and errors.ts: the bounds of the input boundary and the error code.
 * - predicate.ts: what a target is matched against (`MinionFacts`) and one compiled part of it.
 */

export { TargetErrorCodes } from './targeting/errors.js';
export { TARGET_LIMITS } from './targeting/limits.js';
/** Python's fnmatch, case-sensitive or not: minion ids here, function names and requisite targets elsewhere. */
export { compileGlob } from './targeting/glob.js';

export const TARGET_TYPES = ['glob', 'list', 'grain', 'pcre', 'compound'] as const;
export const TargetTypeSchema = z.enum(TARGET_TYPES);
export type TargetType = z.output<typeof TargetTypeSchema>;

export type { MinionFacts } from './targeting/predicate.js';

export interface TargetMatcher {
  readonly type: TargetType;
  /** The expression as given (a list array joined with ','). */
  readonly expression: string;
  /** False when the target looks at ids only, so minions without cached grains can be matched exactly. */
  readonly usesGrains: boolean;
  matches(minion: MinionFacts): boolean;
}

/** A target on the API: `{ expression, type }`; an array expression is accepted for type `list` only. */
export const TargetSchema = z
  .strictObject({
    expression: z.union([z.string(), z.array(z.string()).max(TARGET_LIMITS.listIds)]),
    type: TargetTypeSchema.default('glob'),
  })
  .superRefine((target, ctx) => {
    try {
      compileTarget(target.expression, target.type);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['expression'], message: err instanceof Error ? err.message : String(err) });
    }
  });
export type Target = z.output<typeof TargetSchema>;

/**
 * Validates a target expression and compiles it into a matcher. Throws PHX_TARGET_INVALID for any
 * bad input; a matcher, once built, never throws.
 */
export function compileTarget(expression: string | readonly string[], type: TargetType = 'glob'): TargetMatcher {
  if (!(TARGET_TYPES as readonly unknown[]).includes(type)) {
    throw invalid(`unknown target type ${quote(String(type))}: use one of ${TARGET_TYPES.join(', ')}`);
  }
  if (typeof expression !== 'string') {
    if (type !== 'list' || !Array.isArray(expression)) {
      throw invalid(`a ${type} target must be a string${type === 'list' ? ' or an array of ids' : ''}`);
    }
    return matcher(type, expression.join(','), false, compileList(expression, 0));
  }
  checkExpression(expression, type === 'pcre' ? TARGET_LIMITS.regexLength : TARGET_LIMITS.expressionLength);
  const budget = { steps: TARGET_LIMITS.regexSteps };
  switch (type) {
    case 'glob':
      return matcher(type, expression, false, idGlob(expression));
    case 'list':
      return matcher(type, expression, false, compileList(expression.split(','), 0));
    case 'grain':
      return matcher(type, expression, true, compileGrain(expression, ':', false, 0, budget));
    case 'pcre':
      return matcher(type, expression, false, idRegex(expression, 0, budget));
    case 'compound': {
      const compiled = new CompoundParser(expression, budget).parse();
      return matcher(type, expression, compiled.usesGrains, compiled.test);
    }
  }
}

/** The ids of the minions that a target matches, in the order given. */
export function selectMinions(target: TargetMatcher, minions: Iterable<MinionFacts>): string[] {
  const ids: string[] = [];
  for (const minion of minions) if (target.matches(minion)) ids.push(minion.id);
  return ids;
}

function matcher(type: TargetType, expression: string, usesGrains: boolean, test: Predicate): TargetMatcher {
  return Object.freeze({ type, expression, usesGrains, matches: test });
}
