/**
 * Salt's command-line argument rule, shared by `phoenix run` and `phoenix call`: `key=value` is a
 * keyword argument, anything else positional; simple literals become numbers, booleans and null,
 * and `[...]`/`{...}` are parsed as JSON when they are JSON.
 */
export function splitArguments(words: readonly string[]): { args: unknown[]; kwargs: Record<string, unknown> } {
  const args: unknown[] = [];
  const kwargs: Record<string, unknown> = {};
  for (const word of words) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(word);
    if (match) kwargs[match[1] as string] = literal(match[2] as string);
    else args.push(literal(word));
  }
  return { args, kwargs };
}

function literal(text: string): unknown {
  if (/^(true|True)$/.test(text)) return true;
  if (/^(false|False)$/.test(text)) return false;
  if (/^(null|None|~)$/.test(text)) return null;
  // A number only when it survives the trip: a jid or a long id stays the string it was.
  if (/^-?(0|[1-9]\d*)(\.\d+)?$/.test(text) && String(Number(text)) === text) return Number(text);
  if (/^[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** A line that does not split into words: an unterminated quote or a trailing backslash. */
export interface CommandLineError {
  error: string;
}

/**
 * A command line split into words as a POSIX shell splits `phoenix run TARGET FUN ARGS...` before
 * Phoenix sees them: blanks separate words; `'…'` is literal; in `"…"` a backslash escapes only
 * `$`, `` ` ``, `"`, `\` and a newline; elsewhere a backslash escapes the next character; an
 * unquoted `#` that starts a word starts a comment. Nothing is expanded (no variables, globs or
 * `~`: the dashboard has no shell environment), so type them quoted as you would to be safe.
 */
export function shellWords(line: string): string[] | CommandLineError {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (c === '#' && word === undefined) {
      const end = line.indexOf('\n', i);
      i = end === -1 ? line.length : end;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) return { error: `unterminated ' quote at character ${i + 1}` };
      word = (word ?? '') + line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '$`"\\\n'.includes(line[j + 1] as string)) {
          j++;
          if (line[j] !== '\n') text += line[j];
        } else text += line[j];
      }
      if (j >= line.length) return { error: `unterminated " quote at character ${i + 1}` };
      word = (word ?? '') + text;
      i = j + 1;
    } else if (c === '\\') {
      if (i + 1 >= line.length) return { error: 'a backslash ends the line' };
      // A backslash-newline joins the lines; any other escaped character is itself.
      if (line[i + 1] !== '\n') word = (word ?? '') + line[i + 1];
      i += 2;
    } else {
      word = (word ?? '') + c;
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** A typed argument line as `phoenix run` receives it from the shell: words, then `splitArguments`. */
export function parseCommandLine(
  line: string,
): { args: unknown[]; kwargs: Record<string, unknown> } | CommandLineError {
  const words = shellWords(line);
  return 'error' in words ? words : splitArguments(words);
}
