import { useState } from 'preact/hooks';

// A return made readable: a state run as the highstate outputter shows it (per state: result,
// comment, duration, changes with file diffs coloured; a summary per minion), anything else as a
// collapsible tree. Every value is rendered as text: nothing a minion returns becomes markup.

/** One state's result as the state engine returns it (Salt's shape). */
interface StateResult {
  tag: string;
  id: string;
  fun: string;
  name: string;
  result: boolean | null;
  comment: string;
  duration: number | undefined;
  changes: Record<string, unknown>;
  order: number;
}

export interface StateSummary {
  succeeded: number;
  changed: number;
  failed: number;
  total: number;
  durationMs: number;
}

export interface ResultFilter {
  onlyFailures: boolean;
  onlyChanges: boolean;
}

const isMapping = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A state run's results (`module_|-id_|-name_|-function` → result), or undefined for any other return. */
export function stateResults(ret: unknown): StateResult[] | undefined {
  if (!isMapping(ret)) return undefined;
  const entries = Object.entries(ret);
  if (entries.length === 0 || !entries.every(([tag, r]) => tag.includes('_|-') && isMapping(r) && 'result' in r)) {
    return undefined;
  }
  return entries
    .map(([tag, raw]) => {
      const r = raw as Record<string, unknown>;
      const [module = '', id = '', name = '', fun = ''] = tag.split('_|-');
      return {
        tag,
        id: typeof r.__id__ === 'string' ? r.__id__ : id,
        fun: `${module}.${fun}`,
        name: typeof r.name === 'string' ? r.name : name,
        result: r.result === true ? true : r.result === false ? false : null,
        comment: typeof r.comment === 'string' ? r.comment : JSON.stringify(r.comment ?? ''),
        duration: typeof r.duration === 'number' ? r.duration : undefined,
        changes: isMapping(r.changes) ? r.changes : {},
        order: typeof r.__run_num__ === 'number' ? r.__run_num__ : Number.MAX_SAFE_INTEGER,
      };
    })
    .sort((a, b) => a.order - b.order);
}

const hasChanges = (s: StateResult): boolean => Object.keys(s.changes).length > 0;

/** Succeeded (changed among them) and failed, as the highstate outputter's summary counts them. */
export function summarise(states: readonly StateResult[]): StateSummary {
  let succeeded = 0;
  let changed = 0;
  let failed = 0;
  let durationMs = 0;
  for (const s of states) {
    if (s.result === false) failed++;
    else succeeded++;
    if (s.result === true && hasChanges(s)) changed++;
    durationMs += s.duration ?? 0;
  }
  return { succeeded, changed, failed, total: states.length, durationMs };
}

