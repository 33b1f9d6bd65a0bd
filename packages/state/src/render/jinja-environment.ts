import { statSync } from 'node:fs';
import { posix } from 'node:path';
import nunjucks from 'nunjucks';
import type { ILoader, LoaderSource } from 'nunjucks';
import { traverse } from '../data.js';
import { ownDirectories, pathOnHost } from '../files/host-path.js';
import { jinjaFilters, jinjaGlobals, jinjaTests, loopContext } from './jinja/builtins.js';
import type { Filter, Test } from './jinja/builtins.js';
import * as py from './jinja/python.js';
import { PyError, PyUndefined } from './jinja/python.js';
import { deepCopy as pyDeepCopy, dictUpdate, saltFilters, saltTests, useMethodLookup } from './jinja/salt-filters.js';
import { installJinjaSyntax } from './jinja/syntax.js';
import { parseYaml } from './yaml.js';

/**
 * Nunjucks set up to behave like Salt's Jinja (Jinja2 in a SandboxedEnvironment with
 * StrictUndefined, trim_blocks and lstrip_blocks off unless the minion config turns them on).
 * Only the render worker imports this file: the compatibility layer patches nunjucks' module-wide
 * parser, compiler and runtime, and inside a worker thread that patch touches nothing else.
 *
 * - jinja/syntax.ts: Jinja2's expression grammar and statements on nunjucks' parser and compiler;
 * - jinja/python.ts: Python's semantics for every value a template sees (printing, operators,
 *   truth, `%` and str.format, str/list/dict methods, attribute and item lookup);
 * - jinja/builtins.ts: Jinja2's filters, tests, globals and `loop`;
 * - jinja/salt-filters.ts: Salt's filters and tests (yaml, json, regex_*, hashes, dict_merge...).
 */

/** Synchronous access to the main thread, provided by the worker. */
export interface TemplateBridge {
  /** An execution module through the minion's registry (`salt['cmd.run'](...)`). */
  call(fun: string, args: unknown[], kwargs: Record<string, unknown>): unknown;
  /** A template file for include/import/extends (`web/macros.jinja`), or undefined. */
  read(path: string): string | undefined;
  /** Whether an SLS of the roots being rendered exists (`sls_exists('groups.web')`). */
  slsExists(name: string): boolean;
}

export interface JinjaOptions {
  trimBlocks: boolean;
  lstripBlocks: boolean;
  /**
   * Whether `file.file_exists`, `file.directory_exists` and `file_hashsum` look at this host's
   * files (a minion's own). When false (a master's render process) they are asked through the
   * bridge, as `file.file_exists`, `file.directory_exists` and `file.get_hash`.
   */
  hostFiles?: boolean;
}

interface Frame {
  lookup(name: string): unknown;
}

interface RuntimeContext {
  ctx: Record<string, unknown>;
  env: { globals: Record<string, unknown> };
  getVariables(): Record<string, unknown>;
}

type Runtime = {
  SafeString: new (value: string) => object;
  makeMacro(argNames: string[], kwargNames: string[], func: (...args: unknown[]) => unknown): unknown;
  handleError(error: unknown, lineno: number, colno: number): unknown;
  memberLookup(obj: unknown, key: unknown, ...rest: unknown[]): unknown;
  contextOrFrameLookup(context: RuntimeContext, frame: Frame, name: string): unknown;
  callWrap(obj: unknown, name: string, context: unknown, args: unknown[]): unknown;
  py: Record<string, unknown>;
};
type TemplateErrorClass = new (message: unknown, lineno?: number, colno?: number) => Error & { lineno?: number };
interface NunjucksTemplate {
  render(ctx: Record<string, unknown>, parentFrame?: unknown): string;
}
type NunjucksEnv = nunjucks.Environment & {
  getTemplate(
    name: string,
    eager: boolean,
    parent: string | undefined,
    ignoreMissing: boolean,
    cb: (err: unknown, template: NunjucksTemplate) => void,
  ): void;
};

