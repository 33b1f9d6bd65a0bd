import { statSync } from 'node:fs';
import { posix } from 'node:path';
import nunjucks from 'nunjucks';
import type { ILoader, LoaderSource } from 'nunjucks';
import { traverse } from '../data.js';

/**
 * Nunjucks set up to behave like Salt's Jinja. Only the render worker imports this file: the
 * compatibility layer patches nunjucks' module-wide runtime, and inside a worker thread that patch
 * touches nothing else in the minion.
 *
 * What is Jinja-like here:
 * - autoescape off; `trim_blocks` and `lstrip_blocks` on by default (block tags leave no blank lines
 *   or indentation behind in the YAML);
 * - StrictUndefined, as Salt's default: printing an undefined value is an error naming the line
 *   (testing it with `is defined` or `if` is fine);
 * - Python's way of printing values: True/False/None, `{'a': 1}` and `['x']` (valid YAML flow);
 * - `True`/`False`/`None`, slices, dict methods (`items()`, `get()`, `update()`...), list methods
 *   (`append()`...) and common str methods (`startswith()`, `split()`, `upper()`...);
 * - `{% do %}`, and Salt's filters `json`, `yaml`, `yaml_encode`, `yaml_dquote`, `yaml_squote`,
 *   `quote`, `sequence`, `to_bool`, `unique`.
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
}

type Runtime = {
  SafeString: new (value: string) => object;
  makeMacro(argNames: unknown, kwargNames: unknown, func: (...args: unknown[]) => unknown): unknown;
  handleError(error: unknown, lineno: number, colno: number): unknown;
  ensureDefined(value: unknown, lineno: number, colno: number): unknown;
  suppressValue(value: unknown, autoescape: boolean): unknown;
  memberLookup(obj: unknown, key: unknown, ...rest: unknown[]): unknown;
  contextOrFrameLookup(
    context: { ctx: Record<string, unknown>; env: { globals: Record<string, unknown> } },
    frame: { lookup(name: string): unknown },
    name: string,
  ): unknown;
};
type TemplateErrorClass = new (message: unknown, lineno?: number, colno?: number) => Error & { lineno?: number };

const nunjucksModule = nunjucks as unknown as {
  runtime: Runtime;

  Template: { prototype: { _compile(): void; rootRenderFunc: (...args: unknown[]) => unknown; path: string } };
  lib: { TemplateError: TemplateErrorClass };
  installJinjaCompat(): void;
};
const runtime = nunjucksModule.runtime;
const TemplateError = nunjucksModule.lib.TemplateError;

let installed = false;

/** Patches nunjucks' runtime once per worker. */
function installSaltCompat(): void {
  if (installed) return;
  installed = true;
  nunjucksModule.installJinjaCompat();
  // nunjucks reports line numbers from handleError 0-based and from ensureDefined 1-based: make
  // both 1-based, as editors count.
  runtime.handleError = (error, lineno, colno) => {
    if ((error as { lineno?: unknown }).lineno) return error;
    const wrapped = new TemplateError(error, lineno + 1, colno + 1);
    const file = (error as { [MACRO_FILE]?: string } | null)?.[MACRO_FILE];
    if (file !== undefined) Object.assign(wrapped, { [MACRO_FILE]: file });
    return wrapped;
  };
  runtime.ensureDefined = (value, lineno, colno) => {
    if (value === undefined) {
      throw new TemplateError(
        'the value printed here is undefined (a missing variable, grain or pillar key?)',
        lineno + 1,
        colno + 1,
      );
    }
    return value;
  };
  runtime.suppressValue = (value) => pythonText(value);
  trackMacroFiles();
  // Names a template looks up are the context's and the globals' own: `{{ constructor }}` must not
  // find Object through a prototype.
  runtime.contextOrFrameLookup = (context, frame, name) => {
    const value = frame.lookup(name);
    if (value !== undefined) return value;
    if (Object.hasOwn(context.ctx, name)) return context.ctx[name];
    if (Object.hasOwn(context.env.globals, name)) return context.env.globals[name];
    return Object.hasOwn(PYTHON_CONSTANTS, name) ? PYTHON_CONSTANTS[name] : undefined;
  };
  const lookup = runtime.memberLookup;
  runtime.memberLookup = function memberLookup(this: unknown, obj: unknown, key: unknown, ...rest: unknown[]) {
    // nunjucks is no sandbox: `range.constructor("return process")()` would run code. The way from
    // any value to Function (and so to process, require, the file system) goes through these
    // names, and prototypes through `__proto__`-like ones: none is reachable from a template.
    if (typeof key === 'string' && (FORBIDDEN_MEMBERS.has(key) || key.startsWith('__'))) {
      throw new TemplateError(`"${key}" cannot be used in a template`);
    }
    if (typeof obj === 'string' && typeof key === 'string' && Object.hasOwn(STRING_METHODS, key)) {
      const method = STRING_METHODS[key] as (this: string, ...args: unknown[]) => unknown;
      return (...args: unknown[]) => method.apply(obj, args);
    }
    return lookup.call(this, obj, key, ...rest);
  };
}

