import { compileGlob } from '@phoenix/protocol';

/** Longer patterns are refused: function names are short, and the regex cost grows with the pattern. */
const MAX_PATTERN_LENGTH = 255;

/**
 * Python's fnmatch, as Salt uses it for function names (`test.*`, `cmd.run*`, `t?st.ping`,
 * `[ct]*`): `*`, `?`, `[seq]`, `[!seq]`, whole name, case-sensitive; a `[` without `]` is literal.
 */
export function globMatcher(pattern: string): (name: string) => boolean {
  if (pattern.length > MAX_PATTERN_LENGTH) return () => false;
  return compileGlob(pattern, false);
}

/**
 * Salt's selection for sys.doc and sys.list_functions: a pattern with `*` or `.` is a glob on the
 * function name; a bare word is a module name (`sys` matches sys.* but not sysctl.*).
 */
export function selectFunctions(names: readonly string[], pattern: string | undefined): string[] {
  if (pattern === undefined || pattern === '') return [...names];
  if (pattern.includes('*') || pattern.includes('.')) return names.filter(globMatcher(pattern));
  return names.filter((name) => name.startsWith(`${pattern}.`));
}