const nunjucksModule = nunjucks as unknown as {
  runtime: Runtime;
  Template: { prototype: { _compile(): void; rootRenderFunc: (...args: unknown[]) => unknown; path: string } };
  lib: { TemplateError: TemplateErrorClass };
};
const runtime = nunjucksModule.runtime;
const TemplateError = nunjucksModule.lib.TemplateError;

/** Set on an error raised inside a macro: the template that defined the macro. */
export const MACRO_FILE = 'phoenixMacroFile';

/** The filters and tests of each environment (filter and test calls carry the environment). */
const SCOPES = new WeakMap<object, { filters: Record<string, Filter>; tests: Record<string, Test> }>();

let installed = false;

/** Patches nunjucks' parser, compiler and runtime once per worker. */
function installSaltCompat(): void {
  if (installed) return;
  installed = true;
  installJinjaSyntax();
  py.useSafeStringClass(runtime.SafeString);
  useMethodLookup(py.getattr);
  // nunjucks reports line numbers 0-based: make them 1-based, as editors count.
  runtime.handleError = (error, lineno, colno) => {
    if ((error as { lineno?: unknown }).lineno) return error;
    const wrapped = new TemplateError(error, lineno + 1, colno + 1);
    const file = (error as { [MACRO_FILE]?: string } | null)?.[MACRO_FILE];
    if (file !== undefined) Object.assign(wrapped, { [MACRO_FILE]: file });
    return wrapped;
  };
  // Names a template looks up are its own variables, the context's and the globals' own values: never
  // anything found through a prototype (`{{ constructor }}`), and an unknown name is Undefined.
  runtime.contextOrFrameLookup = (context, frame, name) => {
    const value = frame.lookup(name);
    if (value !== undefined) return value;
    if (Object.hasOwn(context.ctx, name)) return context.ctx[name];
    if (Object.hasOwn(context.env.globals, name)) return context.env.globals[name];
    return py.undefinedName(name);
  };
  runtime.memberLookup = (obj, key) => py.getitem(obj, key);
  runtime.callWrap = (obj, name, context, args) => {
    if (obj instanceof PyUndefined) obj.fail();
    if (typeof obj !== 'function') {
      throw new PyError('TypeError', `'${py.typeName(obj)}' object is not callable (${name})`);
    }
    return (obj as (...a: unknown[]) => unknown).apply(context, args);
  };
  runtime.py = pythonRuntime();
  trackMacroFiles();
}

/** What compiled templates call: see syntax.ts. */
function pythonRuntime(): Record<string, unknown> {
  const scopeOf = (env: object) => {
    const scope = SCOPES.get(env);
    if (!scope) throw new PyError('', 'template environment without filters');
    return scope;
  };
  return {
    ...py,
    undef: (hint: string) => new PyUndefined(hint, true),
    local: (value: unknown, name: string) => (value === undefined ? py.undefinedName(name) : value),
    out: (value: unknown) => py.str(value),
    chain: (first: unknown, ...rest: unknown[]) => {
      let left = first;
      for (let i = 0; i < rest.length; i += 2) {
        const op = rest[i] as string;
        const right = (rest[i + 1] as () => unknown)();
        const ok =
          op === 'in'
            ? py.contains(right, left)
            : op === 'notin'
              ? !py.contains(right, left)
              : py.compare(op, left, right);
        if (!ok) return false;
        left = right;
      }
      return true;
    },
    filter: (env: object, _context: unknown, name: string, args: unknown[]) => {
      const { filters } = scopeOf(env);
      const filter = Object.hasOwn(filters, name) ? filters[name] : undefined;
      if (!filter) throw new PyError('', `No filter named '${name}'.`);
      if (name !== 'default' && name !== 'd') {
        for (const arg of args) if (arg instanceof PyUndefined) arg.fail();
      }
      return filter(...args);
    },
    test: (env: object, _context: unknown, name: string, value: unknown, args: unknown[]) => {
      const { tests } = scopeOf(env);
      const test = Object.hasOwn(tests, name) ? tests[name] : undefined;
      if (!test) throw new PyError('', `No test named '${name}'.`);
      return test(value, ...py.splitArguments(args).args);
    },
    loop: (items: unknown[]) => loopContext(items),
    importData: (
      env: NunjucksEnv,
      context: RuntimeContext,
      frame: unknown,
      kind: string,
      name: unknown,
      withContext: boolean,
      parentName: string | undefined,
    ) => {
      let template: NunjucksTemplate | undefined;
      env.getTemplate(py.str(name), false, parentName, false, (err, found) => {
        if (err) throw err;
        template = found;
      });
      if (!template) throw new PyError('TemplateNotFound', py.str(name));
      const text = withContext ? template.render(context.getVariables(), frame) : template.render({});
      return loadData(kind, text, py.str(name));
    },
    loadData: (kind: string, text: unknown) => loadData(kind, py.str(text), `load_${kind}`),
  };
}

