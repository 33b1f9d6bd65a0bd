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
