import { CompileErrors } from '../errors.js';
import type { HighState, IdDecl, StateDecl } from './high.js';
import { isMapping } from '../data.js';
import { asList } from './high.js';
import { findMatches, REQUISITE_FIELDS } from './chunk.js';
import type { LowChunk, RequisiteField, RequisiteRef } from './chunk.js';

/** Arguments that steer the engine rather than the state function. */
const ENGINE_ARGS = new Set<string>([...REQUISITE_FIELDS, 'order', 'failhard', 'unless', 'onlyif', 'names']);
/** Salt arguments that only matter to features Phoenix does not have: accepted, ignored. */
const IGNORED_ARGS = new Set([
  // Salt's state_aggregate batches pkg states into one call; each state runs on its own here.
  'aggregate',
  'reload_modules',
  'reload_pillar',
  'reload_grains',
  'saltenv',
  '__env__',
  '__sls__',
]);
/** Salt arguments Phoenix refuses rather than silently ignore, because ignoring them changes what runs. */
const UNSUPPORTED_ARGS = new Set(['check_cmd', 'retry', 'parallel']);

/** Explicit orders above this would collide with automatic ones; Salt's auto order starts here. */
const AUTO_ORDER_BASE = 10_000;

interface Draft extends Omit<LowChunk, 'order' | 'args'> {
  args: Record<string, unknown>;
  explicitOrder: number | 'first' | 'last' | undefined;
  /** Position among the names of one `names` list (Salt's name_order). */
  nameOrder?: number;
}

/** Compiles high data into low chunks in execution order (before requisites reorder them). */
export function compileLow(high: HighState): LowChunk[] {
  const errors = new CompileErrors();
  const drafts: Draft[] = [];
  for (const decl of high.ids) {
    for (const state of decl.states) drafts.push(...chunksOf(decl, state, drafts.length, errors));
  }
  resolveUse(drafts, errors);
  errors.throwIfAny();
  return assignOrder(drafts);
}

