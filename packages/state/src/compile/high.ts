import { compileGlob } from '@phoenix/protocol';
import { isMapping } from '../data.js';
import { CompileErrors } from '../errors.js';
import type { LoadedSls } from '../render/sls-loader.js';
import { SlsLoadError } from '../render/sls-loader.js';
import { isValidSlsName, resolveInclude } from '../files/sls-names.js';

/**
 * High data: the SLS files of a run, rendered, checked and merged (includes first, then each file's
 * own IDs, then every `extend`). Pure data; compiled into low chunks by low.ts.
 */

export interface StateDecl {
  /** `pkg` of `pkg.installed`. */
  readonly module: string;
  /** `installed`; undefined only while an `extend` may still supply it. */
  fun: string | undefined;
  /** The arguments in the order written: `[['name', 'nginx'], ['require', [...]]]`. */
  args: Array<[string, unknown]>;
}

export interface IdDecl {
  readonly id: string;
  readonly sls: string;
  readonly env: string;
  /** `web/init.sls`: for messages. */
  readonly file: string;
  /** Line of the ID in the rendered output, when known. */
  readonly line: number | undefined;
  readonly states: StateDecl[];
}

export interface HighState {
  /** In definition order: each file's includes before its own IDs. */
  readonly ids: readonly IdDecl[];
}

export interface SlsTarget {
  readonly name: string;
  readonly env: string;
}

/** The requisites that have an `_in` form; `extend` adds to these lists instead of replacing them. */
export const REQUISITE_KINDS = ['require', 'watch', 'onchanges', 'onfail', 'prereq', 'use', 'listen'] as const;
export type RequisiteKind = (typeof REQUISITE_KINDS)[number];
/** Salt's `_any` forms (and `onfail_all`): one target meeting the condition is enough (or all must). */
export const ANY_REQUISITES = ['require_any', 'watch_any', 'onchanges_any', 'onfail_any', 'onfail_all'] as const;
export type AnyRequisite = (typeof ANY_REQUISITES)[number];
const LIST_MERGED_ARGS = new Set<string>([
  ...REQUISITE_KINDS,
  ...REQUISITE_KINDS.map((kind) => `${kind}_in`),
  ...ANY_REQUISITES,
]);

type Loader = (name: string, env: string) => Promise<LoadedSls | undefined>;

/** Salt's `exclude`: an SLS name (a glob, as Salt's fnmatch), `{sls: name}` or `{id: ID}`. */
export type ExcludeEntry = string | { readonly sls?: string; readonly id?: string };

/**
 * Renders and merges the SLS files of a run. Every problem is collected; any problem throws
 * StateCompileError. `exclude` (state.sls's `exclude=`) adds to the SLS files' own `exclude`.
 */
export async function buildHighState(
  targets: readonly SlsTarget[],
  load: Loader,
  exclude: readonly ExcludeEntry[] = [],
): Promise<HighState> {
  const errors = new CompileErrors();
  const excludes: ExcludeEntry[] = [...exclude];
  const ids = new Map<string, IdDecl>();
  const extensions: { decl: IdDecl; where: string }[] = [];
  const visited = new Set<string>();

  const visit = async (target: SlsTarget, includedFrom?: string): Promise<void> => {
    const key = `${target.env}:${target.name}`;
    if (visited.has(key)) return;
    visited.add(key);
    let loaded: LoadedSls | undefined;
    try {
      loaded = await load(target.name, target.env);
    } catch (err) {
      if (err instanceof SlsLoadError) errors.add(err.message);
      else throw err;
      return;
    }
    if (!loaded) {
      errors.add(
        includedFrom === undefined
          ? `No matching sls found for '${target.name}' in env '${target.env}'`
          : `Specified SLS '${target.name}' in saltenv '${target.env}' is not available on the file server (included from '${includedFrom}')`,
      );
      return;
    }
    const where = `SLS '${key}' (salt://${loaded.file})`;
    const data = loaded.data ?? {};
    if (!isMapping(data)) {
      errors.add(`${where} is not formed as a dictionary of IDs: it rendered to ${describeType(data)}`);
      return;
    }
    for (const include of parseIncludes(data.include, target, loaded.file, where, errors)) {
      await visit(include, target.name);
    }
    for (const [id, body] of Object.entries(data)) {
      if (id === 'include' || id === 'extend') continue;
      if (id === 'exclude') {
        excludes.push(...parseExclude(body, where, errors));
        continue;
      }
      const line = loaded.keyLines.get(id);
      const at = `ID '${id}' in ${where}${line === undefined ? '' : ` at line ${line}`}`;
      const states = parseIdBody(body, at, errors);
      if (!states) continue;
      const existing = ids.get(id);
      if (existing) {
        errors.add(
          `Detected conflicting IDs, SLS IDs need to be globally unique. The conflicting ID is '${id}' and is found in SLS '${existing.env}:${existing.sls}' and SLS '${key}'`,
        );
        continue;
      }
      ids.set(id, { id, sls: target.name, env: target.env, file: loaded.file, line, states });
    }
    if (data.extend !== undefined && data.extend !== null) {
      if (!isMapping(data.extend)) {
        errors.add(`${where}: 'extend' must be a dictionary of IDs`);
      } else {
        for (const [id, body] of Object.entries(data.extend)) {
          const states = parseIdBody(body, `extend of ID '${id}' in ${where}`, errors, true);
          if (states) {
            extensions.push({
              decl: { id, sls: target.name, env: target.env, file: loaded.file, line: undefined, states },
              where: key,
            });
          }
        }
      }
    }
  };

  for (const target of targets) await visit(target);
  for (const { decl, where } of extensions) applyExtend(ids, decl, where, errors);
  applyExclude(ids, excludes);
  for (const decl of ids.values()) {
    for (const state of decl.states) {
      if (state.fun === undefined) {
        errors.add(
          `No function declared in state '${state.module}' in ID '${decl.id}' in SLS '${decl.env}:${decl.sls}'`,
        );
      }
    }
  }
  errors.throwIfAny();
  return { ids: [...ids.values()] };
}

