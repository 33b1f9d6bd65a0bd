import { z } from 'zod';
import { PhoenixError } from './errors.js';

/**
 * Salt-compatible targeting: which minions a job is for. Masters use it to compute the expected
 * minions of a job and to decide whom to send it to; the expression itself never travels to a minion.
 *
 * Expressions come from operators and the API, so this is an input boundary: everything is parsed
 * and validated in `compileTarget` (which throws PHX_TARGET_INVALID naming the problem and its
 * position), nothing is ever evaluated as code, and every match runs in time bounded by the size of
 * the pattern times the size of the value. Regular expressions (`pcre`, `E@`, `P@`) run on a small
 * automaton (below) instead of the JavaScript engine, because a backtracking engine can be made to
 * run for hours by one short pattern such as `(a+)+$`, and a master must never hang on a target.
 *
 * Where Salt's own behaviour was checked and kept (salt/matchers/*.py, salt/utils/data.py):
 * - ids: glob is fnmatch, case-sensitive, whole id; pcre is Python's `re.match`: anchored at the
 *   start of the id but not at the end (`E@web` matches `web1`; write `E@web$` for the whole id).
 * - grains: the value is matched case-insensitively (Salt lowercases both sides). `a:b:c` is tried
 *   as key `a:b` with value `c` and as key `a` with value `b:c`, so values that contain ':' match.
 *   A list-valued grain matches when any member does; a dict-valued grain matches `*` (the key
 *   exists) or the name of one of its keys.
 * - compound: `not` binds tighter than `and`, which binds tighter than `or`; parentheses must be
 *   separate words; a `not` right after a target means `and not` (Salt >= 2015.8 inserts the `and`).
 */

export const TargetErrorCodes = {
  INVALID: 'PHX_TARGET_INVALID',
} as const;

export const TARGET_TYPES = ['glob', 'list', 'grain', 'pcre', 'compound'] as const;
export const TargetTypeSchema = z.enum(TARGET_TYPES);
export type TargetType = z.output<typeof TargetTypeSchema>;

/** Bounds of the input boundary; each keeps one target's compile and match cost small and predictable. */
export const TARGET_LIMITS = Object.freeze({
  /** Characters in one expression (a list given as an array is bounded by `listIds` instead). */
  expressionLength: 1024,
  /** Ids in one list target. */
  listIds: 10_000,
  /** Characters in one id of a list (the wire's limit for a minion id). */
  idLength: 255,
  /** Characters in one regular expression. */
  regexLength: 256,
  /** Automaton steps all regular expressions of one target may compile to (`a{1000}` is 1000). */
  regexSteps: 2000,
  /** Longer grain values never match a glob or a regex: matching cost grows with their length. */
  matchedValueLength: 1024,
});

/** What a target is matched against: a minion's id and its (cached) grains. */
export interface MinionFacts {
  readonly id: string;
  readonly grains: Readonly<Record<string, unknown>>;
}

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

type Predicate = (minion: MinionFacts) => boolean;
type ValueTest = (value: string) => boolean;

function matcher(type: TargetType, expression: string, usesGrains: boolean, test: Predicate): TargetMatcher {
  return Object.freeze({ type, expression, usesGrains, matches: test });
}

function invalid(message: string, details: Record<string, unknown> = {}): PhoenixError {
  return new PhoenixError(TargetErrorCodes.INVALID, `invalid target: ${message}`, { details });
}

/** A token for an error message: quoted, and cut short so an attacker's megabyte never reaches a log. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

function checkExpression(expression: string, maxLength: number): void {
  if (expression.trim() === '') throw invalid('the expression is empty');
  if (expression.length > maxLength) {
    throw invalid(`the expression is ${expression.length} characters long; the limit is ${maxLength}`);
  }
  const at = controlCharacterAt(expression);
  if (at >= 0) {
    const code = expression.charCodeAt(at).toString(16).padStart(4, '0');
    throw invalid(`control character U+${code} at position ${at}`, { position: at });
  }
}

/** C0/C1 controls and the bidirectional overrides that make text display differently from what it is. */
function controlCharacterAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
      return i;
    }
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// glob, list, pcre on the id; grain globs and regexes