function chunksOf(decl: IdDecl, state: StateDecl, start: number, errors: CompileErrors): Draft[] {
  const where = `ID '${decl.id}' in SLS '${decl.env}:${decl.sls}'${decl.line === undefined ? '' : ` (salt://${decl.file}, line ${decl.line})`}`;
  const fun = state.fun ?? '';
  const args: Record<string, unknown> = {};
  const requisites = Object.fromEntries(REQUISITE_FIELDS.map((field) => [field, [] as RequisiteRef[]])) as Record<
    RequisiteField,
    RequisiteRef[]
  >;
  let order: Draft['explicitOrder'];
  let failhard: boolean | undefined;
  let fireEvent: boolean | string | undefined;
  let unless: string[] = [];
  let onlyif: string[] = [];
  let names: unknown[] | undefined;
  for (const [key, value] of state.args) {
    if (UNSUPPORTED_ARGS.has(key)) {
      errors.add(`${where}: '${key}' is not supported by Phoenix states`);
    } else if (IGNORED_ARGS.has(key)) {
      continue;
    } else if ((REQUISITE_FIELDS as readonly string[]).includes(key)) {
      requisites[key as RequisiteField].push(...parseRefs(value, key, where, errors));
    } else if (key === 'order') {
      order = parseOrder(value, where, errors);
    } else if (key === 'failhard') {
      if (typeof value !== 'boolean') errors.add(`${where}: 'failhard' must be True or False`);
      else failhard = value;
    } else if (key === 'fire_event') {
      if (typeof value !== 'boolean' && (typeof value !== 'string' || value === '')) {
        errors.add(`${where}: 'fire_event' must be True, False or a tag suffix`);
      } else if (value !== false) fireEvent = value;
    } else if (key === 'unless' || key === 'onlyif') {
      const commands = parseCommands(value, key, where, errors);
      if (key === 'unless') unless = commands;
      else onlyif = commands;
    } else if (key === 'names') {
      if (!Array.isArray(value) || value.length === 0) errors.add(`${where}: 'names' must be a non-empty list`);
      else names = value;
    } else if (ENGINE_ARGS.has(key)) {
      continue;
    } else {
      args[key] = value;
    }
  }
  const base = {
    state: state.module,
    fun,
    id: decl.id,
    sls: decl.sls,
    env: decl.env,
    requisites,
    failhard,
    ...(fireEvent === undefined ? {} : { fireEvent }),
    unless,
    onlyif,
    where,
    explicitOrder: order,
  };
  if (names === undefined) {
    const name = args.name ?? decl.id;
    if (typeof name !== 'string' && typeof name !== 'number') {
      errors.add(`${where}: 'name' must be a string`);
      return [];
    }
    return [{ ...base, name: String(name), args: { ...args, name: String(name) }, index: start }];
  }
  const drafts: Draft[] = [];
  for (const entry of names) {
    let name: unknown = entry;
    let extra: Record<string, unknown> = {};
    if (isMapping(entry) && Object.keys(entry).length === 1) {
      const [key, value] = Object.entries(entry)[0] as [string, unknown];
      name = key;
      for (const item of asList(value)) {
        if (isMapping(item) && Object.keys(item).length === 1) extra = { ...extra, ...item };
        else errors.add(`${where}: the arguments of name '${key}' must be a list of single 'key: value' entries`);
      }
    }
    if (typeof name !== 'string' && typeof name !== 'number') {
      errors.add(`${where}: every entry of 'names' must be a name (found ${JSON.stringify(entry)})`);
      continue;
    }
    drafts.push({
      ...base,
      name: String(name),
      args: { ...args, ...extra, name: String(name) },
      index: start + drafts.length,
      nameOrder: drafts.length,
    });
  }
  return drafts;
}

function parseRefs(value: unknown, key: string, where: string, errors: CompileErrors): RequisiteRef[] {
  const refs: RequisiteRef[] = [];
  for (const item of asList(value)) {
    if (typeof item === 'string' || typeof item === 'number') {
      refs.push({ kind: 'id', target: String(item), text: String(item) });
      continue;
    }
    if (isMapping(item) && Object.keys(item).length === 1) {
      const [written, target] = Object.entries(item)[0] as [string, unknown];
      // Salt's trim_req: `- cmd.run: foo` names the cmd state foo.
      const module = written.split('.')[0] ?? written;
      if (typeof target === 'string' || typeof target === 'number') {
        const text = `${module}: ${target}`;
        if (module === 'sls') refs.push({ kind: 'sls', target: String(target), text });
        else if (module === 'id') refs.push({ kind: 'id', target: String(target), text });
        else refs.push({ kind: 'state', module, target: String(target), text });
        continue;
      }
    }
    errors.add(
      `${where}: in '${key}', ${JSON.stringify(item)} is not a requisite (write '- module: name', '- sls: name' or an ID)`,
    );
  }
  return refs;
}

function parseOrder(value: unknown, where: string, errors: CompileErrors): Draft['explicitOrder'] {
  if (value === 'first' || value === 'last') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  errors.add(`${where}: 'order' must be a number, 'first' or 'last'`);
  return undefined;
}

function parseCommands(value: unknown, key: string, where: string, errors: CompileErrors): string[] {
  const commands: string[] = [];
  for (const item of asList(value)) {
    if (typeof item === 'string' && item !== '' && !item.includes('\0')) commands.push(item);
    else errors.add(`${where}: '${key}' must be a shell command or a list of them`);
  }
  return commands;
}

/** `use`: take the arguments this state does not set from the states it names (same module only). */
function resolveUse(drafts: Draft[], errors: CompileErrors): void {
  const pairs: { from: Draft; to: Draft; ref: RequisiteRef }[] = [];
  for (const chunk of drafts) {
    for (const ref of chunk.requisites.use) {
      for (const source of findMatches(ref, drafts, chunk)) pairs.push({ from: source, to: chunk, ref });
    }
    for (const ref of chunk.requisites.use_in) {
      for (const target of findMatches(ref, drafts, chunk)) pairs.push({ from: chunk, to: target, ref });
    }
  }
  for (const { from, to, ref } of pairs) {
    if (from.state !== to.state) {
      errors.add(`${to.where}: 'use: ${ref.text}' names a ${from.state} state; 'use' works within one state module`);
      continue;
    }
    for (const [key, value] of Object.entries(from.args)) {
      if (key !== 'name' && !(key in to.args)) to.args[key] = value;
    }
  }
}

/**
 * Salt's order_chunks with state_auto_order: every state without `order` gets the next number from
 * 10000 in definition order; `first` is 0, `last` and negative numbers go after everything; names
 * of one `names` list keep their order; equal orders sort by state, name and function, as Salt's do.
 */
function assignOrder(drafts: Draft[]): LowChunk[] {
  const numeric = drafts.map((draft) =>
    typeof draft.explicitOrder === 'number' ? draft.explicitOrder : AUTO_ORDER_BASE + draft.index,
  );
  const cap = Math.max(1, ...numeric) + 100;
  const chunks = drafts.map(({ explicitOrder, nameOrder, ...draft }): LowChunk => {
    let order: number;
    if (explicitOrder === 'first') order = 0;
    else if (explicitOrder === 'last') order = cap + 1_000_000;
    else if (explicitOrder === undefined) order = AUTO_ORDER_BASE + draft.index - (nameOrder ?? 0);
    else order = explicitOrder;
    if (nameOrder !== undefined) order += nameOrder / 10_000;
    if (order < 0) order = cap + 1_000_000 + order;
    return Object.freeze({ ...draft, order });
  });
  const sortKey = (chunk: LowChunk) => `${chunk.state}${chunk.name}${chunk.fun}`;
  return chunks.sort(
    (a, b) =>
      a.order - b.order || (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0) || a.index - b.index,
  );
}

/** Salt's low data shape (state.show_lowstate). */
export function toSaltLow(chunk: LowChunk): Record<string, unknown> {
  const low: Record<string, unknown> = {
    state: chunk.state,
    fun: chunk.fun,
    __id__: chunk.id,
    __sls__: chunk.sls,
    __env__: chunk.env,
    order: chunk.order,
    ...chunk.args,
  };
  for (const field of REQUISITE_FIELDS) {
    const refs = chunk.requisites[field];
    if (refs.length > 0) {
      low[field] = refs.map((ref) =>
        ref.kind === 'id' ? ref.target : { [ref.kind === 'sls' ? 'sls' : (ref.module ?? '')]: ref.target },
      );
    }
  }
  if (chunk.unless.length > 0) low.unless = [...chunk.unless];
  if (chunk.onlyif.length > 0) low.onlyif = [...chunk.onlyif];
  if (chunk.failhard !== undefined) low.failhard = chunk.failhard;
  if (chunk.fireEvent !== undefined) low.fire_event = chunk.fireEvent;
  return low;
}