function loadData(kind: string, text: string, where: string): unknown {
  if (kind === 'text') return text;
  if (kind === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new PyError('TemplateRuntimeError', `Unable to load json from ${where}: ${(err as Error).message}`);
    }
  }
  return parseYaml(text, where).value ?? null;
}

/**
 * nunjucks names the template that catches an error, which for an error inside a macro imported
 * from another file is the importing template, while the line is the macro's. So: remember which
 * template is executing when each macro is defined, and tag errors raised inside the macro with it.
 * Missing arguments are Undefined (printing one fails, naming it), as in Jinja2.
 */
function trackMacroFiles(): void {
  const executing: string[] = [];
  const template = nunjucksModule.Template.prototype;
  const compile = template._compile;
  template._compile = function (this: typeof template) {
    compile.call(this);
    const root = this.rootRenderFunc;
    const path = this.path;
    this.rootRenderFunc = function (this: unknown, ...args: unknown[]) {
      const depth = executing.length;
      // nunjucks renders in continuation-passing style: the rest of the importing (or including)
      // template runs inside this template's success callback, within its try block. An error
      // there is the importer's, at the importer's line: it is held here and rethrown once this
      // template has returned, so that the importer's own handler sees it.
      let escaped: { error: unknown } | undefined;
      const cb = args.at(-1);
      if (typeof cb === 'function') {
        args[args.length - 1] = (err: unknown, res: unknown) => {
          const next = cb as (e: unknown, r: unknown) => unknown;
          // An error raised at the top level of an imported file (map.jinja) reaches the importer
          // through this callback: it happened here.
          if (err !== null && err !== undefined) {
            if (typeof err === 'object' && !(MACRO_FILE in err)) Object.assign(err, { [MACRO_FILE]: path });
            return next(err, res);
          }
          // What runs now is the importer's: macros it defines are its own.
          executing.length = depth;
          try {
            return next(err, res);
          } catch (error) {
            escaped = { error };
            return undefined;
          }
        };
      }
      executing.push(path);
      try {
        root.apply(this, args);
      } finally {
        executing.length = depth;
      }
      if (escaped) throw escaped.error;
      return undefined;
    };
  };
  const makeMacro = runtime.makeMacro;
  runtime.makeMacro = (argNames, kwargNames, func) => {
    const file = executing.at(-1);
    return makeMacro(argNames, kwargNames, function (this: unknown, ...args: unknown[]) {
      const bound = args.map((value, i) =>
        i < argNames.length && value === undefined ? py.undefinedName(argNames[i] as string) : value,
      );
      try {
        return func.apply(this, bound);
      } catch (err) {
        if (file !== undefined && err !== null && typeof err === 'object' && !(MACRO_FILE in err)) {
          Object.assign(err, { [MACRO_FILE]: file });
        }
        throw err;
      }
    });
  };
}

/** How Jinja prints a value: Python's str(). */
export function pythonText(value: unknown): string {
  return py.str(value);
}

export const pythonRepr = py.repr;

interface RenderScope {
  grains: unknown;
  pillar: unknown;
  opts: unknown;
  /** The file system the states manage (see pathOnHost). */
  root: string;
}

/** Salt's fnmatch.fnmatchcase: `*`, `?`, `[seq]`, `[!seq]`. */
function fnmatch(value: string, pattern: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) source += '\\[';
      else {
        let set = pattern.slice(i + 1, end);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        source += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's').test(value);
}