function idGlob(pattern: string): Predicate {
  const test = compileGlob(pattern, false);
  return (minion) => test(minion.id);
}

function idRegex(pattern: string, position: number, budget: RegexBudget): Predicate {
  const test = compileRegex(pattern, false, position, budget);
  return (minion) => test(minion.id);
}

/** Exact ids (Salt's list matcher does not glob). Blanks around ids and empty entries are ignored. */
function compileList(entries: readonly unknown[], position: number): Predicate {
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

/** `key:value` (or nested `a:b:value`) with a glob or a regex on the value; see the header for Salt's rules. */
function compileGrain(
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
    const pattern = parts.slice(split).join(delimiter);
    try {
      const test = regex ? compileRegex(pattern, true, position, budget) : compileGlob(pattern, true);
      candidates.push({ path: parts.slice(0, split), pattern, test });
    } catch (err) {
      // A regex may contain the delimiter; only the splits that leave a valid regex can match.
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

// ---------------------------------------------------------------------------------------------
// glob: Python's fnmatch (`*`, `?`, `[seq]`, `[!seq]`; a `[` without `]` is literal; `\` is literal)

const STAR = 0;
type GlobToken = typeof STAR | string | ((c: string) => boolean);

/** Compiles a glob; matching costs at most pattern length × value length (no backtracking blow-up). */
function compileGlob(source: string, ignoreCase: boolean): ValueTest {
  const pattern = ignoreCase ? source.toLowerCase() : source;
  const tokens = parseGlob(pattern);
  const fold = (value: string) => (ignoreCase ? value.toLowerCase() : value);
  if (tokens.every((t) => typeof t === 'string')) return (value) => fold(value) === pattern;
  if (tokens.every((t) => t === STAR)) return (value) => value.length <= TARGET_LIMITS.matchedValueLength;
  return (value) => value.length <= TARGET_LIMITS.matchedValueLength && globMatches(tokens, Array.from(fold(value)));
}

function parseGlob(pattern: string): GlobToken[] {
  const chars = Array.from(pattern);
  const tokens: GlobToken[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') {
      if (tokens.at(-1) !== STAR) tokens.push(STAR);
    } else if (c === '?') {
      tokens.push(() => true);
    } else if (c === '[') {
      // Like fnmatch: an optional '!', then a ']' right at the start is a member, then up to the next ']'.
      let end = i + 1;
      if (chars[end] === '!') end++;
      if (chars[end] === ']') end++;
      while (end < chars.length && chars[end] !== ']') end++;
      if (end >= chars.length) {
        tokens.push('[');
        continue;
      }
      tokens.push(globClass(chars.slice(i + 1, end)));
      i = end;
    } else {
      tokens.push(c);
    }
  }
  return tokens;
}

function globClass(members: string[]): (c: string) => boolean {
  const negated = members[0] === '!';
  const body = negated ? members.slice(1) : members;
  const ranges: [number, number][] = [];
  for (let k = 0; k < body.length; k++) {
    const lo = (body[k] as string).codePointAt(0) as number;
    if (body[k + 1] === '-' && k + 2 < body.length) {
      // A reversed range such as [z-a] is empty, as in fnmatch.
      ranges.push([lo, (body[k + 2] as string).codePointAt(0) as number]);
      k += 2;
    } else {
      ranges.push([lo, lo]);
    }
  }
  return (c) => {
    const code = c.codePointAt(0) as number;
    return ranges.some(([lo, hi]) => code >= lo && code <= hi) !== negated;
  };
}

/** Greedy match with one remembered star: each star only ever resumes one step further. */
function globMatches(tokens: readonly GlobToken[], text: readonly string[]): boolean {
  let t = 0;
  let s = 0;
  let starToken = -1;
  let starText = 0;
  while (s < text.length) {
    const token = tokens[t];
    if (token === STAR) {
      starToken = t++;
      starText = s;
      continue;
    }
    const c = text[s] as string;
    if (token !== undefined && (typeof token === 'string' ? token === c : token(c))) {
      t++;
      s++;
    } else if (starToken >= 0) {
      t = starToken + 1;
      s = ++starText;
    } else {
      return false;
    }
  }
  while (tokens[t] === STAR) t++;
  return t === tokens.length;
}

// ---------------------------------------------------------------------------------------------
// compound: `G@os:Debian and not ( web* or L@a,b )`

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
interface Compiled {
  readonly test: Predicate;
  readonly usesGrains: boolean;
}

/** Recursive descent over whitespace-separated words: or := and ('or' and)*; and := not ('and' not)*. */
class CompoundParser {
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

// ---------------------------------------------------------------------------------------------
// Regular expressions without backtracking.
//
// The syntax is Python's `re` (what Salt users write) minus what needs backtracking or memory:
// backreferences, lookaround and inline flags are refused with a clear message. A pattern is parsed
// into a tree, compiled into a small program and run as a set of simultaneous threads (Thompson's
// construction), so a match costs at most program size × input length (see RegexAutomaton).

interface RegexBudget {
  steps: number;
}
/** Tests one character, given as its code point (the VM never builds strings while it runs). */
type CharTest = (code: number) => boolean;
type Assertion = 'start' | 'end' | 'word-boundary' | 'not-word-boundary';
type RegexNode =
  | { readonly kind: 'char'; readonly test: CharTest }
  | { readonly kind: 'seq'; readonly items: readonly RegexNode[] }
  | { readonly kind: 'alt'; readonly options: readonly RegexNode[] }
  | { readonly kind: 'repeat'; readonly node: RegexNode; readonly min: number; readonly max: number }
  | { readonly kind: 'assert'; readonly assertion: Assertion };
type Instruction =
  | { readonly op: 'char'; readonly test: CharTest }
  | { op: 'split'; readonly x: number; y: number }
  | { op: 'jump'; x: number }
  | { readonly op: 'assert'; readonly assertion: Assertion }
  | { readonly op: 'match' };

/** `ignoreCase` is for grain values: Salt matches them case-insensitively. */
function compileRegex(source: string, ignoreCase: boolean, position: number, budget: RegexBudget): ValueTest {
  if (source.length > TARGET_LIMITS.regexLength) {
    throw invalid(`the regular expression at position ${position} is longer than ${TARGET_LIMITS.regexLength}`, {
      position,
    });
  }
  const tree = new RegexParser(source, ignoreCase, position).parse();
  const program: Instruction[] = [];
  emit(tree, program, budget, source, position);
  program.push({ op: 'match' });
  const automaton = new RegexAutomaton(program);
  return (value) => value.length <= TARGET_LIMITS.matchedValueLength && automaton.matches(value);
}

const codeOf = (c: string): number => c.codePointAt(0) as number;

// Python 3 classes are Unicode-aware; ASCII, by far the common case, is decided without a regex.
const isDigit: CharTest = (x) => (x < 128 ? x >= 48 && x <= 57 : /^\p{Nd}$/u.test(String.fromCodePoint(x)));
const isSpace: CharTest = (x) => (x < 128 ? x === 32 || (x >= 9 && x <= 13) : /^\s$/u.test(String.fromCodePoint(x)));
const isWordChar: CharTest = (x) =>
  x < 128
    ? (x >= 48 && x <= 57) || (x >= 65 && x <= 90) || (x >= 97 && x <= 122) || x === 95
    : /^[\p{L}\p{N}_]$/u.test(String.fromCodePoint(x));
const CLASS_ESCAPES: Readonly<Record<string, CharTest>> = {
  d: isDigit,
  D: (x) => !isDigit(x),
  w: isWordChar,
  W: (x) => !isWordChar(x),
  s: isSpace,
  S: (x) => !isSpace(x),
};
const toLower = (x: number): number =>
  x < 128 ? (x >= 65 && x <= 90 ? x + 32 : x) : codeOf(String.fromCodePoint(x).toLowerCase());
const toUpper = (x: number): number =>
  x < 128 ? (x >= 97 && x <= 122 ? x - 32 : x) : codeOf(String.fromCodePoint(x).toUpperCase());
const CHAR_ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', a: '\x07' };

class RegexParser {
  readonly #chars: string[];
  readonly #ignoreCase: boolean;
  readonly #position: number;
  #i = 0;

  constructor(source: string, ignoreCase: boolean, position: number) {
    this.#chars = Array.from(source);
    this.#ignoreCase = ignoreCase;
    this.#position = position;
  }

  parse(): RegexNode {
    const tree = this.#alternation();
    if (this.#i < this.#chars.length) throw this.#error('unbalanced parenthesis', this.#i);
    return tree;
  }

  #alternation(): RegexNode {
    const options = [this.#sequence()];
    while (this.#chars[this.#i] === '|') {
      this.#i++;
      options.push(this.#sequence());
    }
    return options.length === 1 ? (options[0] as RegexNode) : { kind: 'alt', options };
  }

  #sequence(): RegexNode {
    const items: RegexNode[] = [];
    while (this.#i < this.#chars.length && this.#chars[this.#i] !== '|' && this.#chars[this.#i] !== ')') {
      const grouped = this.#chars[this.#i] === '(';
      items.push(this.#quantified(this.#atom(), grouped));
    }
    return items.length === 1 ? (items[0] as RegexNode) : { kind: 'seq', items };
  }

  /** As in Python, `^*` has nothing to repeat but `(^)*` is fine (and harmless). */
  #quantified(atom: RegexNode, grouped: boolean): RegexNode {
    const start = this.#i;
    const bounds = this.#quantifier();
    if (bounds === undefined) return atom;
    if (atom.kind === 'assert' && !grouped) throw this.#error('nothing to repeat', start);
    if (this.#chars[this.#i] === '?') this.#i++; // lazy: the same set of matches
    if (this.#quantifierAhead()) throw this.#error('multiple repeat', this.#i);
    if (bounds.max < bounds.min) throw this.#error('min repeat greater than max repeat', start);
    return isEmpty(atom) ? atom : { kind: 'repeat', node: atom, ...bounds };
  }

  #quantifierAhead(): boolean {
    const save = this.#i;
    const found = this.#quantifier() !== undefined;
    this.#i = save;
    return found;
  }

  #quantifier(): { min: number; max: number } | undefined {
    const c = this.#chars[this.#i];
    if (c === '*' || c === '+' || c === '?') {
      this.#i++;
      return { min: c === '+' ? 1 : 0, max: c === '?' ? 1 : Infinity };
    }
    if (c !== '{') return undefined;
    // As in Python, a '{' that does not form {m}, {m,}, {,n} or {m,n} is a literal.
    const braces = /^\{(\d*)(,(\d*))?\}/.exec(this.#chars.slice(this.#i, this.#i + 24).join(''));
    if (braces === null || (braces[1] === '' && braces[2] === undefined)) return undefined;
    this.#i += Array.from(braces[0]).length;
    const min = braces[1] === '' ? 0 : Number(braces[1]);
    const max = braces[2] === undefined ? min : braces[3] === '' ? Infinity : Number(braces[3]);
    return { min, max };
  }

  #atom(): RegexNode {
    const at = this.#i;
    const c = this.#chars[this.#i++] as string;
    switch (c) {
      case '(':
        return this.#group(at);
      case '[':
        return { kind: 'char', test: this.#class(at) };
      case '.':
        return { kind: 'char', test: (x) => x !== 10 };
      case '^':
        return { kind: 'assert', assertion: 'start' };
      case '$':
        return { kind: 'assert', assertion: 'end' };
      case '\\':
        return this.#escape(at);
      case '*':
      case '+':
      case '?':
        throw this.#error('nothing to repeat', at);
      case '{':
        this.#i = at;
        if (this.#quantifierAhead()) throw this.#error('nothing to repeat', at);
        this.#i = at + 1;
        return this.#literal(c);
      default:
        return this.#literal(c);
    }
  }

  #group(at: number): RegexNode {
    if (this.#chars[this.#i] === '?') {
      const kind = this.#chars.slice(this.#i, this.#i + 3).join('');
      if (kind.startsWith('?:')) {
        this.#i += 2;
      } else if (kind === '?P<') {
        const name = /^\?P<([A-Za-z_]\w*)>/.exec(this.#chars.slice(this.#i, this.#i + 80).join(''));
        if (name === null) throw this.#error('bad group name', at);
        this.#i += name[0].length;
      } else if (kind === '?P=') {
        throw this.#error('backreferences are not supported', at);
      } else if (/^\?(=|!|<=|<!)/.test(kind)) {
        throw this.#error('lookahead and lookbehind are not supported', at);
      } else {
        throw this.#error('inline flags and extensions "(?...)" are not supported', at);
      }
    }
    const inner = this.#alternation();
    if (this.#chars[this.#i] !== ')') throw this.#error('missing ), unterminated subpattern', at);
    this.#i++;
    return inner;
  }

  #escape(at: number): RegexNode {
    const c = this.#chars[this.#i++];
    if (c === undefined) throw this.#error('bad escape (end of pattern)', at);
    if (c === 'A') return { kind: 'assert', assertion: 'start' };
    if (c === 'Z') return { kind: 'assert', assertion: 'end' };
    if (c === 'b') return { kind: 'assert', assertion: 'word-boundary' };
    if (c === 'B') return { kind: 'assert', assertion: 'not-word-boundary' };
    const named = CLASS_ESCAPES[c];
    if (named !== undefined) return { kind: 'char', test: named };
    return this.#literal(this.#escapedChar(c, at));
  }

  /** The character an escape stands for (`\n`, `\x41`, `\.`), or an error for what we refuse. */
  #escapedChar(c: string, at: number): string {
    const control = CHAR_ESCAPES[c];
    if (control !== undefined) return control;
    if (c === 'x' || c === 'u' || c === 'U') {
      const digits = { x: 2, u: 4, U: 8 }[c];
      const hex = this.#chars.slice(this.#i, this.#i + digits).join('');
      if (hex.length !== digits || !/^[0-9a-fA-F]+$/.test(hex) || Number.parseInt(hex, 16) > 0x10ffff) {
        throw this.#error(`incomplete escape \\${c}${hex}`, at);
      }
      this.#i += digits;
      return String.fromCodePoint(Number.parseInt(hex, 16));
    }
    if (/[0-9]/.test(c)) throw this.#error('backreferences and octal escapes are not supported', at);
    if (/[A-Za-z]/.test(c)) throw this.#error(`bad escape \\${c}`, at);
    return c;
  }

  #class(at: number): CharTest {
    const negated = this.#chars[this.#i] === '^';
    if (negated) this.#i++;
    const ranges: number[] = []; // lo, hi, lo, hi, ...
    const named: CharTest[] = [];
    let first = true;
    for (;;) {
      const c = this.#chars[this.#i];
      if (c === undefined) throw this.#error('unterminated character set', at);
      if (c === ']' && !first) break;
      first = false;
      const itemAt = this.#i;
      const low = this.#classItem();
      if (this.#chars[this.#i] === '-' && this.#chars[this.#i + 1] !== ']' && this.#i + 1 < this.#chars.length) {
        this.#i++;
        const high = this.#classItem();
        if (typeof low !== 'string' || typeof high !== 'string') throw this.#error('bad character range', itemAt);
        if (codeOf(low) > codeOf(high)) throw this.#error(`bad character range ${low}-${high}`, itemAt);
        ranges.push(codeOf(low), codeOf(high));
      } else if (typeof low === 'string') {
        ranges.push(codeOf(low), codeOf(low));
      } else {
        named.push(low);
      }
    }
    this.#i++;
    const member = this.#fold((x) => {
      for (let r = 0; r < ranges.length; r += 2)
        if (x >= (ranges[r] as number) && x <= (ranges[r + 1] as number)) return true;
      return named.some((test) => test(x));
    });
    return negated ? (x) => !member(x) : member;
  }

  /** One member of a class: a character, or a class escape such as \d. */
  #classItem(): string | CharTest {
    const c = this.#chars[this.#i++] as string;
    if (c !== '\\') return c;
    const at = this.#i - 1;
    const e = this.#chars[this.#i++];
    if (e === undefined) throw this.#error('unterminated character set', at);
    if (e === 'b') return '\b';
    return CLASS_ESCAPES[e] ?? this.#escapedChar(e, at);
  }

  #literal(c: string): RegexNode {
    const code = codeOf(c);
    return { kind: 'char', test: this.#fold((x) => x === code) };
  }

  #fold(test: CharTest): CharTest {
    return this.#ignoreCase ? (x) => test(x) || test(toLower(x)) || test(toUpper(x)) : test;
  }

  #error(problem: string, index: number): PhoenixError {
    const position = this.#position + index;
    return invalid(`bad regular expression: ${problem} at position ${position}`, { position });
  }
}

