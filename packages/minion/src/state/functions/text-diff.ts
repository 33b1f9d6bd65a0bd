/** Beyond this many differing lines a diff says so instead of growing without bound. */
const MAX_EDIT_DISTANCE = 2_000;
const CONTEXT = 3;

type Edit = { op: ' ' | '-' | '+'; line: string };

/**
 * A unified diff (3 lines of context) of two texts, as Salt shows in file.managed changes.
 * Myers' O(ND) algorithm; a huge rewrite is summarized rather than computed.
 */
export function unifiedDiff(before: string, after: string): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const edits = myers(a, b);
  if (edits === undefined)
    return `Replace file: ${a.length} lines with ${b.length} lines (too many differences to show)`;
  return ['--- ', '+++ ', ...hunks(edits)].join('\n');
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  else lines[lines.length - 1] += '\n\\ No newline at end of file';
  return lines;
}

function myers(a: readonly string[], b: readonly string[]): Edit[] | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && (v[offset + k - 1] ?? 0) < (v[offset + k + 1] ?? 0))) x = v[offset + k + 1] ?? 0;
      else x = (v[offset + k - 1] ?? 0) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
    v = next;
  }
  if (!found) return undefined;
  // Walk the trace back from (n, m).
  const edits: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const prev = trace[d] as Int32Array;
    const k = x - y;
    let prevK: number;
    if (k === -d || (k !== d && (prev[offset + k - 1] ?? 0) < (prev[offset + k + 1] ?? 0))) prevK = k + 1;
    else prevK = k - 1;
    const prevX = d === 0 ? 0 : (prev[offset + prevK] ?? 0);
    const prevY = d === 0 ? 0 : prevX - prevK;
    while (x > prevX && y > prevY) {
      edits.push({ op: ' ', line: a[x - 1] as string });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) edits.push({ op: '+', line: b[y - 1] as string });
      else edits.push({ op: '-', line: a[x - 1] as string });
    }
    x = prevX;
    y = prevY;
  }
  return edits.reverse();
}

function hunks(edits: readonly Edit[]): string[] {
  const out: string[] = [];
  let i = 0;
  let aLine = 1;
  let bLine = 1;
  // positions (in edits) of each edit's a/b line numbers
  const positions = edits.map((edit) => {
    const at = { a: aLine, b: bLine };
    if (edit.op !== '+') aLine++;
    if (edit.op !== '-') bLine++;
    return at;
  });
  while (i < edits.length) {
    while (i < edits.length && edits[i]?.op === ' ') i++;
    if (i >= edits.length) break;
    const start = Math.max(0, i - CONTEXT);
    let end = i;
    let lastChange = i;
    while (end < edits.length) {
      if (edits[end]?.op !== ' ') lastChange = end;
      else if (end - lastChange > 2 * CONTEXT) break;
      end++;
    }
    end = Math.min(edits.length, lastChange + CONTEXT + 1);
    const slice = edits.slice(start, end);
    const first = positions[start] as { a: number; b: number };
    const aCount = slice.filter((e) => e.op !== '+').length;
    const bCount = slice.filter((e) => e.op !== '-').length;
    const aStart = aCount === 0 ? first.a - 1 : first.a;
    const bStart = bCount === 0 ? first.b - 1 : first.b;
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`);
    for (const edit of slice) out.push(`${edit.op}${edit.line}`);
    i = end;
  }
  return out;
}