function deepCopy(value: unknown): unknown {
  return value === undefined ? undefined : (structuredClone(py.toPlain(value)) as unknown);
}

/** salt.utils.data.filter_by, as grains.filter_by and pillar.filter_by call it. */
function filterBy(
  data: unknown,
  lookupDict: unknown,
  lookup: string,
  merge: unknown,
  fallback: string,
  base: unknown,
): unknown {
  if (!py.isDict(lookupDict)) throw new PyError('SaltException', 'filter_by lookup_dict must be a dictionary');
  const found = traverse(data, lookup, []);
  let ret: unknown = null;
  for (const each of Array.isArray(found) ? found : [found]) {
    for (const candidate of Object.keys(lookupDict)) {
      if (fnmatch(py.str(each), candidate)) {
        ret = lookupDict[candidate];
        break;
      }
    }
    if (ret !== null && ret !== undefined) break;
  }
  if (ret === null || ret === undefined) ret = Object.hasOwn(lookupDict, fallback) ? lookupDict[fallback] : null;
  if (base !== undefined && base !== null && Object.hasOwn(lookupDict, py.str(base))) {
    const baseValues = lookupDict[py.str(base)];
    if (ret === null) ret = baseValues;
    else if (py.isDict(baseValues)) {
      if (!py.isDict(ret))
        throw new PyError('SaltException', 'filter_by default and look-up values must both be dictionaries.');
      ret = dictUpdate(deepCopy(baseValues) as Record<string, unknown>, ret);
    }
  }
  if (merge !== undefined && merge !== null) {
    if (!py.isDict(merge)) throw new PyError('SaltException', 'filter_by merge argument must be a dictionary.');
    if (ret === null) ret = merge;
    else if (py.isDict(ret)) dictUpdate(ret, deepCopy(merge) as Record<string, unknown>);
  }
  return ret;
}

/** salt.utils.dictupdate.update: both must be dicts. */
function dictupdate(dest: unknown, upd: unknown, recursive: boolean, mergeLists: boolean): Record<string, unknown> {
  if (!py.isDict(dest) || !py.isDict(upd))
    throw new PyError('TypeError', 'Cannot update using non-dict types in dictupdate.update()');
  return dictUpdate(dest, upd, recursive, mergeLists);
}

/** salt.utils.dictupdate.merge with its strategies (Phoenix has no yamlex: smart and aggregate recurse). */
function dictMerge(a: unknown, b: unknown, strategy: string, mergeLists: boolean): unknown {
  if (strategy === 'list') {
    if (!py.isDict(a) || !py.isDict(b)) throw new PyError('TypeError', 'merge takes two dicts');
    const ret: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(a)) py.defineOwn(ret, k, Object.hasOwn(b, k) ? [v, b[k]] : v);
    return ret;
  }
  if (strategy === 'overwrite' && py.isDict(a) && py.isDict(b)) {
    for (const k of Object.keys(b)) if (Object.hasOwn(a, k)) py.defineOwn(a, k, b[k]);
  }
  return dictupdate(pyDeepCopy(a), b, true, mergeLists);
}

/**
 * Salt's defaults and slsutil merges, which formulas call to merge their defaults with pillar.
 * They change the template's own data in place (`{% do salt['defaults.merge'](defaults, config) %}`),
 * so they answer here, never across threads.
 */
