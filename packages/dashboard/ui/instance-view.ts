import type { MinionView } from '@phoenix/api';
import { osText, roleText } from './format.js';

// The instance table's view: filters, search and sort, as pure functions of the rows, and as the
// URL's query (`#/?key=pending&conn=offline&sort=highstate`), so a view can be shared.

export const COLUMNS = ['minion', 'key', 'connection', 'lifecycle', 'os', 'highstate', 'disabled'] as const;
export type Column = (typeof COLUMNS)[number];

export interface InstanceView {
  search: string;
  key: string;
  conn: '' | 'connected' | 'offline';
  lifecycle: string;
  /** `master`: connected to (or last on) this master. */
  master: string;
  os: string;
  highstate: '' | 'success' | 'failure' | 'running' | 'never';
  disabled: '' | 'yes' | 'no';
  /** `NAME=VALUE` (VALUE may hold `*`): a grain of the listing's summary. */
  grain: string;
  sort: Column;
  desc: boolean;
}

export const EMPTY_VIEW: InstanceView = {
  search: '',
  key: '',
  conn: '',
  lifecycle: '',
  master: '',
  os: '',
  highstate: '',
  disabled: '',
  grain: '',
  sort: 'minion',
  desc: false,
};

const FIELDS = ['search', 'key', 'conn', 'lifecycle', 'master', 'os', 'highstate', 'disabled', 'grain'] as const;

export function viewFromQuery(query: URLSearchParams): InstanceView {
  const view: InstanceView = { ...EMPTY_VIEW };
  for (const field of FIELDS) {
    const value = query.get(field);
    if (value !== null) (view as unknown as Record<string, string>)[field] = value;
  }
  const sort = query.get('sort');
  if (sort !== null && (COLUMNS as readonly string[]).includes(sort)) view.sort = sort as Column;
  view.desc = query.get('desc') === '1';
  return view;
}

export function viewToQuery(view: InstanceView): URLSearchParams {
  const query = new URLSearchParams();
  for (const field of FIELDS) if (view[field] !== '') query.set(field, view[field]);
  if (view.sort !== 'minion') query.set('sort', view.sort);
  if (view.desc) query.set('desc', '1');
  return query;
}

export function highstateState(m: MinionView): Exclude<InstanceView['highstate'], ''> {
  if (m.highstate?.result !== undefined) return m.highstate.result;
  return m.highstate?.startedAt === undefined ? 'never' : 'running';
}

// A row read again is a new object, so its text is computed again then, and otherwise once.
const searchTexts = new WeakMap<MinionView, string>();

/** A row's text for the search box: its id and every grain value it lists. */
function searchable(m: MinionView): string {
  const known = searchTexts.get(m);
  if (known !== undefined) return known;
  const values: string[] = [m.minionId];
  for (const value of Object.values(m.grains)) {
    if (Array.isArray(value)) values.push(...value.map(String));
    else if (value !== null && typeof value !== 'object') values.push(String(value));
  }
  const text = values.join('\n').toLowerCase();
  searchTexts.set(m, text);
  return text;
}

/** A shell glob (`*`, `?`) over the whole text, case-insensitive. */
export function globMatch(pattern: string, text: string): boolean {
  const source = pattern
    .toLowerCase()
    .split('*')
    .map((part) =>
      part
        .split('?')
        .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.'),
    )
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(text.toLowerCase());
}

function grainMatches(m: MinionView, filter: string): boolean {
  const at = filter.indexOf('=');
  const name = (at === -1 ? filter : filter.slice(0, at)).trim();
  if (name === '') return true;
  const value = m.grains[name];
  if (value === undefined) return false;
  if (at === -1) return true;
  const wanted = filter.slice(at + 1).trim();
  const values = Array.isArray(value) ? value.map(String) : [String(value)];
  return values.some((v) => globMatch(wanted, v));
}

// One collator for every comparison: localeCompare with options builds one per call.
const compareText = new Intl.Collator(undefined, { numeric: true }).compare;

function sortKey(m: MinionView, column: Column): string | number {
  switch (column) {
    case 'minion':
      return m.minionId;
    case 'key':
      return m.keyState ?? '';
    case 'connection':
      return `${m.connected ? 0 : 1}${m.connectedMaster ?? ''}`;
    case 'lifecycle':
      return m.lifecycle?.state ?? '';
    case 'os':
      return `${osText(m)} ${roleText(m)}`;
    case 'highstate':
      return m.highstate?.finishedAt ?? m.highstate?.startedAt ?? 0;
    case 'disabled':
      return m.disabled === undefined ? 1 : 0;
  }
}

/** The rows the view keeps, in its order. */
export function applyView(minions: Iterable<MinionView>, view: InstanceView): MinionView[] {
  const needle = view.search.trim().toLowerCase();
  const os = view.os.trim().toLowerCase();
  const master = view.master.trim().toLowerCase();
  const kept: Array<{ m: MinionView; key: string | number }> = [];
  for (const m of minions) {
    if (view.key !== '' && (m.keyState ?? 'none') !== view.key) continue;
    if (view.conn !== '' && m.connected !== (view.conn === 'connected')) continue;
    // A terminated instance is history: shown only when the lifecycle filter asks for it.
    if (view.lifecycle === '' ? m.lifecycle?.state === 'terminated' : (m.lifecycle?.state ?? 'none') !== view.lifecycle)
      continue;
    if (master !== '' && !(m.connectedMaster ?? '').toLowerCase().includes(master)) continue;
    if (os !== '' && !`${osText(m)} ${roleText(m)}`.toLowerCase().includes(os)) continue;
    if (view.highstate !== '' && highstateState(m) !== view.highstate) continue;
    if (view.disabled !== '' && (m.disabled !== undefined) !== (view.disabled === 'yes')) continue;
    if (view.grain.trim() !== '' && !grainMatches(m, view.grain)) continue;
    if (needle !== '' && !searchable(m).includes(needle)) continue;
    kept.push({ m, key: sortKey(m, view.sort) });
  }
  const sign = view.desc ? -1 : 1;
  kept.sort((a, b) => {
    const order =
      typeof a.key === 'number' && typeof b.key === 'number'
        ? a.key - b.key
        : compareText(String(a.key), String(b.key));
    return sign * (order !== 0 ? order : compareText(a.m.minionId, b.m.minionId));
  });
  return kept.map((k) => k.m);
}
