import { invalid, quote } from './errors.js';
import { compileGlob } from './glob.js';
import type { Predicate } from './predicate.js';
import { TARGET_LIMITS } from './limits.js';
import { compileRegex, type RegexBudget } from './regex.js';

/**
 * Grain targets, `key:value` (or nested `a:b:value`) with a glob or a regex on the value, as Salt
 * matches them (salt/matchers/grain_match.py, salt/utils/data.py): the value is matched
 * case-insensitively; `a:b:c` is tried as key `a:b` with value `c` and as key `a` with value `b:c`,
 * so values that contain ':' match; a list-valued grain matches when any member does; a dict-valued
 * grain matches `*` (the key exists) or the name of one of its keys.
 */

type ValueTest = (value: string) => boolean;

export function compileGrain(
  expression: string,
  delimiter: string,
  regex: boolean,
  position: number,
  budget: RegexBudget,
): Predicate {
  const parts = expression.split(delimiter);
  if (parts.length < 2 || parts[0] === '' || parts.slice(1).join(delimiter) === '') {
    throw invalid(`grain target ${quote(expression)} at position ${position} must be key${delimiter}value`, {
      position,
    });
  }
  const candidates: { path: string[]; pattern: string; test: ValueTest }[] = [];
  let lastError: unknown;
  for (let split = 1; split < parts.length; split++) {
    const path = parts.slice(0, split);
    const pattern = parts.slice(split).join(delimiter);
    const at = position + path.join(delimiter).length + delimiter.length;
    try {
      const test = regex ? compileRegex(pattern, true, at, budget) : compileGlob(pattern, true);
      candidates.push({ path, pattern, test });
    } catch (err) {
      // A regex may contain the delimiter: only the splits that leave a valid regex can match. But a
      // target over its regex budget is refused whole, never matched with fewer splits than it names.
      if (budget.steps < 0) throw err;
      lastError = err;
    }
  }
  if (candidates.length === 0) throw lastError;
  return (minion) =>
    candidates.some(({ path, pattern, test }) => grainValueMatches(lookUp(minion.grains, path), pattern, test));
}

const MISSING = Symbol('missing');

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Salt's traverse_dict_and_list: dict keys, list indexes, or a key of a dict inside a list. Own keys only. */
function lookUp(grains: unknown, path: readonly string[]): unknown {
  let current = grains;
  for (const key of path) {
    if (Array.isArray(current)) {
      if (/^\d+$/.test(key)) {
        current = Number(key) < current.length ? (current[Number(key)] as unknown) : MISSING;
      } else {
        const holder: unknown = current.find((item) => isRecord(item) && Object.hasOwn(item, key));
        current = isRecord(holder) ? holder[key] : MISSING;
      }
    } else if (isRecord(current) && Object.hasOwn(current, key)) {
      current = current[key];
    } else {
      return MISSING;
    }
    if (current === MISSING) return MISSING;
  }
  return current;
}

function grainValueMatches(value: unknown, pattern: string, test: ValueTest, inList = false): boolean {
  if (isRecord(value)) return pattern === '*' || Object.hasOwn(value, pattern);
  if (Array.isArray(value) && !inList) return value.some((member) => grainValueMatches(member, pattern, test, true));
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    const text = String(value);
    return text.length <= TARGET_LIMITS.matchedValueLength && test(text);
  }
  return false;
}