/** A node that matches only the empty string without looking at anything: repeating it is a no-op. */
function isEmpty(node: RegexNode): boolean {
  return (node.kind === 'seq' && node.items.every(isEmpty)) || (node.kind === 'repeat' && isEmpty(node.node));
}

function emit(node: RegexNode, program: Instruction[], budget: RegexBudget, source: string, position: number): void {
  const push = (instruction: Instruction): number => {
    if (--budget.steps < 0) {
      throw invalid(
        `the regular expression ${quote(source)} at position ${position} is too complex ` +
          `(more than ${TARGET_LIMITS.regexSteps} steps in one target)`,
        { position },
      );
    }
    return program.push(instruction) - 1;
  };
  const recurse = (inner: RegexNode) => emit(inner, program, budget, source, position);
  switch (node.kind) {
    case 'char':
      push({ op: 'char', test: node.test });
      return;
    case 'assert':
      push({ op: 'assert', assertion: node.assertion });
      return;
    case 'seq':
      node.items.forEach(recurse);
      return;
    case 'alt': {
      const exits: { op: 'jump'; x: number }[] = [];
      node.options.forEach((option, index) => {
        if (index === node.options.length - 1) return recurse(option);
        const split = { op: 'split' as const, x: program.length + 1, y: -1 };
        push(split);
        recurse(option);
        const exit = { op: 'jump' as const, x: -1 };
        push(exit);
        exits.push(exit);
        split.y = program.length;
      });
      for (const exit of exits) exit.x = program.length;
      return;
    }
    case 'repeat': {
      for (let i = 0; i < node.min; i++) recurse(node.node);
      if (node.max === Infinity) {
        const loop = { op: 'split' as const, x: program.length + 1, y: -1 };
        const start = push(loop);
        recurse(node.node);
        push({ op: 'jump', x: start });
        loop.y = program.length;
        return;
      }
      const skips: { op: 'split'; x: number; y: number }[] = [];
      for (let i = node.min; i < node.max; i++) {
        const skip = { op: 'split' as const, x: program.length + 1, y: -1 };
        push(skip);
        skips.push(skip);
        recurse(node.node);
      }
      for (const skip of skips) skip.y = program.length;
      return;
    }
  }
}