function parseIncludes(
  value: unknown,
  from: SlsTarget,
  file: string,
  where: string,
  errors: CompileErrors,
): SlsTarget[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    errors.add(`${where}: 'include' must be a list of SLS names`);
    return [];
  }
  const targets: SlsTarget[] = [];
  for (const item of value) {
    let name: unknown = item;
    let env = from.env;
    if (isMapping(item) && Object.keys(item).length === 1) {
      const [key, options] = Object.entries(item)[0] as [string, unknown];
      name = key;
      if (isMapping(options) && typeof options.saltenv === 'string') env = options.saltenv;
    }
    if (typeof name !== 'string') {
      errors.add(`${where}: include entry ${JSON.stringify(item)} is not an SLS name`);
      continue;
    }
    const resolved = resolveInclude(name, from.name, file);
    if (resolved === undefined || !isValidSlsName(resolved)) {
      errors.add(`${where}: cannot include '${name}': not a valid SLS name from here`);
      continue;
    }
    targets.push({ name: resolved, env });
  }
  return targets;
}

/**
 * One ID's body: `{pkg.installed: [args]}`, `{pkg: [installed, args]}`, or Salt's short form
 * `nginx: pkg.installed`. Returns undefined (with errors added) when it cannot be read.
 */
function parseIdBody(body: unknown, at: string, errors: CompileErrors, forExtend = false): StateDecl[] | undefined {
  if (typeof body === 'string' && /^[A-Za-z_]\w*\.[A-Za-z_]\w*$/.test(body)) {
    const [module, fun] = body.split('.') as [string, string];
    return [{ module, fun, args: [] }];
  }
  if (!isMapping(body)) {
    errors.add(`${at} is not a dictionary (it is ${describeType(body)})`);
    return undefined;
  }
  const states: StateDecl[] = [];
  let ok = true;
  for (const [key, value] of Object.entries(body)) {
    if (key.startsWith('__')) continue;
    const dot = key.indexOf('.');
    const module = dot === -1 ? key : key.slice(0, dot);
    let fun = dot === -1 ? undefined : key.slice(dot + 1);
    if (!/^[A-Za-z_]\w*$/.test(module) || (fun !== undefined && !/^[A-Za-z_]\w*$/.test(fun))) {
      errors.add(`${at}: '${key}' is not a state declaration (module or module.function)`);
      ok = false;
      continue;
    }
    if (states.some((state) => state.module === module)) {
      errors.add(`${at} contains multiple state declarations of the same type ('${module}')`);
      ok = false;
      continue;
    }
    const items = value === null || value === undefined ? [] : value;
    if (!Array.isArray(items)) {
      errors.add(`${at}: the state '${key}' must be a list of arguments, not ${describeType(value)}`);
      ok = false;
      continue;
    }
    const args: Array<[string, unknown]> = [];
    for (const item of items) {
      if (typeof item === 'string' && /^[A-Za-z_]\w*$/.test(item)) {
        if (fun !== undefined) {
          errors.add(`${at}: too many functions declared in state '${key}' ('${fun}' and '${item}')`);
          ok = false;
        } else fun = item;
      } else if (isMapping(item) && Object.keys(item).length === 1) {
        args.push(Object.entries(item)[0] as [string, unknown]);
      } else {
        errors.add(
          `${at}: in state '${key}', every argument must be a single 'key: value' (found ${describeType(item)}: ${short(item)})`,
        );
        ok = false;
      }
    }
    if (!forExtend && fun === undefined) {
      errors.add(`${at}: no function declared in state '${module}'`);
      ok = false;
      continue;
    }
    states.push({ module, fun, args });
  }
  return ok ? states : undefined;
}