function mergeFunctions(): Record<string, (...args: unknown[]) => unknown> {
  const merge = (dest: unknown, src: unknown, mergeLists: unknown, inPlace: unknown, convertNone: unknown) => {
    let d = dest;
    let s = src;
    if (py.truth(convertNone ?? true)) {
      if (!py.truth(s)) s = {};
      if (!py.truth(d)) d = {};
    }
    return dictupdate(py.truth(inPlace ?? true) ? d : pyDeepCopy(d), s, true, py.truth(mergeLists ?? false));
  };
  return {
    'defaults.merge': py.pyfunction(
      'defaults.merge',
      ['dest', 'src', 'merge_lists=', 'in_place=', 'convert_none='],
      merge,
    ),
    'defaults.update': py.pyfunction(
      'defaults.update',
      ['dest', 'defaults', 'merge_lists=', 'in_place=', 'convert_none='],
      (dest, defaults, mergeLists = true, inPlace = true, convertNone = true) => {
        let d = dest;
        let fallback = defaults;
        if (py.truth(convertNone)) {
          if (!py.truth(fallback)) fallback = {};
          if (!py.truth(d)) d = {};
        }
        if (!py.isDict(d)) throw new PyError('TypeError', 'defaults.update takes a dict of dicts');
        const nodes = py.truth(inPlace) ? d : (pyDeepCopy(d) as Record<string, unknown>);
        for (const [name, vars] of Object.entries(nodes)) {
          py.defineOwn(nodes, name, merge(pyDeepCopy(fallback), vars, mergeLists, true, true));
        }
        return nodes;
      },
    ),
    'defaults.deepcopy': py.pyfunction('defaults.deepcopy', ['source'], (source) => pyDeepCopy(source)),
    'slsutil.update': py.pyfunction(
      'slsutil.update',
      ['dest', 'upd', 'recursive_update=', 'merge_lists='],
      (dest, upd, recursive = true, mergeLists = false) =>
        dictupdate(dest, upd, py.truth(recursive), py.truth(mergeLists)),
    ),
    'slsutil.merge': py.pyfunction(
      'slsutil.merge',
      ['obj_a', 'obj_b', 'strategy=', 'renderer=', 'merge_lists='],
      (a, b, strategy = 'smart', _renderer, mergeLists = false) =>
        dictMerge(a, b, py.str(strategy), py.truth(mergeLists)),
    ),
    'slsutil.merge_all': py.pyfunction(
      'slsutil.merge_all',
      ['lst', 'strategy=', 'renderer=', 'merge_lists='],
      (lst, strategy = 'smart', _renderer, mergeLists = false) => {
        let ret: unknown = {};
        for (const obj of py.iterate(lst)) ret = dictMerge(ret, obj, py.str(strategy), py.truth(mergeLists));
        return ret;
      },
    ),
  };
}

/**
 * `salt` in a template: `salt['mod.fun'](...)` and `salt.mod.fun(...)`. Functions that only read
 * data the template already has, or the local file system, answer here at once; every other
 * function is called through the minion's module registry on the main thread (synchronously from
 * the template's point of view: see render-worker.ts).
 */