const MATCHED = Symbol('matched');
/** Thread entries and transitions one regex may cache (a few MB at most); beyond it, states are not kept. */
const AUTOMATON_CACHE_LIMIT = 100_000;

/**
 * A state: the program counters waiting for the next character (before following jumps, splits
 * and assertions), and whether the character just read was a word character (for \b).
 */
interface AutomatonState {
  readonly waiting: readonly number[];
  readonly atStart: boolean;
  readonly afterWordChar: boolean;
  readonly next: Map<number, AutomatonState | typeof MATCHED>;
  acceptsAtEnd?: boolean;
}

/**
 * Runs a program on all its threads in lockstep (Thompson/Pike), so a match costs at most program
 * size × text length. The sets of threads it meets are cached as states of a lazy DFA: one regex is
 * matched against thousands of ids, and after the first few each character costs one map lookup.
 * The cache is per regex and invisible from outside; when it is full it stops growing and new
 * states are used once and dropped, which costs what the plain simulation costs.
 */
class RegexAutomaton {
  readonly #program: readonly Instruction[];
  /** The generation in which each instruction was last visited; 2^53 generations never run out. */
  readonly #seen: Float64Array;
  #generation = 0;
  readonly #states = new Map<string, AutomatonState>();
  readonly #start: AutomatonState;
  #cacheSize = 0;