/** Salt's extend: requisite lists grow, other arguments are replaced, new state types are added. */
function applyExtend(ids: Map<string, IdDecl>, ext: IdDecl, where: string, errors: CompileErrors): void {
  const target = ids.get(ext.id);
  if (!target) {
    errors.add(
      `Cannot extend ID '${ext.id}' in '${where}'. It is not part of the high state. This is likely due to a missing include statement or an incorrectly typed ID`,
    );
    return;
  }
  for (const extState of ext.states) {
    const state: StateDecl | undefined = target.states.find((candidate) => candidate.module === extState.module);
    if (!state) {
      target.states.push({ module: extState.module, fun: extState.fun, args: [...extState.args] });
      continue;
    }
    if (extState.fun !== undefined) state.fun = extState.fun;
    for (const [key, value] of extState.args) {
      const index = state.args.findIndex(([existing]) => existing === key);
      if (index === -1) state.args.push([key, value]);
      else if (LIST_MERGED_ARGS.has(key)) {
        const before = state.args[index]?.[1];
        const merged = [...asList(before)];
        for (const item of asList(value)) {
          if (!merged.some((existing) => JSON.stringify(existing) === JSON.stringify(item))) merged.push(item);
        }
        state.args[index] = [key, merged];
      } else state.args[index] = [key, value];
    }
  }
}

/** Salt's high data shape (state.show_sls, state.show_highstate). */
export function toSaltHigh(high: HighState): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const decl of high.ids) {
    const body: Record<string, unknown> = {};
    for (const state of decl.states) {
      body[state.module] = [
        ...(state.fun === undefined ? [] : [state.fun]),
        ...state.args.map(([k, v]) => ({ [k]: v })),
      ];
    }
    body.__sls__ = decl.sls;
    body.__env__ = decl.env;
    out[decl.id] = body;
  }
  return out;
}

export function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** Salt's exclude declaration: a list of SLS names, `{sls: name}` and `{id: ID}`. */
function parseExclude(body: unknown, where: string, errors: CompileErrors): ExcludeEntry[] {
  const list = typeof body === 'string' ? body.split(',') : body;
  if (!Array.isArray(list)) {
    errors.add(`${where}: 'exclude' must be a list of SLS names, {sls: name} or {id: ID}`);
    return [];
  }
  const entries: ExcludeEntry[] = [];
  for (const item of list) {
    if (typeof item === 'string') entries.push(item.trim());
    else if (
      isMapping(item) &&
      Object.keys(item).length === 1 &&
      (typeof item.sls === 'string' || typeof item.id === 'string')
    )
      entries.push(typeof item.sls === 'string' ? { sls: item.sls } : { id: String(item.id) });
    else errors.add(`${where}: an 'exclude' entry must be an SLS name, {sls: name} or {id: ID}`);
  }
  return entries;
}

/** Salt's _apply_exclude: after includes and extends, the IDs named and the IDs of the SLS files matched go. */
function applyExclude(ids: Map<string, IdDecl>, excludes: readonly ExcludeEntry[]): void {
  if (excludes.length === 0) return;
  const idNames = new Set<string>();
  const slsPatterns: ((sls: string) => boolean)[] = [];
  for (const entry of excludes) {
    if (typeof entry === 'string') slsPatterns.push(compileGlob(entry, false));
    else if (entry.sls !== undefined) slsPatterns.push(compileGlob(entry.sls, false));
    else if (entry.id !== undefined) idNames.add(entry.id);
  }
  for (const [id, decl] of ids) {
    if (idNames.has(id) || slsPatterns.some((matches) => matches(decl.sls))) ids.delete(id);
  }
}

export function describeType(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a dictionary';
  return `a ${typeof value}`;
}

function short(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