/** Jinja's own names for them (nunjucks' Jinja compatibility answers these in the lookup replaced here). */
const PYTHON_CONSTANTS: Readonly<Record<string, unknown>> = { True: true, False: false, None: null };
const FORBIDDEN_MEMBERS: ReadonlySet<string> = new Set(['constructor', 'prototype']);

/** Set on an error raised inside a macro: the template that defined the macro. */
export const MACRO_FILE = 'phoenixMacroFile';

/**
 * nunjucks names the template that catches an error, which for an error inside a macro imported
 * from another file is the importing template, while the line is the macro's. So: remember which
 * template is executing when each macro is defined, and tag errors raised inside the macro with it.
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
      executing.push(path);
      try {
        return root.apply(this, args);
      } finally {
        executing.pop();
      }
    };
  };
  const makeMacro = runtime.makeMacro;
  runtime.makeMacro = (argNames, kwargNames, func) => {
    const file = executing.at(-1);
    return makeMacro(argNames, kwargNames, function (this: unknown, ...args: unknown[]) {
      try {
        return func.apply(this, args);
      } catch (err) {
        if (file !== undefined && err !== null && typeof err === 'object' && !(MACRO_FILE in err)) {
          Object.assign(err, { [MACRO_FILE]: file });
        }
        throw err;
      }
    });
  };
}

const STRING_METHODS: Record<string, (this: string, ...args: never[]) => unknown> = {
  startswith(prefix: string) {
    return this.startsWith(prefix);
  },
  endswith(suffix: string) {
    return this.endsWith(suffix);
  },
  upper() {
    return this.toUpperCase();
  },
  lower() {
    return this.toLowerCase();
  },
  strip(chars?: string) {
    return stripChars(this, chars, true, true);
  },
  lstrip(chars?: string) {
    return stripChars(this, chars, true, false);
  },
  rstrip(chars?: string) {
    return stripChars(this, chars, false, true);
  },
  split(separator?: string | null, maxsplit?: number) {
    const parts =
      separator === undefined || separator === null ? this.trim().split(/\s+/).filter(Boolean) : this.split(separator);
    if (maxsplit === undefined || maxsplit < 0 || parts.length <= maxsplit + 1) return parts;
    const sep = separator ?? ' ';
    return [...parts.slice(0, maxsplit), parts.slice(maxsplit).join(sep)];
  },
  splitlines() {
    return this.split(/\r?\n/).filter((line, i, all) => i < all.length - 1 || line !== '');
  },
  join(items: unknown[]) {
    return items.map((item) => pythonText(item)).join(this);
  },
  title() {
    return this.toLowerCase().replace(/\b\w/g, (c) => c.toUpperCase());
  },
  capitalize() {
    return this.charAt(0).toUpperCase() + this.slice(1).toLowerCase();
  },
  isdigit() {
    return /^\d+$/.test(this);
  },
  find(sub: string) {
    return this.indexOf(sub);
  },
};

function stripChars(text: string, chars: string | undefined, left: boolean, right: boolean): string {
  const set = chars === undefined ? ' \t\n\r\v\f' : chars;
  let start = 0;
  let end = text.length;
  if (left) while (start < end && set.includes(text.charAt(start))) start++;
  if (right) while (end > start && set.includes(text.charAt(end - 1))) end--;
  return text.slice(start, end);
}

/** How Jinja prints a value: Python's str(). */
export function pythonText(value: unknown): string {
  if (value === undefined || value === null) return value === null ? 'None' : '';
  if (typeof value === 'string') return value;
  if (value instanceof runtime.SafeString) return String(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value) || isPlainObject(value)) return pythonRepr(value);
  return String(value);
}