const ms = (value: number): string => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`);

/** A diff (`--- a` / `+++ b` / `@@` / `+line` / `-line`), each line coloured by what it does. */
function Diff({ text }: { text: string }) {
  return (
    <pre class="diff">
      {text.split('\n').map((line, i) => (
        <span
          key={i}
          class={
            line.startsWith('+++') || line.startsWith('---')
              ? 'diff-file'
              : line.startsWith('@@')
                ? 'diff-hunk'
                : line.startsWith('+')
                  ? 'diff-add'
                  : line.startsWith('-')
                    ? 'diff-del'
                    : undefined
          }
        >
          {line}
          {'\n'}
        </span>
      ))}
    </pre>
  );
}

/** A state's changes: a file's `diff` coloured, everything else as a tree. */
function Changes({ changes }: { changes: Record<string, unknown> }) {
  const { diff, ...rest } = changes;
  return (
    <div class="changes">
      {typeof diff === 'string' && (diff.includes('\n') ? <Diff text={diff} /> : <span class="diff-file">{diff}</span>)}
      {Object.keys(rest).length > 0 && <Tree value={rest} open />}
    </div>
  );
}

/** One minion's state run: a summary line, then one block per state the filter keeps. */
export function StateRun({ states, filter }: { states: readonly StateResult[]; filter: ResultFilter }) {
  const summary = summarise(states);
  const shown = states.filter(
    (s) => (!filter.onlyFailures || s.result === false) && (!filter.onlyChanges || hasChanges(s)),
  );
  return (
    <div class="state-run">
      <p
        class="state-summary"
        data-succeeded={summary.succeeded}
        data-changed={summary.changed}
        data-failed={summary.failed}
      >
        <span class="badge ok">succeeded {summary.succeeded}</span>{' '}
        <span class="badge changed">changed {summary.changed}</span>{' '}
        <span class={summary.failed > 0 ? 'badge bad' : 'badge'}>failed {summary.failed}</span>{' '}
        <span class="muted">
          {summary.total} states, {ms(summary.durationMs)}
        </span>
      </p>
      {shown.map((s) => {
        const kind =
          s.result === false ? 'failed' : s.result === null ? 'differs' : hasChanges(s) ? 'changed' : 'clean';
        return (
          <div class={`state ${kind}`} key={s.tag} data-state-id={s.id} data-result={kind}>
            <div class="state-head">
              <span class={`badge ${kind}`}>{kind}</span> <strong>{s.id}</strong> <code>{s.fun}</code>
              {s.name !== s.id && <span class="muted"> {s.name}</span>}
              <span class="spacer" />
              {s.duration !== undefined && <span class="muted">{ms(s.duration)}</span>}
            </div>
            {s.comment !== '' && <pre class="comment">{s.comment}</pre>}
            {hasChanges(s) && <Changes changes={s.changes} />}
          </div>
        );
      })}
      {shown.length === 0 && <p class="muted">No state matches the filter.</p>}
    </div>
  );
}

const LONG = 2000;

/** A scalar as text; long text wraps, folds after a screenful and can be copied. */
function Scalar({ value }: { value: unknown }) {
  const [all, setAll] = useState(false);
  if (typeof value !== 'string')
    return <code class={`scalar ${value === null ? 'null' : typeof value}`}>{JSON.stringify(value)}</code>;
  if (!value.includes('\n') && value.length < 120) return <code class="scalar string">{value}</code>;
  return (
    <div class="long">
      <pre>{all || value.length <= LONG ? value : `${value.slice(0, LONG)}…`}</pre>
      <div class="row">
        {value.length > LONG && (
          <button type="button" onClick={() => setAll(!all)}>
            {all ? 'Fold' : `Show all ${value.length} characters`}
          </button>
        )}
        <CopyButton text={value} />
      </div>
    </div>
  );
}

function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState<string | undefined>();
  return (
    <button
      type="button"
      name="copy"
      onClick={() =>
        navigator.clipboard.writeText(text).then(
          () => setDone('copied'),
          () => setDone('the browser refused to copy'),
        )
      }
    >
      {done ?? 'Copy'}
    </button>
  );
}

/** Any return as a tree: mappings and lists fold (`<details>`), scalars are text. */
export function Tree({ value, open = false, depth = 0 }: { value: unknown; open?: boolean; depth?: number }) {
  if (value === null || typeof value !== 'object') return <Scalar value={value} />;
  const entries: Array<[string, unknown]> = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return <code class="scalar">{Array.isArray(value) ? '[]' : '{}'}</code>;
  return (
    <details class="tree" open={open || depth < 2}>
      <summary>{Array.isArray(value) ? `list of ${entries.length}` : `${entries.length} keys`}</summary>
      <dl>
        {entries.map(([key, child]) => (
          <div key={key} class="tree-entry">
            <dt>{key}</dt>
            <dd>
              <Tree value={child} depth={depth + 1} />
            </dd>
          </div>
        ))}
      </dl>
    </details>
  );
}

/** A return as it reads best: a state run as states, anything else as a tree. */
export function ReturnView({ ret, filter }: { ret: unknown; filter: ResultFilter }) {
  const states = stateResults(ret);
  if (states !== undefined) return <StateRun states={states} filter={filter} />;
  return <Tree value={ret} open />;
}

/** The two filters over every minion's state run. */
export function ResultFilters({ filter, onChange }: { filter: ResultFilter; onChange: (f: ResultFilter) => void }) {
  return (
    <div class="row result-filters">
      <label>
        <input
          type="checkbox"
          name="only-failures"
          checked={filter.onlyFailures}
          onChange={(e) => onChange({ ...filter, onlyFailures: e.currentTarget.checked })}
        />{' '}
        only failures
      </label>
      <label>
        <input
          type="checkbox"
          name="only-changes"
          checked={filter.onlyChanges}
          onChange={(e) => onChange({ ...filter, onlyChanges: e.currentTarget.checked })}
        />{' '}
        only changes
      </label>
    </div>
  );
}