  constructor(program: readonly Instruction[]) {
    this.#program = program;
    this.#seen = new Float64Array(program.length);
    this.#start = this.#state([0], true, false);
  }

  /** Python's re.match: true as soon as a thread reaches `match`, wherever the text is then. */
  matches(text: string): boolean {
    let state = this.#start;
    for (let at = 0; at < text.length;) {
      if (state.waiting.length === 0) return false;
      const c = text.codePointAt(at) as number;
      at += c > 0xffff ? 2 : 1;
      const next = state.next.get(c) ?? this.#step(state, c);
      if (next === MATCHED) return true;
      state = next;
    }
    state.acceptsAtEnd ??= this.#follow(state, true, false).matched;
    return state.acceptsAtEnd;
  }

  #step(state: AutomatonState, c: number): AutomatonState | typeof MATCHED {
    const { threads, matched } = this.#follow(state, false, isWordChar(c));
    let next: AutomatonState | typeof MATCHED = MATCHED;
    if (!matched) {
      const waiting: number[] = [];
      for (const pc of threads) if ((this.#program[pc] as { test: CharTest }).test(c)) waiting.push(pc + 1);
      next = this.#state(waiting, false, isWordChar(c));
    }
    if (this.#cacheSize < AUTOMATON_CACHE_LIMIT) {
      this.#cacheSize++;
      state.next.set(c, next);
    }
    return next;
  }

  #state(waiting: number[], atStart: boolean, afterWordChar: boolean): AutomatonState {
    if (this.#cacheSize >= AUTOMATON_CACHE_LIMIT) return { waiting, atStart, afterWordChar, next: new Map() };
    waiting.sort((a, b) => a - b);
    const key = `${atStart ? 's' : ''}${afterWordChar ? 'w' : ''}:${waiting.join(',')}`;
    let state = this.#states.get(key);
    if (state === undefined) {
      state = { waiting, atStart, afterWordChar, next: new Map() };
      this.#states.set(key, state);
      this.#cacheSize += waiting.length + 1;
    }
    return state;
  }

  /** Follows jumps, splits and assertions from the waiting counters; collects the character steps. */
  #follow(state: AutomatonState, atEnd: boolean, nextIsWordChar: boolean): { threads: number[]; matched: boolean } {
    const generation = ++this.#generation;
    const threads: number[] = [];
    const stack = [...state.waiting];
    while (stack.length > 0) {
      const pc = stack.pop() as number;
      if (this.#seen[pc] === generation) continue;
      this.#seen[pc] = generation;
      const instruction = this.#program[pc] as Instruction;
      switch (instruction.op) {
        case 'match':
          return { threads, matched: true };
        case 'jump':
          stack.push(instruction.x);
          break;
        case 'split':
          stack.push(instruction.y, instruction.x);
          break;
        case 'char':
          if (!atEnd) threads.push(pc);
          break;
        case 'assert': {
          const { assertion } = instruction;
          const boundary = state.afterWordChar !== (!atEnd && nextIsWordChar);
          const holds =
            assertion === 'start'
              ? state.atStart
              : assertion === 'end'
                ? atEnd
                : boundary === (assertion === 'word-boundary');
          if (holds) stack.push(pc + 1);
          break;
        }
      }
    }
    return { threads, matched: false };
  }
}