export function createSaltFunctions(
  scope: RenderScope,
  bridge: TemplateBridge,
  options: Pick<JinjaOptions, 'hostFiles'> = {},
): object {
  const lookupWith =
    (data: () => unknown) =>
    (key: unknown, fallback: unknown = '', delimiter: unknown = ':', merge?: unknown) => {
      const found = traverse(data(), py.str(key), fallback, typeof delimiter === 'string' ? delimiter : ':');
      if (py.truth(merge ?? false) && py.isDict(fallback) && py.isDict(found) && found !== fallback) {
        return dictUpdate(deepCopy(fallback) as Record<string, unknown>, found);
      }
      return found;
    };
  const ownDirs = ownDirectories(py.isDict(scope.opts) ? scope.opts : undefined);
  const exists = (kind: 'file' | 'directory') => (path: unknown) => {
    if (options.hostFiles === false) return bridge.call(`file.${kind}_exists`, [py.str(path)], {}) === true;
    try {
      const info = statSync(pathOnHost(py.str(path), scope.root, ownDirs));
      return kind === 'file' ? info.isFile() : info.isDirectory();
    } catch {
      return false;
    }
  };
  const builtins: Record<string, (...args: unknown[]) => unknown> = {
    'grains.get': py.pyfunction(
      'grains.get',
      ['key', 'default=', 'delimiter=', 'ordered='],
      lookupWith(() => scope.grains),
    ),
    'grains.item': py.pyfunction('grains.item', ['*args'], (names) =>
      Object.fromEntries((names as unknown[]).map((n) => [py.str(n), traverse(scope.grains, py.str(n), '')])),
    ),
    'grains.items': py.pyfunction('grains.items', [], () => scope.grains),
    'grains.filter_by': py.pyfunction(
      'grains.filter_by',
      ['lookup_dict', 'grain=', 'merge=', 'default=', 'base='],
      (lookupDict, grain, merge, fallback, base) =>
        filterBy(
          scope.grains,
          lookupDict,
          grain === undefined ? 'os_family' : py.str(grain),
          merge,
          fallback === undefined ? 'default' : py.str(fallback),
          base,
        ),
    ),
    'pillar.get': py.pyfunction(
      'pillar.get',
      ['key', 'default=', 'merge=', 'merge_nested_lists=', 'delimiter=', 'pillarenv=', 'saltenv='],
      (key, fallback, merge, _nested, delimiter) =>
        lookupWith(() => scope.pillar)(key, fallback ?? '', delimiter ?? ':', merge),
    ),
    'pillar.item': py.pyfunction('pillar.item', ['*args'], (names) =>
      Object.fromEntries((names as unknown[]).map((n) => [py.str(n), traverse(scope.pillar, py.str(n), '')])),
    ),
    'pillar.items': py.pyfunction('pillar.items', ['*args'], () => scope.pillar),
    'pillar.raw': py.pyfunction('pillar.raw', ['key='], (key) =>
      key === undefined ? scope.pillar : traverse(scope.pillar, py.str(key), ''),
    ),
    'pillar.filter_by': py.pyfunction(
      'pillar.filter_by',
      ['lookup_dict', 'pillar=', 'merge=', 'default=', 'base='],
      (lookupDict, key, merge, fallback, base) =>
        filterBy(
          scope.pillar,
          lookupDict,
          py.str(key),
          merge,
          fallback === undefined ? 'default' : py.str(fallback),
          base,
        ),
    ),
    'config.get': py.pyfunction(
      'config.get',
      ['key', 'default=', 'delimiter='],
      (key, fallback = '', delimiter = ':') => {
        const missing = Symbol('missing');
        for (const data of [scope.opts, scope.grains, scope.pillar]) {
          const found = traverse(data, py.str(key), missing, py.str(delimiter));
          if (found !== missing) return found;
        }
        return fallback;
      },
    ),
    'file.file_exists': py.pyfunction('file.file_exists', ['path'], exists('file')),
    'file.directory_exists': py.pyfunction('file.directory_exists', ['path'], exists('directory')),
    'file.exists': py.pyfunction('file.exists', ['path'], (path) => exists('file')(path) || exists('directory')(path)),
    'file.join': py.pyfunction('file.join', ['*args'], (parts) => posix.join(...(parts as unknown[]).map(py.str))),
    // Python's os.path.basename and dirname split at the last slash: '/a/b/' is ('/a/b', '').
    'file.basename': py.pyfunction('file.basename', ['path'], (path) =>
      py.str(path).slice(py.str(path).lastIndexOf('/') + 1),
    ),
    'file.dirname': py.pyfunction('file.dirname', ['path'], (path) => {
      const text = py.str(path);
      const head = text.slice(0, text.lastIndexOf('/') + 1);
      return /^\/+$/.test(head) ? head : head.replace(/\/+$/, '');
    }),
    ...mergeFunctions(),
    'state.sls_exists': py.pyfunction('state.sls_exists', ['mods', '**kwargs'], (mods) =>
      bridge.slsExists(py.str(mods)),
    ),
  };
  const callable = (fun: string) =>
    builtins[fun] ??
    ((...raw: unknown[]) => {
      if (fun.startsWith('state.')) {
        throw new PyError('', `salt['${fun}'] cannot be called while rendering a state run`);
      }
      const { args, kwargs } = py.splitArguments(raw);
      return bridge.call(fun, py.toPlain(args) as unknown[], py.toPlain(kwargs) as Record<string, unknown>);
    });
  const moduleProxy = (module: string) => {
    const proxy = new Proxy(
      {},
      {
        get: (_target, fun) => (typeof fun === 'string' ? callable(`${module}.${fun}`) : undefined),
      },
    );
    py.registerSaltProxy(proxy);
    return proxy;
  };
  const salt = new Proxy(
    {},
    {
      get: (_target, key) => {
        if (typeof key !== 'string') return undefined;
        if (/^[A-Za-z_][\w]*\.[A-Za-z_][\w]*$/.test(key)) return callable(key);
        if (/^[A-Za-z_][\w]*$/.test(key)) return moduleProxy(key);
        return new PyUndefined(`'salt' has no function '${key}'`);
      },
      has: (_target, key) => typeof key === 'string',
    },
  );
  py.registerSaltProxy(salt);
  return salt;
}

