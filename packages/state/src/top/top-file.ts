import { compileTarget } from '@phoenix/protocol';
import type { MinionFacts, TargetType } from '@phoenix/protocol';
import { CompileErrors } from '../errors.js';
import { isMapping } from '../data.js';
import { isValidSlsName } from '../files/sls-names.js';

/** One target of a top file: `'role:web': [{match: grain}, web, {order: 2}]` under an environment. */
export interface TopTarget {
  readonly env: string;
  readonly expression: string;
  readonly match: TargetType;
  /** Targets run in `order` (default 0), then in the order written. */
  readonly order: number;
  readonly sls: readonly string[];
  /** Salt's pillar-top `ignore_missing: True`: an SLS that does not exist is skipped, not an error. */
  readonly ignoreMissing: boolean;
}

export interface TopMatch {
  readonly env: string;
  readonly name: string;
  readonly ignoreMissing: boolean;
}

const MATCH_TYPES: Readonly<Record<string, TargetType>> = {
  glob: 'glob',
  grain: 'grain',
  pcre: 'pcre',
  list: 'list',
  compound: 'compound',
};

/**
 * Reads a rendered top file (`{env: {target: [entries]}}`). Every problem is collected and thrown as
 * one StateCompileError naming the file; a target whose expression does not compile is one of them.
 */
export function parseTop(data: unknown, where: string): TopTarget[] {
  const errors = new CompileErrors();
  const targets: TopTarget[] = [];
  if (data === null || data === undefined) return [];
  if (!isMapping(data)) {
    errors.add(`${where} must be a dictionary of environments, each a dictionary of targets`);
    errors.throwIfAny();
  }
  for (const [env, body] of Object.entries(data as Record<string, unknown>)) {
    if (body === null || body === undefined) continue;
    if (!isMapping(body)) {
      errors.add(`${where}: environment '${env}' must be a dictionary of targets`);
      continue;
    }
    for (const [expression, entries] of Object.entries(body)) {
      const at = `${where}: target '${expression}' in '${env}'`;
      if (!Array.isArray(entries)) {
        errors.add(`${at} must be a list of SLS names and options`);
        continue;
      }
      let match: TargetType = 'glob';
      let order = 0;
      let ignoreMissing = false;
      const sls: string[] = [];
      for (const entry of entries) {
        if (typeof entry === 'string') {
          if (isValidSlsName(entry)) sls.push(entry);
          else errors.add(`${at}: '${entry}' is not a valid SLS name`);
        } else if (isMapping(entry) && Object.keys(entry).length === 1) {
          const [key, value] = Object.entries(entry)[0] as [string, unknown];
          if (key === 'match') {
            const type = typeof value === 'string' ? MATCH_TYPES[value] : undefined;
            if (type) match = type;
            else
              errors.add(
                `${at}: match type ${JSON.stringify(value)} is not supported (use glob, grain, pcre, list or compound)`,
              );
          } else if (key === 'order') {
            if (typeof value === 'number' && Number.isFinite(value)) order = value;
            else errors.add(`${at}: 'order' must be a number`);
          } else if (key === 'ignore_missing') {
            if (typeof value === 'boolean') ignoreMissing = value;
            else errors.add(`${at}: 'ignore_missing' must be True or False`);
          } else {
            errors.add(`${at}: unknown option '${key}' (match, order and ignore_missing are known)`);
          }
        } else {
          errors.add(`${at}: ${JSON.stringify(entry)} is neither an SLS name nor an option`);
        }
      }
      try {
        compileTarget(expression, match);
      } catch (err) {
        errors.add(`${at}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      targets.push({ env, expression, match, order, sls, ignoreMissing });
    }
  }
  errors.throwIfAny();
  return targets;
}

/**
 * The SLS files a minion gets from a top file: targets that match it, `base` first, then by
 * `order`, then as written; each SLS once.
 */
export function matchTop(targets: readonly TopTarget[], minion: MinionFacts): TopMatch[] {
  const envOrder = [...new Set(['base', ...targets.map((t) => t.env)])];
  const sorted = targets
    .map((target, position) => ({ target, position }))
    .sort(
      (a, b) =>
        envOrder.indexOf(a.target.env) - envOrder.indexOf(b.target.env) ||
        a.target.order - b.target.order ||
        a.position - b.position,
    );
  const seen = new Set<string>();
  const matches: TopMatch[] = [];
  for (const { target } of sorted) {
    if (!compileTarget(target.expression, target.match).matches(minion)) continue;
    for (const name of target.sls) {
      const key = `${target.env}:${name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      matches.push({ env: target.env, name, ignoreMissing: target.ignoreMissing });
    }
  }
  return matches;
}
