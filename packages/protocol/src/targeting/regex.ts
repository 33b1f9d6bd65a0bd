import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';
import { invalid, quote } from './errors.js';
import { TARGET_LIMITS } from './limits.js';

/**
 * Regular expressions (`pcre`, `E@`, `P@`) with Python's `re.match` semantics, run on RE2 (re2js)
 * instead of the JavaScript engine: a backtracking engine can be made to run for hours by one short
 * pattern such as `(a+)+$`, and a master must never hang on a target. RE2 matches in time linear in
 * the value and refuses what would need backtracking (backreferences, lookaround).
 */

/** What the regular expressions of one target have left of TARGET_LIMITS.regexSteps. */
export interface RegexBudget {
  steps: number;
}

/**
 * Compiles a regex that must match at the start of the value, not necessarily up to its end (Python's
 * `re.match`, as Salt uses it). `ignoreCase` is for grain values: Salt matches them case-insensitively.
 */
export function compileRegex(
  source: string,
  ignoreCase: boolean,
  position: number,
  budget: RegexBudget,
): (value: string) => boolean {
  const refuse = (problem: string) =>
    invalid(`bad regular expression ${quote(source)} at position ${position}: ${problem}`, { position });
  if (source.length > TARGET_LIMITS.regexLength) {
    throw refuse(`it is ${source.length} characters long; the limit is ${TARGET_LIMITS.regexLength}`);
  }
  let syntax = source;
  let regex: RE2JS;
  try {
    syntax = fromPythonSyntax(source);
    regex = RE2JS.compile(syntax, ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    if (err instanceof RE2JSSyntaxException) throw refuse(describe(err, syntax));
    if (err instanceof RE2JSException || err instanceof SyntaxError) throw refuse(err.message);
    throw err;
  }
  budget.steps -= regex.programSize();
  if (budget.steps < 0) {
    throw refuse(`too complex (more than ${TARGET_LIMITS.regexSteps} steps in one target)`);
  }
  // lookingAt runs RE2's NFA (or its one-pass or bit-state engines): at most program size × value
  // length, and no DFA that can spend megabytes on a hostile pattern before giving up. The matcher is
  // reused for every value; matching is synchronous, so no two values ever share it at once.
  const matcher = regex.matcher('');
  return (value) => value.length <= TARGET_LIMITS.matchedValueLength && matcher.resetMatcherInput(value).lookingAt();
}

/** RE2's own words, except where they name a symptom instead of what Phoenix does not support. */
function describe(err: RE2JSSyntaxException, syntax: string): string {
  const fragment = err.getPattern() ?? '';
  if (/^\(\?<?[=!]/.test(fragment)) return 'lookahead and lookbehind are not supported';
  if (fragment === '(?P') return 'backreferences (?P=name) are not supported; (?P<name>...) is';
  if (fragment === '' || fragment === syntax) return err.getDescription();
  return `${err.getDescription()}: \`${fragment.slice(0, 40)}\``;
}

// Python 3 classes are Unicode-aware, RE2's are ASCII. Inside a set each expansion starts and ends
// with a class escape, so that `[\w-z]` cannot turn into a range from `_`; `\W` and `\S` cannot be
// expanded inside a set (RE2 has no set intersection), so they are refused there.
const WORD = '\\p{L}_\\p{N}';
const SPACE = '\\s\\v\\x1c-\\x1f\\x85\\p{Z}';
/** Escapes whose meaning differs between Python and RE2: outside a set, inside one; null is refused. */
const ESCAPES: Readonly<Record<string, readonly [string | null, string | null]>> = {
  d: ['\\p{Nd}', '\\p{Nd}'],
  D: ['\\P{Nd}', '\\P{Nd}'],
  w: [`[${WORD}]`, WORD],
  W: [`[^${WORD}]`, null],
  s: [`[${SPACE}]`, SPACE],
  S: [`[^${SPACE}]`, null],
  Z: ['\\z', null],
  b: ['\\b', '\\x08'],
  // Python has no \Q...\E, and RE2's quoting would hide the text after it from this translation.
  Q: [null, null],
};
/** A code point escape, any other escape, a POSIX class, Python's `{,n}`, or any one character. */
const SYNTAX = /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})|\\[^]?|\[:\w+:\]|\{,(\d*)\}|[^]/g;

/**
 * Rewrites what Python and RE2 read differently, so that a pattern matches what it matches in Salt:
 * `\d \w \s` and their negations (Unicode), `{,n}` (`{0,n}`; literal text in RE2), `\Z` (end of the
 * text), `\uXXXX` and `\UXXXXXXXX` (code points) and `[\b]` (a backspace). `\1`..`\9` are
 * backreferences in Python and octal escapes in RE2, so they are refused. `\b` and `\B` stay ASCII:
 * RE2 has no Unicode word boundary.
 */
function fromPythonSyntax(source: string): string {
  let set = -1; // where the '[' of the set being read is, or -1 outside sets
  type Group = string | undefined;
  return source.replace(SYNTAX, (token: string, u: Group, bigU: Group, upTo: Group, at: number) => {
    const codePoint = u ?? bigU;
    if (codePoint !== undefined) return `\\x{${codePoint}}`;
    if (token.length === 2 && token[0] === '\\') return escape(token, set >= 0);
    if (upTo !== undefined && set < 0) return `{0,${upTo}}`;
    if (token === '[' && set < 0) set = at;
    // A ']' right after '[' or '[^' is a member, not the end of the set.
    if (token === ']' && set >= 0 && at > set + (source[set + 1] === '^' ? 2 : 1)) set = -1;
    return token;
  });
}

function escape(token: string, inSet: boolean): string {
  const letter = token[1] as string;
  if (/[0-9]/.test(letter)) throw new SyntaxError(`backreferences and octal escapes (${token}) are not supported`);
  const translations = ESCAPES[letter];
  if (translations === undefined) return token;
  const translated = translations[inSet ? 1 : 0];
  if (translated === null) throw new SyntaxError(`${token}${inSet ? ' inside [...]' : ''} is not supported`);
  return translated;
}