/** Python's repr() of data: what `{{ pillar['users'] }}` prints in Salt (and valid YAML flow). */
export function pythonRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const escaped = value
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t')
      .replaceAll(quote, `\\${quote}`);
    return `${quote}${escaped}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pythonRepr).join(', ')}]`;
  if (isPlainObject(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${pythonRepr(k)}: ${pythonRepr(v)}`)
      .join(', ')}}`;
  }
  return pythonRepr(String(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** nunjucks passes `f(a, b=1)` as f(a, {b: 1, __keywords: true}). */
export function splitKeywords(args: unknown[]): { args: unknown[]; kwargs: Record<string, unknown> } {
  const last = args.at(-1);
  if (isPlainObject(last) && last.__keywords === true) {
    const { __keywords: _ignored, ...kwargs } = last;
    return { args: args.slice(0, -1), kwargs };
  }
  return { args, kwargs: {} };
}

interface RenderScope {
  grains: unknown;
  pillar: unknown;
  opts: unknown;
}

/** A template-side function with named parameters, so keyword arguments work as in Salt. */
function local(params: readonly string[], run: (...args: unknown[]) => unknown): (...raw: unknown[]) => unknown {
  return (...raw: unknown[]) => {
    const { args, kwargs } = splitKeywords(raw);
    const bound = [...args];
    for (const [name, value] of Object.entries(kwargs)) {
      const index = params.indexOf(name);
      if (index === -1) throw new Error(`unexpected keyword argument '${name}'`);
      bound[index] = value;
    }
    return run(...bound);
  };
}

/**
 * `salt` in a template: `salt['mod.fun'](...)` and `salt.mod.fun(...)`. Functions that only read
 * data the template already has, or the local file system, answer here at once; every other
 * function is called through the minion's module registry on the main thread (synchronously from
 * the template's point of view: see render-worker.ts).
 */
export function createSaltFunctions(scope: RenderScope, bridge: TemplateBridge): object {
  const lookupWith =
    (data: () => unknown) =>
    (key: unknown, fallback: unknown = '', delimiter: unknown = ':') =>
      traverse(data(), String(key), fallback, typeof delimiter === 'string' ? delimiter : ':');
  const exists = (kind: 'file' | 'directory') => (path: unknown) => {
    try {
      const info = statSync(String(path));
      return kind === 'file' ? info.isFile() : info.isDirectory();
    } catch {
      return false;
    }
  };
  const builtins: Record<string, (...args: unknown[]) => unknown> = {
    'grains.get': local(
      ['key', 'default', 'delimiter'],
      lookupWith(() => scope.grains),
    ),
    'grains.items': local([], () => scope.grains),
    'pillar.get': local(
      ['key', 'default', 'delimiter'],
      lookupWith(() => scope.pillar),
    ),
    'pillar.items': local([], () => scope.pillar),
    'config.get': local(['key', 'default', 'delimiter'], (key, fallback = '', delimiter = ':') => {
      const missing = Symbol('missing');
      for (const data of [scope.opts, scope.grains, scope.pillar]) {
        const found = traverse(data, String(key), missing, String(delimiter));
        if (found !== missing) return found;
      }
      return fallback;
    }),
    'file.file_exists': local(['path'], exists('file')),
    'file.directory_exists': local(['path'], exists('directory')),
    'state.sls_exists': local(['mods'], (mods) => bridge.slsExists(String(mods))),
  };
  const callable = (fun: string) =>
    builtins[fun] ??
    ((...raw: unknown[]) => {
      if (fun.startsWith('state.')) {
        throw new Error(`salt['${fun}'] cannot be called while rendering a state run`);
      }
      const { args, kwargs } = splitKeywords(raw);
      return bridge.call(fun, args, kwargs);
    });
  const moduleProxy = (module: string) =>
    new Proxy(
      {},
      {
        get: (_target, fun) => (typeof fun === 'string' ? callable(`${module}.${fun}`) : undefined),
      },
    );
  return new Proxy(
    {},
    {
      get: (_target, key) => {
        if (typeof key !== 'string') return undefined;
        if (/^[A-Za-z_][\w]*\.[A-Za-z_][\w]*$/.test(key)) return callable(key);
        if (/^[A-Za-z_][\w]*$/.test(key)) return moduleProxy(key);
        return undefined;
      },
      has: (_target, key) => typeof key === 'string',
    },
  );
}

/** `{% do expr %}`: evaluates an expression for its effect (`{% do users.append(u) %}`). */
class DoExtension {
  readonly tags = ['do'];

  parse(
    parser: {
      nextToken(): { value: string; lineno: number; colno: number };
      parseExpression(): unknown;
      advanceAfterBlockEnd(name: string): void;
    },
    nodes: {
      NodeList: new (lineno: number, colno: number, children: unknown[]) => unknown;
      CallExtension: new (ext: unknown, prop: string, args: unknown) => unknown;
    },
  ): unknown {
    const token = parser.nextToken();
    const expression = parser.parseExpression();
    parser.advanceAfterBlockEnd(token.value);
    return new nodes.CallExtension(this, 'run', new nodes.NodeList(token.lineno, token.colno, [expression]));
  }

  run(): string {
    return '';
  }
}

function shellQuote(value: unknown): string {
  const text = pythonText(value);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'"'"'`)}'`;
}

const FILTERS: Record<string, (...args: unknown[]) => unknown> = {
  json: (value) => JSON.stringify(value ?? null),
  tojson: (value) => JSON.stringify(value ?? null),
  // JSON is YAML flow style: what Salt's `yaml` filter (default_flow_style=True) is for.
  yaml: (value) => JSON.stringify(value ?? null),
  yaml_encode: (value) => (typeof value === 'string' ? JSON.stringify(value) : pythonText(value ?? null)),
  yaml_dquote: (value) => JSON.stringify(pythonText(value)),
  yaml_squote: (value) => `'${pythonText(value).replace(/'/g, "''")}'`,
  quote: shellQuote,
  sequence: (value) => (Array.isArray(value) ? value : [value]),
  to_bool: (value) =>
    typeof value === 'string' ? ['1', 'true', 'yes', 'on', 'y'].includes(value.toLowerCase()) : Boolean(value),
  unique: (value) => (Array.isArray(value) ? [...new Set(value)] : value),
};

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

export function createJinjaEnvironment(options: JinjaOptions, bridge: TemplateBridge): nunjucks.Environment {
  installSaltCompat();
  const env = new nunjucks.Environment([rootsLoader(bridge)], {
    autoescape: false,
    throwOnUndefined: true,
    trimBlocks: options.trimBlocks,
    lstripBlocks: options.lstripBlocks,
    // Keeps nunjucks' own error objects (line and column) instead of flattening them.
    dev: true,
  });
  for (const [name, filter] of Object.entries(FILTERS)) env.addFilter(name, filter);
  env.addExtension('do', new DoExtension());
  env.addGlobal('sls_exists', (name: unknown) => bridge.slsExists(String(name)));
  return env;
}
