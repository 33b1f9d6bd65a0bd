import { TARGET_LIMITS } from './limits.js';

/** Python's fnmatch: `*`, `?`, `[seq]`, `[!seq]`; a `[` without `]` is literal, and so is `\`. */

const STAR = 0;
type GlobToken = typeof STAR | string | ((c: string) => boolean);

/** Compiles a glob; matching costs at most pattern length × value length (no backtracking blow-up). */
export function compileGlob(source: string, ignoreCase: boolean): (value: string) => boolean {
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
