import { z } from 'zod';
import { ExecutionError } from './errors.js';

/**
 * Salt's states take Python regular expressions (`re`): this turns the common Python-only syntax
 * into JavaScript's. Named groups `(?P<name>...)`, back references `(?P=name)`, leading inline
 * flags `(?i)`, `\A` and `\Z`; Python's `flags` argument as names or the `re` module's numbers.
 * What JavaScript cannot express is refused with a message rather than matched differently.
 */

/** Python's re flag values, as Salt users pass `flags: 8` or `flags: [MULTILINE, IGNORECASE]`. */
const FLAG_BITS: Readonly<Record<string, number>> = {
  IGNORECASE: 2,
  I: 2,
  LOCALE: 4,
  L: 4,
  MULTILINE: 8,
  M: 8,
  DOTALL: 16,
  S: 16,
  UNICODE: 32,
  U: 32,
  VERBOSE: 64,
  X: 64,
};

export const PythonFlags = z
  .union([z.number().int().min(0), z.string(), z.array(z.string())])
  .transform((value, ctx): number => {
    if (typeof value === 'number') return value;
    const names = Array.isArray(value) ? value : value.split(/[|,\s]+/).filter(Boolean);
    let bits = 0;
    for (const name of names) {
      const bit = FLAG_BITS[name.toUpperCase().replace(/^RE\./, '')];
      if (bit === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `'${name}' is not a Python re flag (IGNORECASE, MULTILINE, DOTALL...)`,
        });
        return z.NEVER;
      }
      bits |= bit;
    }
    return bits;
  });

/** A Python pattern as a global JavaScript RegExp; throws a readable error when it cannot be. */
export function pythonRegex(pattern: string, flags = 0, global = true): RegExp {
  let source = pattern;
  let bits = flags;
  // Leading inline flags: (?i), (?ms)...
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source);
  if (inline) {
    source = source.slice(inline[0].length);
    for (const letter of inline[1] ?? '') bits |= FLAG_BITS[letter.toUpperCase()] ?? 0;
  }
  if (bits & FLAG_BITS.VERBOSE!) source = stripVerbose(source);
  source = source
    .replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>')
    .replace(/(^|[^\\])\\A/g, '$1^')
    .replace(/(^|[^\\])\\Z/g, '$1$(?![\\s\\S])');
  let jsFlags = global ? 'g' : '';
  if (bits & FLAG_BITS.IGNORECASE!) jsFlags += 'i';
  if (bits & FLAG_BITS.MULTILINE!) jsFlags += 'm';
  if (bits & FLAG_BITS.DOTALL!) jsFlags += 's';
  jsFlags += 'u';
  try {
    return new RegExp(source, jsFlags);
  } catch {
    // Without the unicode flag JavaScript accepts more of Python's escapes (e.g. \- outside a class).
    try {
      return new RegExp(source, jsFlags.replace('u', ''));
    } catch (err) {
      throw new ExecutionError(`'${pattern}' is not a regular expression Phoenix can use: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

/** Python's `re.sub` replacement (`\1`, `\g<1>`, `\g<name>`, `\n`) as a replacer function. */
export function pythonReplacement(repl: string, literal = false): (match: string, ...rest: unknown[]) => string {
  if (literal) return () => repl;
  return (match: string, ...rest: unknown[]) => {
    const last = rest.at(-1);
    const named = last !== null && typeof last === 'object' ? (last as Record<string, string | undefined>) : undefined;
    const groups = rest.slice(0, named ? -3 : -2) as (string | undefined)[];
    const group = (ref: string): string => {
      if (/^\d+$/.test(ref)) {
        const index = Number(ref);
        return index === 0 ? match : (groups[index - 1] ?? '');
      }
      return named?.[ref] ?? '';
    };
    return repl.replace(
      /\\(?:g<([^>]+)>|(\d{1,2})|([\\nrt]))/g,
      (_all, name?: string, digits?: string, escape?: string) => {
        if (name !== undefined) return group(name);
        if (digits !== undefined) return group(digits);
        return escape === 'n' ? '\n' : escape === 't' ? '\t' : escape === 'r' ? '\r' : '\\';
      },
    );
  };
}

/** Python's re.escape, for `file.comment` and friends that build patterns from text. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function stripVerbose(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i] as string;
    if (ch === '\\') {
      out += ch + (source[i + 1] ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      continue;
    }
    if (/\s/.test(ch)) continue;
    if (ch === '#') {
      while (i < source.length && source[i] !== '\n') i++;
      continue;
    }
    out += ch;
  }
  return out;
}
