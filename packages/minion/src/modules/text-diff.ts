import { structuredPatch } from 'diff';

/** Beyond this many lines a diff says so instead of growing a state's return without bound. */
const MAX_LINES = 20_000;

/**
 * A unified diff with 3 lines of context, as Salt shows in `changes.diff`: Python's
 * `difflib.unified_diff` over the two files' lines (empty file names, a one-line range without its
 * length, no "\ No newline" marker). Empty when the texts are equal.
 */
export function unifiedDiff(before: string, after: string): string {
  if (before === after) return '';
  const lines = (text: string) => (text.match(/\n/g)?.length ?? 0) + 1;
  if (lines(before) + lines(after) > MAX_LINES)
    return `Replace file: ${lines(before)} lines with ${lines(after)} lines (too large to show a diff)`;
  const patch = structuredPatch('', '', before, after, '', '', { context: 3 });
  const out: string[] = ['--- ', '+++ '];
  let endsWithNewline = true;
  for (const hunk of patch.hunks) {
    out.push(`@@ -${range(hunk.oldStart, hunk.oldLines)} +${range(hunk.newStart, hunk.newLines)} @@`);
    for (const line of hunk.lines) {
      if (line.startsWith('\\')) endsWithNewline = false;
      else {
        out.push(line);
        endsWithNewline = true;
      }
    }
  }
  return out.join('\n') + (endsWithNewline ? '\n' : '');
}

function range(start: number, length: number): string {
  if (length === 1) return String(start);
  return `${start},${length}`;
}

/** Salt's `changes.diff` for a file whose content changes. */
export function contentDiff(before: Buffer, after: Buffer, showChanges: boolean): string {
  if (!showChanges) return '<show_changes=False>';
  if (before.includes(0) || after.includes(0)) return 'Replace binary file';
  return unifiedDiff(before.toString('utf8'), after.toString('utf8'));
}
