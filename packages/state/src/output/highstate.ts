/**
 * Salt's `highstate` outputter for one minion's state run, as a pure function: the CLI prints it,
 * and it is the same on every side that shows a state run. The modes are Salt's `state_output`
 * (see HighstateOutputOptions.mode), then the summary.
 */

export interface HighstateOutputOptions {
  readonly colour: boolean;
  /**
   * Salt's `state_output`: `full` (every state in full), `terse` (one line each), `mixed` (only
   * failures in full), `changes` (failures and changes in full; the default here); the `_id` forms
   * name states by ID in the one-line form.
   */
  readonly mode?: StateOutputMode;
  /** Salt's `state_verbose`: false leaves out states that succeeded without changes. Default true. */
  readonly verbose?: boolean;
  /** Named in the summary ("Summary for web-1"). */
  readonly minion?: string;
}

export const STATE_OUTPUT_MODES = [
  'full',
  'terse',
  'mixed',
  'changes',
  'full_id',
  'terse_id',
  'mixed_id',
  'changes_id',
] as const;
export type StateOutputMode = (typeof STATE_OUTPUT_MODES)[number];

/** The fields of one state result that the outputter reads (Salt's shape). */
interface ResultLike {
  readonly name?: unknown;
  readonly result?: unknown;
  readonly comment?: unknown;
  readonly changes?: unknown;
  readonly duration?: unknown;
  readonly start_time?: unknown;
  readonly __run_num__?: unknown;
  readonly __id__?: unknown;
}

const ANSI = {
  green: '\u001b[0;32m',
  cyan: '\u001b[0;36m',
  red: '\u001b[0;31m',
  yellow: '\u001b[1;33m',
  reset: '\u001b[0;0m',
} as const;
type Colour = keyof typeof ANSI;

const RULE = '----------';
const CHANGES_INDENT = 14;

/**
 * Formats a state run's return: the results map (`module_|-id_|-name_|-function` → result), or
 * the list of messages of a run that did not compile, or any other return (an error string).
 */
export function formatHighstate(ret: unknown, options: HighstateOutputOptions): string {
  const paint = (colour: Colour, text: string): string =>
    options.colour ? `${ANSI[colour]}${text}${ANSI.reset}` : text;
  const minion = options.minion ?? 'minion';
  if (Array.isArray(ret)) {
    const lines = [`${minion}:`, `    Data failed to compile:`];
    for (const message of ret) lines.push(RULE, ...indentText(String(message), 4));
    return paint('red', lines.join('\n'));
  }
  if (ret === null || typeof ret !== 'object') {
    return paint('red', `${minion}:\n    ${String(ret)}`);
  }
  const entries = Object.entries(ret as Record<string, unknown>)
    .filter((entry): entry is [string, ResultLike] => entry[1] !== null && typeof entry[1] === 'object')
    .sort(([, a], [, b]) => runNum(a) - runNum(b));
  const lines: string[] = [`${minion}:`];
  let succeeded = 0;
  let failed = 0;
  let changed = 0;
  let unchanged = 0;
  let totalMs = 0;
  for (const [tag, result] of entries) {
    const hasChanges = isNonEmptyMapping(result.changes);
    if (result.result === false) failed++;
    else succeeded++;
    if (hasChanges && result.result !== false && result.result !== null) changed++;
    if (result.result === null) unchanged++;
    const duration = typeof result.duration === 'number' ? result.duration : 0;
    totalMs += duration;
    const colour: Colour =
      result.result === false ? 'red' : result.result === null ? 'yellow' : hasChanges ? 'cyan' : 'green';
    const [module = '', id = String(result.__id__ ?? ''), name = '', fun = ''] = tag.split('_|-');
    const shownName = typeof result.name === 'string' ? result.name : name;
    const mode = options.mode ?? 'changes';
    const base = mode.replace(/_id$/, '');
    const clean = result.result === true && !hasChanges;
    if (clean && options.verbose === false) continue;
    const oneLine = base === 'terse' || (base === 'mixed' && result.result !== false) || (base === 'changes' && clean);
    if (oneLine) {
      const word =
        result.result === false ? 'Failed' : result.result === null ? 'Differs' : hasChanges ? 'Changed' : 'Clean';
      const label = mode.endsWith('_id') ? (typeof result.__id__ === 'string' ? result.__id__ : id) : shownName;
      lines.push(
        paint(
          colour,
          `  Name: ${label} - Function: ${module}.${fun} - Result: ${word} - Started: ${String(result.start_time ?? '')} - Duration: ${formatMs(duration)}`,
        ),
      );
      continue;
    }
    const block = [
      RULE,
      `          ID: ${typeof result.__id__ === 'string' ? result.__id__ : id}`,
      `    Function: ${module}.${fun}`,
      ...((typeof result.__id__ === 'string' ? result.__id__ : id) === shownName ? [] : [`        Name: ${shownName}`]),
      `      Result: ${result.result === null ? 'None' : result.result === false ? 'False' : 'True'}`,
      ...labelled(
        '     Comment: ',
        typeof result.comment === 'string' ? result.comment : JSON.stringify(result.comment ?? ''),
      ),
      `     Started: ${String(result.start_time ?? '')}`,
      `    Duration: ${formatMs(duration)}`,
      '     Changes:',
      ...(hasChanges ? changesLines(result.changes, options) : []),
    ];
    lines.push(...block.map((line) => paint(colour, line)));
  }
  const counts = [...(unchanged > 0 ? [`unchanged=${unchanged}`] : []), `changed=${changed}`];
  const summary = [
    '',
    `Summary for ${minion}`,
    '-'.repeat(13),
    paint('green', `Succeeded: ${succeeded} (${counts.join(', ')})`),
    paint(failed > 0 ? 'red' : 'cyan', `Failed:    ${String(failed).padStart(String(succeeded).length)}`),
    '-'.repeat(13),
    `Total states run:     ${entries.length}`,
    `Total run time: ${formatTotal(totalMs).padStart(9)}`,
  ];
  return [...lines, ...summary].join('\n');
}

