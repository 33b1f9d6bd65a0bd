import { PyError } from './python.js';

/**
 * Python's `re` syntax for the regex filters and tests: named groups `(?P<name>...)`, `(?P=name)`,
 * leading inline flags, `\A` and `\Z`, and replacement strings with `\1`, `\g<1>`, `\g<name>`.
 * A runaway pattern is bounded by the render timeout (templates run in their own worker).
 */
export function pythonRegex(pattern: string, flags: string): { regex: RegExp; replacement(text: string): string } {
  let source = pattern;
  let jsFlags = flags;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source);
  if (inline) {
    source = source.slice(inline[0].length);
    for (const letter of inline[1] ?? '') {
      if ('ims'.includes(letter) && !jsFlags.includes(letter)) jsFlags += letter;
    }
  }
  source = source
    .replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>')
    .replace(/(^|[^\\])\\A/g, '$1^')
    .replace(/(^|[^\\])\\Z/g, '$1$(?![\\s\\S])');
  let regex: RegExp;
  try {
    regex = new RegExp(source, `${jsFlags}u`);
  } catch {
    try {
      regex = new RegExp(source, jsFlags);
    } catch (err) {
      throw new PyError('re.error', `${(err as Error).message}`);
    }
  }
  return {
    regex,
    replacement: (text: string) =>
      text
        .replace(/\$/g, '$$$$')
        .replace(/\\g<(\d+)>/g, '$$$1')
        .replace(/\\g<([A-Za-z_]\w*)>/g, '$$<$1>')
        .replace(/\\(\d{1,2})/g, '$$$1')
        .replace(/\\n/g, '\n')
        .replace(/\\t/g, '\t')
        .replace(/\\\\/g, '\\'),
  };
}
