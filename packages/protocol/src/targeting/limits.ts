import { invalid } from './errors.js';

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
  /**
   * Instructions all regular expressions of one target may compile to (RE2's program size; `a{1000}`
   * is about 1000). RE2 runs in time linear in the value, but each character can cost a step per
   * instruction, so without this one short pattern such as `.{0,999}.{0,999}x` makes every match slow.
   */
  regexSteps: 2000,
  /** Longer grain values never match a glob or a regex: matching cost grows with their length. */
  matchedValueLength: 1024,
});

export function checkExpression(expression: string, maxLength: number): void {
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
export function controlCharacterAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
      return i;
    }
  }
  return -1;
}