/**
 * The loader for `{% include %}`, `{% import %}` and `{% extends %}`: paths relative to the roots
 * (`web/macros.jinja`, `salt://web/macros.jinja`), or to the including file (`./macros.jinja`).
 */
function rootsLoader(
  bridge: TemplateBridge,
): ILoader & { isRelative(name: string): boolean; resolve(from: string, to: string): string } {
  const strip = (name: string) => (name.startsWith('salt://') ? name.slice('salt://'.length) : name);
  return {
    getSource(name: string): LoaderSource {
      const path = strip(name);
      const src = bridge.read(path);
      // nunjucks treats a null source as "not found"; the types do not say so.
      return (src === undefined ? null : { src, path: `salt://${path}`, noCache: true }) as LoaderSource;
    },
    isRelative: (name: string) => name.startsWith('./') || name.startsWith('../'),
    resolve: (from: string, to: string) => `salt://${posix.join(posix.dirname(strip(from)), to)}`,
  };
}

/**
 * One environment per render. `context` becomes the environment's globals too, as Salt does
 * (`jinja_env.globals.update(context)`): an import without context still sees grains and salt.
 */
export function createJinjaEnvironment(
  options: JinjaOptions,
  bridge: TemplateBridge,
  context: Record<string, unknown> = {},
  now: () => number = Date.now,
): nunjucks.Environment {
  installSaltCompat();
  const env = new nunjucks.Environment([rootsLoader(bridge)], {
    autoescape: false,
    throwOnUndefined: true,
    trimBlocks: options.trimBlocks,
    lstripBlocks: options.lstripBlocks,
    // Keeps nunjucks' own error objects (line and column) instead of flattening them.
    dev: true,
  });
  const filters: Record<string, Filter> = {};
  const tests: Record<string, Test> = { ...jinjaTests, ...saltTests };
  const scope = {
    filter: (name: string) => {
      const f = Object.hasOwn(filters, name) ? filters[name] : undefined;
      if (!f) throw new PyError('', `No filter named '${name}'.`);
      return f;
    },
    test: (name: string) => {
      const t = Object.hasOwn(tests, name) ? tests[name] : undefined;
      if (!t) throw new PyError('', `No test named '${name}'.`);
      return t;
    },
  };
  // Salt's filters replace Jinja2's of the same name (unique), except min and max, where
  // Jinja2's take Salt's list and also an attribute.
  const jinja = jinjaFilters(scope);
  const hashFile =
    options.hostFiles === false
      ? (path: string, type: string) => py.str(bridge.call('file.get_hash', [path], { form: type }))
      : undefined;
  Object.assign(filters, jinja, saltFilters({ now, ...(hashFile ? { hashFile } : {}) }), {
    min: jinja.min,
    max: jinja.max,
  });
  SCOPES.set(env, { filters, tests });
  const globals: Record<string, unknown> = {
    ...jinjaGlobals(),
    raise: py.pyfunction('raise', ['msg'], (msg) => {
      throw new PyError('', py.str(msg));
    }),
    odict: jinjaGlobals().dict as (...raw: unknown[]) => unknown,
    sls_exists: py.pyfunction('sls_exists', ['name'], (name) => bridge.slsExists(py.str(name))),
    ...context,
  };
  // nunjucks' own globals (range, cycler, joiner) have JavaScript semantics: replace them all.
  const envGlobals = (env as unknown as { globals: Record<string, unknown> }).globals;
  for (const name of Object.keys(envGlobals)) delete envGlobals[name];
  for (const [name, value] of Object.entries(globals)) py.defineOwn(envGlobals, name, value);
  py.defineOwn(envGlobals, 'show_full_context', () => ({ ...context }));
  return env;
}
