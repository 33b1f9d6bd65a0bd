import { invalid, quote } from './errors.js';
import { compileGlob } from './glob.js';
import { controlCharacterAt, TARGET_LIMITS } from './limits.js';
import { compileRegex, type RegexBudget } from './regex.js';
import type { Predicate } from './predicate.js';

/** Targets on the minion id: glob (fnmatch, case-sensitive, the whole id), pcre, and list. */

export function idGlob(pattern: string): Predicate {
  const test = compileGlob(pattern, false);
  return (minion) => test(minion.id);
}

export function idRegex(pattern: string, position: number, budget: RegexBudget): Predicate {
  const test = compileRegex(pattern, false, position, budget);
  return (minion) => test(minion.id);
}

/** Exact ids (Salt's list matcher does not glob). Blanks around ids and empty entries are ignored. */
export function compileList(entries: readonly unknown[], position: number): Predicate {
  if (entries.length > TARGET_LIMITS.listIds) {
    throw invalid(`the list has ${entries.length} ids; the limit is ${TARGET_LIMITS.listIds}`);
  }
  const ids = new Set<string>();
  for (const entry of entries) {
    if (typeof entry !== 'string') throw invalid('every id in a list must be a string');
    const id = entry.trim();
    if (id === '') continue;
    if (id.length > TARGET_LIMITS.idLength || controlCharacterAt(id) >= 0 || /\s/.test(id)) {
      throw invalid(`${quote(id)} in the list at position ${position} is not a valid minion id`, { position });
    }
    ids.add(id);
  }
  if (ids.size === 0) throw invalid(`the list at position ${position} names no minion`, { position });
  return (minion) => ids.has(minion.id);
}