/**
 * A state's changes, as Salt's outputter shows them: an orchestration step's
 * (`{out: highstate, ret: {minion: state run}}`) as each minion's state run, indented under it;
 * anything else nested.
 */
function changesLines(changes: Record<string, unknown>, options: HighstateOutputOptions): string[] {
  const ret = changes.ret;
  if (changes.out !== 'highstate' || !isNonEmptyMapping(ret)) return nested(changes, CHANGES_INDENT);
  return Object.entries(ret).flatMap(([host, run]) =>
    formatHighstate(run, { ...options, minion: host })
      .split('\n')
      .map((line) => `${' '.repeat(CHANGES_INDENT)}${line}`),
  );
}

function runNum(result: ResultLike): number {
  return typeof result.__run_num__ === 'number' ? result.__run_num__ : Number.MAX_SAFE_INTEGER;
}

function isNonEmptyMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0;
}

function formatMs(ms: number): string {
  return `${ms.toFixed(3)} ms`;
}

function formatTotal(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(3)} s` : `${ms.toFixed(3)} ms`;
}

/** "     Comment: first line" and the next lines aligned under it. */
function labelled(label: string, text: string): string[] {
  const [first = '', ...rest] = text.split('\n');
  return [`${label}${first}`, ...rest.map((line) => `${' '.repeat(label.length)}${line}`)];
}

function indentText(text: string, indent: number): string[] {
  return text.split('\n').map((line) => `${' '.repeat(indent)}${line}`);
}

/** Salt's `nested` outputter: mappings under a rule, keys with a colon, values indented by 4. */
function nested(value: unknown, indent: number): string[] {
  const pad = ' '.repeat(indent);
  if (value === null || value === undefined) return [`${pad}None`];
  if (Array.isArray(value)) {
    return value.flatMap((item) =>
      item !== null && typeof item === 'object'
        ? [`${pad}-`, ...nested(item, indent + 4)]
        : [`${pad}- ${scalar(item)}`],
    );
  }
  if (typeof value === 'object') {
    const lines = [`${pad}${RULE}`];
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      lines.push(`${pad}${key}:`);
      if (typeof item === 'string' && item === '') continue;
      lines.push(...nested(item, indent + 4));
    }
    return lines;
  }
  return indentText(scalar(value), indent);
}

function scalar(value: unknown): string {
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null || value === undefined) return 'None';
  return String(value);
}

/** Salt's rule for colour: on a terminal, unless NO_COLOR is set; `--force-color` and `--no-color` win. */
export function useColour(flags: { forceColor?: boolean; noColor?: boolean }, stream: { isTTY?: boolean }): boolean {
  if (flags.noColor === true) return false;
  if (flags.forceColor === true) return true;
  return stream.isTTY === true && process.env.NO_COLOR === undefined;
}
