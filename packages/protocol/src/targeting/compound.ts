import type { PhoenixError } from '../errors.js';
import { invalid, quote } from './errors.js';
import { compileGrain } from './grains.js';
import { compileList, idGlob, idRegex } from './ids.js';
import type { Predicate } from './predicate.js';
import type { RegexBudget } from './regex.js';

/**
 * Compound targets: `G@os:Debian and not ( web* or L@a,b )`. As in Salt, `not` binds tighter than
 * `and`, which binds tighter than `or`; parentheses must be separate words; a `not` right after a
 * target means `and not` (Salt >= 2015.8 inserts the `and`).
 */

/** Prefixes that Salt knows and Phoenix does not support (yet), and what they mean. */
const UNSUPPORTED_PREFIXES: Readonly<Record<string, string>> = {
  I: 'pillar glob',
  J: 'pillar regex',
  S: 'subnet/IP address',
  N: 'nodegroup',
  R: 'range cluster',
  T: 'resource',
  M: 'managing minion',
  D: 'minion data',
};
const OPERATORS = new Set(['and', 'or', 'not', '(', ')']);

interface Token {
  readonly text: string;
  readonly position: number;
}
export interface Compiled {
  readonly test: Predicate;
  readonly usesGrains: boolean;
}

/** Recursive descent over whitespace-separated words: or := and ('or' and)*; and := not ('and' not)*. */
export class CompoundParser {
  readonly #tokens: Token[] = [];
  readonly #budget: RegexBudget;
  #next = 0;

  constructor(expression: string, budget: RegexBudget) {
    this.#budget = budget;
    for (const word of expression.matchAll(/\S+/g)) {
      const token = { text: word[0], position: word.index };
      const previous = this.#tokens.at(-1);
      // Salt turns `a not b` into `a and not b`.
      if (token.text === 'not' && previous !== undefined && !['and', 'or', 'not', '('].includes(previous.text)) {
        this.#tokens.push({ text: 'and', position: token.position });
      }
      this.#tokens.push(token);
    }
  }

  parse(): Compiled {
    const result = this.#or();
    const extra = this.#tokens[this.#next];
    if (extra === undefined) return result;
    if (extra.text === ')') throw this.#error(extra, `')' at position ${extra.position} has no matching '('`);
    throw this.#error(extra, `missing 'and' or 'or' before ${quote(extra.text)} at position ${extra.position}`);
  }

  #or(): Compiled {
    const terms = [this.#and()];
    while (this.#peek('or')) {
      this.#next++;
      terms.push(this.#and());
    }
    if (terms.length === 1) return terms[0] as Compiled;
    const tests = terms.map((term) => term.test);
    return { test: (m) => tests.some((test) => test(m)), usesGrains: terms.some((term) => term.usesGrains) };
  }

  #and(): Compiled {
    const terms = [this.#not()];
    while (this.#peek('and')) {
      this.#next++;
      terms.push(this.#not());
    }
    if (terms.length === 1) return terms[0] as Compiled;
    const tests = terms.map((term) => term.test);
    return { test: (m) => tests.every((test) => test(m)), usesGrains: terms.some((term) => term.usesGrains) };
  }

  #not(): Compiled {
    if (!this.#peek('not')) return this.#primary();
    const not = this.#tokens[this.#next++] as Token;
    // Salt rejects `not not x` (it becomes `not and not x`); so does Phoenix, rather than guess.
    if (this.#peek('not')) throw this.#error(not, `'not' at position ${not.position} is followed by another 'not'`);
    const inner = this.#not();
    return { test: (m) => !inner.test(m), usesGrains: inner.usesGrains };
  }

  #primary(): Compiled {
    const token = this.#tokens[this.#next];
    const before = this.#tokens[this.#next - 1];
    if (token === undefined || token.text === ')') {
      if (before !== undefined) {
        throw this.#error(before, `${quote(before.text)} at position ${before.position} is not followed by a target`);
      }
      if (token === undefined) throw invalid('the expression is empty');
      throw this.#error(token, `')' at position ${token.position} has no matching '('`);
    }
    this.#next++;
    if (token.text === '(') {
      if (this.#peek(')')) throw this.#error(token, `empty parentheses at position ${token.position}`);
      const inner = this.#or();
      if (!this.#peek(')')) {
        const found = this.#tokens[this.#next];
        throw found === undefined
          ? this.#error(token, `'(' at position ${token.position} is never closed`)
          : this.#error(found, `missing 'and' or 'or' before ${quote(found.text)} at position ${found.position}`);
      }
      this.#next++;
      return inner;
    }
    if (OPERATORS.has(token.text)) {
      const after = before === undefined ? 'at the start' : `after ${quote(before.text)}`;
      throw this.#error(token, `${quote(token.text)} at position ${token.position} ${after} has no target before it`);
    }
    return this.#operand(token);
  }

  #operand({ text, position }: Token): Compiled {
    // Salt's syntax: a capital letter, for grains and pillars an optional delimiter, then '@'.
    const prefixed = /^([A-Z])(?:(?<=[GPIJ])([^@\s]))?@(.*)$/.exec(text);
    if (prefixed === null) return { test: this.#plain(text, position, () => idGlob(text)), usesGrains: false };
    const [, engine = '', delimiter = ':', pattern = ''] = prefixed;
    const unsupported = UNSUPPORTED_PREFIXES[engine];
    if (unsupported !== undefined) {
      throw invalid(`${engine}@ (${unsupported}) in ${quote(text)} at position ${position} is not supported yet`, {
        position,
      });
    }
    if (!['G', 'P', 'L', 'E'].includes(engine)) {
      throw invalid(
        `unknown target prefix ${engine}@ in ${quote(text)} at position ${position} ` +
          `(for an id that starts with "${engine}@", write [${engine}]@…)`,
        { position },
      );
    }
    if (pattern === '') throw invalid(`${engine}@ at position ${position} has no pattern`, { position });
    const at = position + text.length - pattern.length;
    switch (engine) {
      case 'E':
        return { test: idRegex(pattern, at, this.#budget), usesGrains: false };
      case 'P':
        return { test: compileGrain(pattern, delimiter, true, at, this.#budget), usesGrains: true };
      case 'G':
        return {
          test: this.#plain(text, position, () => compileGrain(pattern, delimiter, false, at, this.#budget)),
          usesGrains: true,
        };
      default:
        return { test: this.#plain(text, position, () => compileList(pattern.split(','), at)), usesGrains: false };
    }
  }

  /** Globs and lists: a parenthesis glued to a word is almost surely a missing space, so say so. */
  #plain(text: string, position: number, compile: () => Predicate): Predicate {
    const opened = text.split('(').length - 1;
    const closed = text.split(')').length - 1;
    if (opened !== closed) {
      throw invalid(`unbalanced parentheses in ${quote(text)} at position ${position}: put spaces around '(' and ')'`, {
        position,
      });
    }
    return compile();
  }

  #peek(text: string): boolean {
    return this.#tokens[this.#next]?.text === text;
  }

  #error(token: Token, message: string): PhoenixError {
    return invalid(message, { position: token.position, token: token.text.slice(0, 40) });
  }
}
