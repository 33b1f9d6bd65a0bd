/**
 * The values a Salt template sees, with Python's semantics on JavaScript data: str is a string,
 * int a number, float a number (an integral float is boxed as PyFloat so it prints `2.0`), list an
 * array, tuple an array marked in TUPLES, dict a plain object, None null, and an undefined name a
 * PyUndefined that fails (StrictUndefined, as Salt renders) as soon as it is used.
 *
 * Everything a template can reach goes through getattr/getitem here: own data of plain objects and
 * arrays, Python's methods of str/list/dict/tuple, and the attributes of the few objects Phoenix
 * gives templates. No JavaScript prototype, constructor or function property is reachable.
 */

/** A Python exception raised while rendering: `TypeError: ...`, shown with the template line. */
export class PyError extends Error {
  constructor(kind: string, message: string) {
    super(kind === '' ? message : `${kind}: ${message}`);
    this.name = 'PyError';
  }
}

/** An undefined value (Jinja's StrictUndefined): defined-tests and `default` see it, anything else fails. */
export class PyUndefined {
  /** `lenient`: prints as '' (the missing else of an inline if, as Jinja2 does). */
  constructor(
    readonly hint: string,
    readonly lenient = false,
  ) {}
  fail(): never {
    throw new PyError('', `Jinja variable ${this.hint}`);
  }
}

export function undefinedName(name: string): PyUndefined {
  return new PyUndefined(`'${name}' is undefined`);
}

/** A float whose value is integral (1.0): JavaScript cannot tell it from 1. */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  toString(): string {
    return floatRepr(this.value);
  }
  toJSON(): number {
    return this.value;
  }
}

const TUPLES = new WeakSet<readonly unknown[]>();

export function tuple<T>(items: T[]): T[] {
  TUPLES.add(items);
  return items;
}

export function isTuple(value: unknown): value is unknown[] {
  return Array.isArray(value) && TUPLES.has(value);
}

/** Jinja2's namespace(): the one object whose attributes a template may set. */
export class Namespace {
  constructor(init: Record<string, unknown>) {
    for (const [key, value] of Object.entries(init)) defineOwn(this, key, value);
  }
}

/** Objects Phoenix hands to templates whose own properties are their attributes. */
const ATTRIBUTE_OBJECTS = new WeakSet<object>();

/** Marks an object (loop, cycler, joiner, a groupby row...) as readable by attribute. */
export function attributeObject<T extends object>(value: T): T {
  ATTRIBUTE_OBJECTS.add(value);
  return value;
}

export function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

export function isDict(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

export function isString(value: unknown): value is string {
  return typeof value === 'string' || isSafeString(value);
}

let safeStringClass: (new (value: string) => object) | undefined;

/** nunjucks' SafeString (what macros and caller() return) is a str here. */
export function useSafeStringClass(cls: new (value: string) => object): void {
  safeStringClass = cls;
}

function isSafeString(value: unknown): boolean {
  return safeStringClass !== undefined && value instanceof safeStringClass;
}

/** The JavaScript string of a str value (a SafeString included). */
export function s(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}

export function isNumber(value: unknown): value is number | PyFloat {
  return (typeof value === 'number' || value instanceof PyFloat) && typeof value !== 'boolean';
}

export function isFloat(value: unknown): boolean {
  return value instanceof PyFloat || (typeof value === 'number' && !Number.isInteger(value));
}

/** A number as a float value: boxed when integral. */
export function float(value: number): number | PyFloat {
  return Number.isInteger(value) ? new PyFloat(value) : value;
}

export function num(value: unknown): number {
  if (value instanceof PyFloat) return value.value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value as number;
}

/** Python's type name: 'str', 'int', 'dict'... */
export function typeName(value: unknown): string {
  if (value === null) return 'NoneType';
  if (value instanceof PyUndefined) return 'Undefined';
  if (isString(value)) return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (isNumber(value)) return isFloat(value) ? 'float' : 'int';
  if (isTuple(value)) return 'tuple';
  if (Array.isArray(value)) return 'list';
  if (value instanceof Namespace) return 'Namespace';
  if (isDict(value)) return 'dict';
  if (typeof value === 'function') return 'function';
  return 'object';
}

export function check(value: unknown): unknown {
  if (value instanceof PyUndefined) value.fail();
  return value;
}

// ---------------------------------------------------------------- truth, str, repr

export function truth(value: unknown): boolean {
  if (value instanceof PyUndefined) {
    if (value.lenient) return false;
    value.fail();
  }
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (isNumber(value)) return num(value) !== 0;
  if (isString(value)) return s(value).length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isDict(value)) return Object.keys(value).length > 0;
  return true;
}

/** Python's repr of a float: `2.0`, `0.1`, `1e-05`, `1e+16`, `inf`. */
export function floatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa = '0', exp = '0'] = value.toExponential().split('e');
  const exponent = Number(exp);
  if (exponent < -4 || exponent >= 16) {
    const digits = mantissa.includes('.') ? mantissa : mantissa;
    return `${digits}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  const text = String(value);
  return text.includes('.') || text.includes('e') ? text : `${text}.0`;
}

/** str(): how Jinja prints a value. */
export function str(value: unknown): string {
  if (value instanceof PyUndefined) {
    if (value.lenient) return '';
    value.fail();
  }
  if (value === undefined) return '';
  if (isString(value)) return s(value);
  return repr(value);
}

export function repr(value: unknown, seen: Set<unknown> = new Set()): string {
  if (value instanceof PyUndefined) value.fail();
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value instanceof PyFloat) return floatRepr(value.value);
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : floatRepr(value);
  if (typeof value === 'bigint') return String(value);
  if (isString(value)) return stringRepr(s(value));
  if (typeof value === 'function') return '<function>';
  if (seen.has(value)) return Array.isArray(value) ? '[...]' : '{...}';
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const items = value.map((item) => repr(item, seen));
      if (isTuple(value)) return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
      return `[${items.join(', ')}]`;
    }
    if (value instanceof Namespace) {
      return `<Namespace ${Object.entries(value)
        .map(([k, v]) => `${stringRepr(k)}: ${repr(v, seen)}`)
        .join(', ')}>`;
    }
    if (isDict(value)) {
      return `{${Object.entries(value)
        .map(([k, v]) => `${stringRepr(k)}: ${repr(v, seen)}`)
        .join(', ')}}`;
    }
  } finally {
    seen.delete(value);
  }
  return '<object>';
}

export function stringRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '\\') out += '\\\\';
    else if (char === quote) out += `\\${quote}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return `${quote}${out}${quote}`;
}

// ---------------------------------------------------------------- arithmetic

function numeric(value: unknown): boolean {
  return isNumber(value) || typeof value === 'boolean';
}

function unsupported(op: string, a: unknown, b: unknown): never {
  throw new PyError('TypeError', `unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

function numberResult(value: number, asFloat: boolean): number | PyFloat {
  return asFloat ? float(value) : value;
}

export function add(a: unknown, b: unknown): unknown {
  check(a);
  check(b);
  if (numeric(a) && numeric(b)) return numberResult(num(a) + num(b), isFloat(a) || isFloat(b));
  if (isString(a) && isString(b)) return s(a) + s(b);
  if (Array.isArray(a) && Array.isArray(b) && isTuple(a) === isTuple(b)) {
    const joined = [...a, ...b];
    return isTuple(a) ? tuple(joined) : joined;
  }
  if (isString(a)) {
    throw new PyError('TypeError', `can only concatenate str (not "${typeName(b)}") to str`);
  }
  if (Array.isArray(a)) {
    throw new PyError('TypeError', `can only concatenate ${typeName(a)} (not "${typeName(b)}") to ${typeName(a)}`);
  }
  return unsupported('+', a, b);
}

export function sub(a: unknown, b: unknown): unknown {
  check(a);
  check(b);
  if (numeric(a) && numeric(b)) return numberResult(num(a) - num(b), isFloat(a) || isFloat(b));
  return unsupported('-', a, b);
}

function repeat(count: unknown): number {
  if (!numeric(count) || isFloat(count)) {
    throw new PyError('TypeError', `can't multiply sequence by non-int of type '${typeName(count)}'`);
  }
  return Math.max(0, num(count));
}

export function mul(a: unknown, b: unknown): unknown {
  check(a);
  check(b);
  if (numeric(a) && numeric(b)) return numberResult(num(a) * num(b), isFloat(a) || isFloat(b));
  if (isString(a)) return s(a).repeat(repeat(b));
  if (isString(b)) return s(b).repeat(repeat(a));
  const seq = Array.isArray(a) ? a : Array.isArray(b) ? b : undefined;
  if (seq) {
    const times = repeat(seq === a ? b : a);
    const out: unknown[] = [];
    for (let i = 0; i < times; i++) out.push(...seq);
    return isTuple(seq) ? tuple(out) : out;
  }
  return unsupported('*', a, b);
}

function divisor(b: unknown, what: string): number {
  const value = num(b);
  if (value === 0) throw new PyError('ZeroDivisionError', what);
  return value;
}

export function div(a: unknown, b: unknown): unknown {
  check(a);
  check(b);
  if (!numeric(a) || !numeric(b)) return unsupported('/', a, b);
  return float(num(a) / divisor(b, 'division by zero'));
}

export function floordiv(a: unknown, b: unknown): unknown {
  check(a);
  check(b);
  if (!numeric(a) || !numeric(b)) return unsupported('//', a, b);
  return numberResult(Math.floor(num(a) / divisor(b, 'integer division or modulo by zero')), isFloat(a) || isFloat(b));
}

export function mod(a: unknown, b: unknown): unknown {
  check(a);
  check(b);
  if (isString(a)) return percentFormat(s(a), b);
  if (!numeric(a) || !numeric(b)) return unsupported('%', a, b);
  const d = divisor(b, 'integer division or modulo by zero');
  const r = num(a) % d;
  return numberResult(r !== 0 && r < 0 !== d < 0 ? r + d : r, isFloat(a) || isFloat(b));
}

export function pow(a: unknown, b: unknown): unknown {
  check(a);
  check(b);
  if (!numeric(a) || !numeric(b)) return unsupported('** or pow()', a, b);
  const result = num(a) ** num(b);
  return numberResult(result, isFloat(a) || isFloat(b) || num(b) < 0);
}

export function neg(a: unknown): unknown {
  check(a);
  if (!numeric(a)) throw new PyError('TypeError', `bad operand type for unary -: '${typeName(a)}'`);
  return numberResult(-num(a), isFloat(a));
}

export function pos(a: unknown): unknown {
  check(a);
  if (!numeric(a)) throw new PyError('TypeError', `bad operand type for unary +: '${typeName(a)}'`);
  return typeof a === 'boolean' ? num(a) : a;
}

/** `~`: both sides as str. */
export function concat(a: unknown, b: unknown): string {
  return str(a) + str(b);
}

// ---------------------------------------------------------------- comparison

export function eq(a: unknown, b: unknown): boolean {
  check(a);
  check(b);
  if (a === b) return true;
  if (numeric(a) && numeric(b)) return num(a) === num(b);
  if (isString(a) && isString(b)) return s(a) === s(b);
  if (Array.isArray(a) && Array.isArray(b)) {
    return isTuple(a) === isTuple(b) && a.length === b.length && a.every((item, i) => eq(item, b[i]));
  }
  if (isDict(a) && isDict(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && eq(a[k], b[k]));
  }
  if (a instanceof Namespace || b instanceof Namespace) return false;
  return (a === null || a === undefined) && (b === null || b === undefined);
}

/** Python's ordering: numbers with numbers, str with str, sequences item by item. */
export function order(a: unknown, b: unknown, op: string): number {
  check(a);
  check(b);
  if (numeric(a) && numeric(b)) return num(a) - num(b);
  if (isString(a) && isString(b)) return s(a) < s(b) ? -1 : s(a) > s(b) ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b) && isTuple(a) === isTuple(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!eq(a[i], b[i])) return order(a[i], b[i], op);
    }
    return a.length - b.length;
  }
  throw new PyError('TypeError', `'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

export function compare(op: string, a: unknown, b: unknown): boolean {
  switch (op) {
    case '==':
    case '===':
      return eq(a, b);
    case '!=':
    case '!==':
      return !eq(a, b);
    case '<':
      return order(a, b, op) < 0;
    case '<=':
      return order(a, b, op) <= 0;
    case '>':
      return order(a, b, op) > 0;
    case '>=':
      return order(a, b, op) >= 0;
    default:
      throw new PyError('SyntaxError', `unknown comparison ${op}`);
  }
}

/** `item in container`. */
export function contains(container: unknown, item: unknown): boolean {
  check(container);
  check(item);
  if (isString(container)) {
    if (!isString(item)) {
      throw new PyError('TypeError', `'in <string>' requires string as left operand, not ${typeName(item)}`);
    }
    return s(container).includes(s(item));
  }
  if (Array.isArray(container)) return container.some((element) => eq(element, item));
  if (isDict(container) || container instanceof Namespace) return Object.hasOwn(container, key(item));
  throw new PyError('TypeError', `argument of type '${typeName(container)}' is not iterable`);
}

/** A dict key: Python allows any hashable value, JavaScript objects only strings. */
export function key(value: unknown): string {
  check(value);
  if (isString(value)) return s(value);
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (isNumber(value)) return String(num(value));
  if (isTuple(value)) return repr(value);
  throw new PyError('TypeError', `unhashable type: '${typeName(value)}'`);
}

// ---------------------------------------------------------------- iteration

/** What `for x in value` walks: a list's items, a dict's keys, a str's characters. */
export function iterate(value: unknown): unknown[] {
  check(value);
  if (Array.isArray(value)) return value;
  if (isString(value)) return [...s(value)];
  if (isDict(value)) return Object.keys(value);
  if (value === null || value === undefined) {
    throw new PyError('TypeError', `'NoneType' object is not iterable`);
  }
  throw new PyError('TypeError', `'${typeName(value)}' object is not iterable`);
}

export function unpack(value: unknown, count: number): unknown[] {
  const items = iterate(value);
  if (items.length !== count) {
    throw new PyError(
      'ValueError',
      items.length > count
        ? `too many values to unpack (expected ${count})`
        : `not enough values to unpack (expected ${count}, got ${items.length})`,
    );
  }
  return items;
}

export function len(value: unknown): number {
  check(value);
  if (isString(value)) return [...s(value)].length;
  if (Array.isArray(value)) return value.length;
  if (isDict(value)) return Object.keys(value).length;
  throw new PyError('TypeError', `object of type '${typeName(value)}' has no len()`);
}

// ---------------------------------------------------------------- attributes and items

function missingAttribute(obj: unknown, name: string): PyUndefined {
  return new PyUndefined(`'${typeName(obj)} object' has no attribute '${name}'`);
}

/** `obj.name`: Python attributes (methods) first, then items, as Jinja's getattr. */
export function getattr(obj: unknown, name: unknown): unknown {
  if (obj instanceof PyUndefined) obj.fail();
  const attr = String(name);
  const method = methodOf(obj, attr);
  if (method !== undefined) return method;
  if (typeof name === 'number' || /^\d+$/.test(attr)) {
    if (Array.isArray(obj) || isString(obj)) return getitem(obj, Number(attr));
  }
  if (obj !== null && typeof obj === 'object' && readableObject(obj) && Object.hasOwn(obj, attr)) {
    return (obj as Record<string, unknown>)[attr];
  }
  if (typeof obj === 'object' && obj !== null && SALT_PROXIES.has(obj)) {
    return (obj as Record<string, unknown>)[attr];
  }
  return missingAttribute(obj, attr);
}

/** `obj[key]`: items first, then attributes, as Jinja's getitem. */
export function getitem(obj: unknown, index: unknown): unknown {
  if (obj instanceof PyUndefined) obj.fail();
  check(index);
  if (Array.isArray(obj) || isString(obj)) {
    // A named tuple (a row of groupby): its fields by name, `group.grouper`, `group['list']`.
    const field = isString(index) ? s(index) : '';
    if (
      Array.isArray(obj) &&
      ATTRIBUTE_OBJECTS.has(obj) &&
      field !== 'length' &&
      !/^\d*$/.test(field) &&
      Object.hasOwn(obj, field)
    )
      return (obj as unknown as Record<string, unknown>)[field];
    if (numeric(index) && !isFloat(index)) {
      const sequence = Array.isArray(obj) ? obj : [...s(obj)];
      let i = num(index);
      if (i < 0) i += sequence.length;
      if (i >= 0 && i < sequence.length) return sequence[i];
      return new PyUndefined(`'${typeName(obj)} object' has no element ${num(index)}`);
    }
    if (isString(index)) {
      const method = methodOf(obj, s(index));
      if (method !== undefined) return method;
    }
    return new PyUndefined(`'${typeName(obj)} object' has no element ${repr(index)}`);
  }
  if (typeof obj === 'object' && obj !== null && SALT_PROXIES.has(obj)) {
    return (obj as Record<string, unknown>)[key(index)];
  }
  if (obj !== null && typeof obj === 'object' && readableObject(obj)) {
    const k = key(index);
    if (Object.hasOwn(obj, k)) return (obj as Record<string, unknown>)[k];
    const method = isString(index) ? methodOf(obj, s(index)) : undefined;
    if (method !== undefined) return method;
    return new PyUndefined(`'${typeName(obj)} object' has no attribute ${repr(index)}`);
  }
  if (obj === null) return new PyUndefined(`'None' has no attribute ${repr(index)}`);
  return new PyUndefined(`'${typeName(obj)} object' has no attribute ${repr(index)}`);
}

function readableObject(obj: object): boolean {
  return isDict(obj) || obj instanceof Namespace || ATTRIBUTE_OBJECTS.has(obj);
}

/** `salt` itself: its own get trap answers `salt['mod.fun']` and `salt.mod.fun`. */
const SALT_PROXIES = new WeakSet<object>();

export function registerSaltProxy(proxy: object): void {
  SALT_PROXIES.add(proxy);
}

/** `{% set ns.attr = value %}`: only a namespace takes attributes. */
export function setattr(obj: unknown, name: string, value: unknown): void {
  if (!(obj instanceof Namespace)) {
    throw new PyError('', `cannot assign attribute on non-namespace object (${typeName(obj)})`);
  }
  defineOwn(obj, name, value);
}

export function slice(obj: unknown, start: unknown, stop: unknown, step: unknown): unknown {
  check(obj);
  const sequence: unknown[] = Array.isArray(obj) ? obj : isString(obj) ? [...s(obj)] : iterate(obj);
  const n = sequence.length;
  const st = step === null || step === undefined ? 1 : num(step);
  if (st === 0) throw new PyError('ValueError', 'slice step cannot be zero');
  const bound = (value: unknown, fallback: number): number => {
    if (value === null || value === undefined) return fallback;
    let i = num(value);
    if (i < 0) i += n;
    return st > 0 ? Math.min(Math.max(i, 0), n) : Math.min(Math.max(i, -1), n - 1);
  };
  const from = bound(start, st > 0 ? 0 : n - 1);
  const to = bound(stop, st > 0 ? n : -1);
  const out: unknown[] = [];
  for (let i = from; st > 0 ? i < to : i > to; i += st) out.push(sequence[i]);
  if (isString(obj)) return out.join('');
  return isTuple(obj) ? tuple(out) : out;
}

// ---------------------------------------------------------------- calls and keyword arguments

export interface Arguments {
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
}

/** nunjucks passes `f(a, b=1)` as f(a, {b: 1, __keywords: true}). */
export function splitArguments(raw: readonly unknown[]): Arguments {
  const last = raw.at(-1);
  if (last !== null && typeof last === 'object' && Object.hasOwn(last, '__keywords')) {
    const kwargs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(last)) if (k !== '__keywords') kwargs[k] = v;
    return { args: raw.slice(0, -1), kwargs };
  }
  return { args: [...raw], kwargs: {} };
}

/**
 * A Python function with named parameters: positional and keyword arguments are bound to `params`
 * (a name ending in `=` is optional; `*name` takes the rest of the positional ones, `**name` the
 * rest of the keywords), with Python's errors for too many or unknown ones.
 */
export function pyfunction(
  name: string,
  params: readonly string[],
  body: (...bound: unknown[]) => unknown,
  undefinedOk = false,
): (...raw: unknown[]) => unknown {
  const named = params.filter((p) => !p.startsWith('*')).map((p) => p.replace(/=$/, ''));
  const required = params.filter((p) => !p.startsWith('*') && !p.endsWith('=')).length;
  const restArgs = params.findIndex((p) => p.startsWith('*') && !p.startsWith('**'));
  const restKwargs = params.some((p) => p.startsWith('**'));
  return (...raw: unknown[]) => {
    const { args, kwargs } = splitArguments(raw);
    if (!undefinedOk) {
      for (const value of args) if (value instanceof PyUndefined) value.fail();
      for (const value of Object.values(kwargs)) if (value instanceof PyUndefined) value.fail();
    }
    const bound: unknown[] = new Array<unknown>(named.length).fill(undefined);
    const extra: unknown[] = [];
    args.forEach((value, i) => {
      if (i < named.length && (restArgs === -1 || i < restArgs)) bound[i] = value;
      else if (restArgs !== -1) extra.push(value);
      else {
        throw new PyError(
          'TypeError',
          `${name}() takes ${named.length} positional argument${named.length === 1 ? '' : 's'} but ${args.length} were given`,
        );
      }
    });
    const extraKwargs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(kwargs)) {
      const index = named.indexOf(k);
      if (index === -1) {
        if (restKwargs) extraKwargs[k] = v;
        else throw new PyError('TypeError', `${name}() got an unexpected keyword argument '${k}'`);
      } else bound[index] = v;
    }
    for (let i = 0; i < required; i++) {
      if (bound[i] === undefined) {
        throw new PyError('TypeError', `${name}() missing required argument: '${named[i]}'`);
      }
    }
    const out = [...bound];
    if (restArgs !== -1) out.push(extra);
    if (restKwargs) out.push(extraKwargs);
    return body(...out);
  };
}

// ---------------------------------------------------------------- methods

type Method = (self: never, ...bound: unknown[]) => unknown;

interface MethodTable {
  readonly [name: string]: readonly [params: readonly string[], body: Method];
}

function methodOf(obj: unknown, name: string): ((...raw: unknown[]) => unknown) | undefined {
  let table: MethodTable | undefined;
  if (isString(obj)) table = STR_METHODS;
  else if (isTuple(obj)) table = TUPLE_METHODS;
  else if (Array.isArray(obj)) table = LIST_METHODS;
  else if (isDict(obj)) table = DICT_METHODS;
  if (!table || !Object.hasOwn(table, name)) return undefined;
  const [params, body] = table[name] as readonly [readonly string[], Method];
  const self = isString(obj) ? s(obj) : obj;
  return pyfunction(name, params, (...bound) => (body as (self: unknown, ...b: unknown[]) => unknown)(self, ...bound));
}

const WHITESPACE = ' \t\n\r\v\f';

function stripChars(text: string, chars: unknown, left: boolean, right: boolean): string {
  const set = chars === undefined || chars === null ? WHITESPACE : str(chars);
  let start = 0;
  let end = text.length;
  if (left) while (start < end && set.includes(text.charAt(start))) start++;
  if (right) while (end > start && set.includes(text.charAt(end - 1))) end--;
  return text.slice(start, end);
}

function affixes(value: unknown, method: string): string[] {
  if (isString(value)) return [s(value)];
  if (isTuple(value) && value.every(isString)) return value.map(s);
  throw new PyError('TypeError', `${method} first arg must be str or a tuple of str, not ${typeName(value)}`);
}

function splitWords(text: string, maxsplit: number, fromRight: boolean): string[] {
  const words = text.split(/[ \t\n\r\v\f]+/).filter((w) => w !== '');
  if (maxsplit < 0 || words.length <= maxsplit + 1) return words;
  if (!fromRight) {
    const out: string[] = [];
    let rest = text.replace(/^[ \t\n\r\v\f]+/, '');
    for (let i = 0; i < maxsplit; i++) {
      const m = /[ \t\n\r\v\f]+/.exec(rest);
      if (!m) break;
      out.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
    out.push(rest);
    return out;
  }
  const out: string[] = [];
  let rest = text.replace(/[ \t\n\r\v\f]+$/, '');
  for (let i = 0; i < maxsplit; i++) {
    const m = /[ \t\n\r\v\f]+(?=[^ \t\n\r\v\f]*$)/.exec(rest);
    if (!m) break;
    out.unshift(rest.slice(m.index + m[0].length));
    rest = rest.slice(0, m.index);
  }
  out.unshift(rest);
  return out;
}

function splitBy(text: string, sep: unknown, maxsplit: unknown, fromRight: boolean): string[] {
  const max = maxsplit === undefined || maxsplit === null ? -1 : num(maxsplit);
  if (sep === undefined || sep === null) return splitWords(text, max, fromRight);
  const separator = str(sep);
  if (separator === '') throw new PyError('ValueError', 'empty separator');
  const parts = text.split(separator);
  if (max < 0 || parts.length <= max + 1) return parts;
  if (!fromRight) return [...parts.slice(0, max), parts.slice(max).join(separator)];
  return [parts.slice(0, parts.length - max).join(separator), ...parts.slice(parts.length - max)];
}

function findIn(text: string, sub: unknown, start: unknown, end: unknown, fromRight: boolean): number {
  const region = slice(text, start ?? null, end ?? null, null) as string;
  const offset =
    start === undefined || start === null ? 0 : Math.max(0, num(start) < 0 ? text.length + num(start) : num(start));
  const found = fromRight ? region.lastIndexOf(str(sub)) : region.indexOf(str(sub));
  return found === -1 ? -1 : found + offset;
}

function isTitle(text: string): boolean {
  let cased = false;
  let previousCased = false;
  for (const c of text) {
    const upper = c !== c.toLowerCase();
    const lower = c !== c.toUpperCase();
    if (upper) {
      if (previousCased) return false;
      previousCased = cased = true;
    } else if (lower) {
      if (!previousCased) return false;
      previousCased = cased = true;
    } else previousCased = false;
  }
  return cased;
}

export function titleCase(text: string): string {
  return text.replace(/[A-Za-z\u00C0-\uFFFF]+/g, (word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase());
}

function pad(text: string, width: unknown, fill: unknown, align: 'left' | 'right' | 'center'): string {
  const w = num(width);
  const f = fill === undefined ? ' ' : str(fill);
  if (f.length !== 1) throw new PyError('TypeError', 'The fill character must be exactly one character long');
  const missing = w - text.length;
  if (missing <= 0) return text;
  if (align === 'left') return text + f.repeat(missing);
  if (align === 'right') return f.repeat(missing) + text;
  // Python centres with the extra character on the left when the width is odd and the text even.
  const left = Math.floor(missing / 2) + (missing & w & 1);
  return f.repeat(left) + text + f.repeat(missing - left);
}

const STR_METHODS: MethodTable = {
  upper: [[], (t: string) => t.toUpperCase()],
  lower: [[], (t: string) => t.toLowerCase()],
  casefold: [[], (t: string) => t.toLowerCase()],
  title: [[], (t: string) => titleCase(t)],
  capitalize: [[], (t: string) => t.charAt(0).toUpperCase() + t.slice(1).toLowerCase()],
  swapcase: [
    [],
    (t: string) => [...t].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join(''),
  ],
  strip: [['chars='], (t: string, chars) => stripChars(t, chars, true, true)],
  lstrip: [['chars='], (t: string, chars) => stripChars(t, chars, true, false)],
  rstrip: [['chars='], (t: string, chars) => stripChars(t, chars, false, true)],
  split: [['sep=', 'maxsplit='], (t: string, sep, max) => splitBy(t, sep, max, false)],
  rsplit: [['sep=', 'maxsplit='], (t: string, sep, max) => splitBy(t, sep, max, true)],
  splitlines: [
    ['keepends='],
    (t: string, keep) => {
      const lines = t.match(/[^\n\r]*(\r\n|\n|\r|$)/g) ?? [];
      const out = lines.filter((line, i) => line !== '' || i < lines.length - 1).filter((l) => l !== '');
      return truth(keep) ? out : out.map((line) => line.replace(/(\r\n|\n|\r)$/, ''));
    },
  ],
  join: [
    ['iterable'],
    (t: string, items) =>
      iterate(items)
        .map((item) => {
          if (!isString(item)) {
            throw new PyError('TypeError', `sequence item: expected str instance, ${typeName(item)} found`);
          }
          return s(item);
        })
        .join(t),
  ],
  startswith: [
    ['prefix', 'start=', 'end='],
    (t: string, prefix, start, end) => {
      const region = slice(t, start ?? null, end ?? null, null) as string;
      return affixes(prefix, 'startswith').some((p) => region.startsWith(p));
    },
  ],
  endswith: [
    ['suffix', 'start=', 'end='],
    (t: string, suffix, start, end) => {
      const region = slice(t, start ?? null, end ?? null, null) as string;
      return affixes(suffix, 'endswith').some((p) => region.endsWith(p));
    },
  ],
  replace: [
    ['old', 'new', 'count='],
    (t: string, old, replacement, count) => {
      const parts = t.split(str(old));
      const limit = count === undefined || count === null || num(count) < 0 ? parts.length : num(count) + 1;
      if (str(old) === '') {
        const chars = [...t];
        const max = count === undefined || count === null || num(count) < 0 ? chars.length + 1 : num(count);
        let out = '';
        let done = 0;
        for (let i = 0; i <= chars.length; i++) {
          if (done < max) {
            out += str(replacement);
            done++;
          }
          out += chars[i] ?? '';
        }
        return out;
      }
      return [parts.slice(0, limit).join(str(replacement)), ...parts.slice(limit)].join(str(old));
    },
  ],
  find: [['sub', 'start=', 'end='], (t: string, sub, st, en) => findIn(t, sub, st, en, false)],
  rfind: [['sub', 'start=', 'end='], (t: string, sub, st, en) => findIn(t, sub, st, en, true)],
  index: [
    ['sub', 'start=', 'end='],
    (t: string, sub, st, en) => {
      const i = findIn(t, sub, st, en, false);
      if (i === -1) throw new PyError('ValueError', 'substring not found');
      return i;
    },
  ],
  rindex: [
    ['sub', 'start=', 'end='],
    (t: string, sub, st, en) => {
      const i = findIn(t, sub, st, en, true);
      if (i === -1) throw new PyError('ValueError', 'substring not found');
      return i;
    },
  ],
  count: [
    ['sub', 'start=', 'end='],
    (t: string, sub, st, en) => {
      const region = slice(t, st ?? null, en ?? null, null) as string;
      const needle = str(sub);
      return needle === '' ? [...region].length + 1 : region.split(needle).length - 1;
    },
  ],
  partition: [
    ['sep'],
    (t: string, sep) => {
      const i = t.indexOf(str(sep));
      return tuple(i === -1 ? [t, '', ''] : [t.slice(0, i), str(sep), t.slice(i + str(sep).length)]);
    },
  ],
  rpartition: [
    ['sep'],
    (t: string, sep) => {
      const i = t.lastIndexOf(str(sep));
      return tuple(i === -1 ? ['', '', t] : [t.slice(0, i), str(sep), t.slice(i + str(sep).length)]);
    },
  ],
  zfill: [
    ['width'],
    (t: string, width) => {
      const sign = t.startsWith('-') || t.startsWith('+') ? t.charAt(0) : '';
      const body = sign === '' ? t : t.slice(1);
      return sign + body.padStart(num(width) - sign.length, '0');
    },
  ],
  ljust: [['width', 'fillchar='], (t: string, w, f) => pad(t, w, f, 'left')],
  rjust: [['width', 'fillchar='], (t: string, w, f) => pad(t, w, f, 'right')],
  center: [['width', 'fillchar='], (t: string, w, f) => pad(t, w, f, 'center')],
  removeprefix: [['prefix'], (t: string, p) => (t.startsWith(str(p)) ? t.slice(str(p).length) : t)],
  removesuffix: [['suffix'], (t: string, p) => (str(p) !== '' && t.endsWith(str(p)) ? t.slice(0, -str(p).length) : t)],
  isdigit: [[], (t: string) => /^\d+$/.test(t)],
  isdecimal: [[], (t: string) => /^\d+$/.test(t)],
  isnumeric: [[], (t: string) => /^\p{N}+$/u.test(t)],
  isalpha: [[], (t: string) => /^\p{L}+$/u.test(t)],
  isalnum: [[], (t: string) => /^[\p{L}\p{N}]+$/u.test(t)],
  isspace: [[], (t: string) => /^\s+$/.test(t)],
  islower: [[], (t: string) => /\p{Ll}/u.test(t) && t === t.toLowerCase()],
  isupper: [[], (t: string) => /\p{Lu}/u.test(t) && t === t.toUpperCase()],
  istitle: [[], (t: string) => isTitle(t)],
  isidentifier: [[], (t: string) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(t)],
  isascii: [[], (t: string) => [...t].every((c) => (c.codePointAt(0) ?? 0) < 0x80)],
  expandtabs: [
    ['tabsize='],
    (t: string, size) => {
      const width = size === undefined ? 8 : num(size);
      let column = 0;
      let out = '';
      for (const c of t) {
        if (c === '\t') {
          const pad = width > 0 ? width - (column % width) : 0;
          out += ' '.repeat(pad);
          column += pad;
        } else {
          out += c;
          column = c === '\n' || c === '\r' ? 0 : column + 1;
        }
      }
      return out;
    },
  ],
  format: [
    ['*args', '**kwargs'],
    (t: string, args, kwargs) => strFormat(t, args as unknown[], kwargs as Record<string, unknown>),
  ],
  format_map: [['mapping'], (t: string, mapping) => strFormat(t, [], mapping as Record<string, unknown>)],
  encode: [['encoding=', 'errors='], (t: string) => t],
  decode: [['encoding=', 'errors='], (t: string) => t],
};

function listIndex(list: unknown[], value: unknown, start: unknown, end: unknown): number {
  const from = start === undefined ? 0 : num(start) < 0 ? list.length + num(start) : num(start);
  const to = end === undefined ? list.length : num(end) < 0 ? list.length + num(end) : num(end);
  for (let i = Math.max(0, from); i < Math.min(list.length, to); i++) if (eq(list[i], value)) return i;
  throw new PyError('ValueError', `${repr(value)} is not in list`);
}

function mutable(list: unknown[]): unknown[] {
  if (isTuple(list)) throw new PyError('AttributeError', `'tuple' object has no such attribute`);
  return list;
}

/** Python's sorted(): numbers and str each in their own order, mixing them is a TypeError. */
export function sortValues(items: unknown[], keyOf: (item: unknown) => unknown, reverse: boolean): unknown[] {
  const keyed = items.map((item, i) => ({ item, k: keyOf(item), i }));
  keyed.sort((a, b) => order(a.k, b.k, '<') || a.i - b.i);
  if (reverse) {
    // Python's reverse sort is stable too: equal keys keep their original order.
    keyed.sort((a, b) => order(b.k, a.k, '<') || a.i - b.i);
  }
  return keyed.map(({ item }) => item);
}

const LIST_METHODS: MethodTable = {
  append: [
    ['object'],
    (l: unknown[], item) => {
      mutable(l).push(item);
      return null;
    },
  ],
  extend: [
    ['iterable'],
    (l: unknown[], items) => {
      mutable(l).push(...iterate(items));
      return null;
    },
  ],
  insert: [
    ['index', 'object'],
    (l: unknown[], index, item) => {
      let i = num(index);
      if (i < 0) i = Math.max(0, l.length + i);
      mutable(l).splice(Math.min(i, l.length), 0, item);
      return null;
    },
  ],
  remove: [
    ['value'],
    (l: unknown[], value) => {
      const i = l.findIndex((item) => eq(item, value));
      if (i === -1) throw new PyError('ValueError', 'list.remove(x): x not in list');
      mutable(l).splice(i, 1);
      return null;
    },
  ],
  pop: [
    ['index='],
    (l: unknown[], index) => {
      if (l.length === 0) throw new PyError('IndexError', 'pop from empty list');
      let i = index === undefined ? l.length - 1 : num(index);
      if (i < 0) i += l.length;
      if (i < 0 || i >= l.length) throw new PyError('IndexError', 'pop index out of range');
      return mutable(l).splice(i, 1)[0];
    },
  ],
  clear: [
    [],
    (l: unknown[]) => {
      mutable(l).length = 0;
      return null;
    },
  ],
  index: [['value', 'start=', 'stop='], (l: unknown[], v, st, en) => listIndex(l, v, st, en)],
  count: [['value'], (l: unknown[], v) => l.filter((item) => eq(item, v)).length],
  sort: [
    ['key=', 'reverse='],
    (l: unknown[], keyFn, reverse) => {
      const keyOf =
        keyFn === undefined || keyFn === null
          ? (x: unknown) => x
          : (x: unknown) => (keyFn as (v: unknown) => unknown)(x);
      const sorted = sortValues(l, keyOf, truth(reverse ?? false));
      mutable(l).splice(0, l.length, ...sorted);
      return null;
    },
  ],
  reverse: [
    [],
    (l: unknown[]) => {
      mutable(l).reverse();
      return null;
    },
  ],
  copy: [[], (l: unknown[]) => [...l]],
};

const TUPLE_METHODS: MethodTable = {
  index: [['value', 'start=', 'stop='], (l: unknown[], v, st, en) => listIndex(l, v, st, en)],
  count: [['value'], (l: unknown[], v) => l.filter((item) => eq(item, v)).length],
};

function keyError(k: unknown): never {
  throw new PyError('KeyError', repr(k));
}

function updateDict(d: Record<string, unknown>, other: unknown, kwargs: Record<string, unknown>): void {
  if (other !== undefined && other !== null) {
    check(other);
    if (isDict(other)) for (const [k, v] of Object.entries(other)) defineOwn(d, k, v);
    else {
      for (const pair of iterate(other)) {
        const [k, v] = unpack(pair, 2);
        defineOwn(d, key(k), v);
      }
    }
  }
  for (const [k, v] of Object.entries(kwargs)) defineOwn(d, k, v);
}

const DICT_METHODS: MethodTable = {
  keys: [[], (d: Record<string, unknown>) => Object.keys(d)],
  values: [[], (d: Record<string, unknown>) => Object.values(d)],
  items: [[], (d: Record<string, unknown>) => Object.entries(d).map(([k, v]) => tuple([k, v]))],
  get: [
    ['key', 'default='],
    (d: Record<string, unknown>, k, fallback) => {
      const name = key(k);
      return Object.hasOwn(d, name) ? d[name] : fallback === undefined ? null : fallback;
    },
  ],
  update: [
    ['other=', '**kwargs'],
    (d: Record<string, unknown>, other, kwargs) => {
      updateDict(d, other, kwargs as Record<string, unknown>);
      return null;
    },
  ],
  setdefault: [
    ['key', 'default='],
    (d: Record<string, unknown>, k, fallback) => {
      const name = key(k);
      if (!Object.hasOwn(d, name)) defineOwn(d, name, fallback === undefined ? null : fallback);
      return d[name];
    },
  ],
  pop: [
    ['key', 'default='],
    (d: Record<string, unknown>, k, fallback) => {
      const name = key(k);
      if (!Object.hasOwn(d, name)) return fallback === undefined ? keyError(k) : fallback;
      const value = d[name];
      delete d[name];
      return value;
    },
  ],
  popitem: [
    [],
    (d: Record<string, unknown>) => {
      const last = Object.keys(d).at(-1);
      if (last === undefined) throw new PyError('KeyError', "'popitem(): dictionary is empty'");
      const value = d[last];
      delete d[last];
      return tuple([last, value]);
    },
  ],
  copy: [[], (d: Record<string, unknown>) => copyDict(d)],
  clear: [
    [],
    (d: Record<string, unknown>) => {
      for (const k of Object.keys(d)) delete d[k];
      return null;
    },
  ],
};

export function copyDict(d: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) defineOwn(out, k, v);
  return out;
}

/** A dict literal: keys set as own properties (so `{'__proto__': 1}` is just a key). */
export function dict(pairs: readonly (readonly [unknown, unknown])[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of pairs) defineOwn(out, key(k), v);
  return out;
}

// ---------------------------------------------------------------- % formatting and str.format

interface Spec {
  fill: string;
  align: string;
  sign: string;
  alt: boolean;
  zero: boolean;
  width: number;
  grouping: string;
  precision: number | undefined;
  type: string;
}

/**
 * Python formats a float from its exact binary value, and an exact half rounds to even; JavaScript's
 * toFixed rounds the half up (2.25 -> '2.3' where Python prints '2.2').
 */
export function toFixedHalfEven(value: number, digits: number): string {
  const fixed = value.toFixed(digits);
  if (digits >= 80) return fixed;
  const exact = value.toFixed(Math.min(100, digits + 20));
  const rest = exact.slice(exact.length - 20);
  if (!/^50*$/.test(rest)) return fixed;
  const last = Number(fixed.charAt(fixed.length - 1));
  if (last % 2 === 0) return fixed;
  // The half was rounded up to an odd digit: one unit less is the even neighbour.
  const units = BigInt(fixed.replace('.', '')) - 1n;
  const text = units.toString().padStart(digits + 1, '0');
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

function groupDigits(digits: string, separator: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, separator);
}

function formatNumber(value: unknown, spec: Spec): string {
  let type = spec.type;
  if (!numeric(value)) {
    throw new PyError('ValueError', `Unknown format code '${type}' for object of type '${typeName(value)}'`);
  }
  const n = num(value);
  if (type === '') type = isFloat(value) ? 'r' : 'd';
  const negative = n < 0 || Object.is(n, -0);
  const a = Math.abs(n);
  let body: string;
  let prefix = '';
  switch (type) {
    case 'd':
    case 'n':
      if (isFloat(value)) throw new PyError('ValueError', `Unknown format code 'd' for object of type 'float'`);
      body = String(Math.trunc(a));
      break;
    case 'x':
    case 'X':
      body = Math.trunc(a).toString(16);
      if (type === 'X') body = body.toUpperCase();
      if (spec.alt) prefix = type === 'X' ? '0X' : '0x';
      break;
    case 'o':
      body = Math.trunc(a).toString(8);
      if (spec.alt) prefix = '0o';
      break;
    case 'b':
      body = Math.trunc(a).toString(2);
      if (spec.alt) prefix = '0b';
      break;
    case 'c':
      body = String.fromCodePoint(a);
      break;
    case 'f':
    case 'F':
      body = Number.isFinite(a) ? toFixedHalfEven(a, spec.precision ?? 6) : a > 0 ? 'inf' : 'nan';
      break;
    case 'e':
    case 'E': {
      const [m = '', e = '0'] = a.toExponential(spec.precision ?? 6).split('e');
      body = `${m}e${Number(e) < 0 ? '-' : '+'}${String(Math.abs(Number(e))).padStart(2, '0')}`;
      if (type === 'E') body = body.toUpperCase();
      break;
    }
    case 'g':
    case 'G': {
      const p = spec.precision === undefined ? 6 : Math.max(1, spec.precision);
      const exp = a === 0 ? 0 : Math.floor(Math.log10(a));
      if (exp < -4 || exp >= p) {
        const [m = '', e = '0'] = a.toExponential(p - 1).split('e');
        const mant = spec.alt ? m : m.replace(/\.?0+$/, '');
        body = `${mant}e${Number(e) < 0 ? '-' : '+'}${String(Math.abs(Number(e))).padStart(2, '0')}`;
      } else {
        body = a.toFixed(Math.max(0, p - 1 - exp));
        if (!spec.alt && body.includes('.')) body = body.replace(/\.?0+$/, '');
      }
      if (type === 'G') body = body.toUpperCase();
      break;
    }
    case '%':
      body = `${(a * 100).toFixed(spec.precision ?? 6)}%`;
      break;
    case 'r':
      body = floatRepr(a);
      if (spec.precision !== undefined) body = String(Number(a.toPrecision(spec.precision)));
      break;
    default:
      throw new PyError('ValueError', `Unknown format code '${type}' for object of type '${typeName(value)}'`);
  }
  if (spec.grouping !== '') {
    const [int = '', frac] = body.split('.');
    body = groupDigits(int, spec.grouping) + (frac === undefined ? '' : `.${frac}`);
  }
  const sign = negative ? '-' : spec.sign === '+' ? '+' : spec.sign === ' ' ? ' ' : '';
  const head = sign + prefix;
  if (spec.zero && spec.align === '') {
    return head + body.padStart(spec.width - head.length, '0');
  }
  return align(head + body, spec, '>', head);
}

function align(text: string, spec: Spec, defaultAlign: string, signPart = ''): string {
  const width = spec.width;
  const length = [...text].length;
  if (length >= width) return text;
  const fill = spec.fill === '' ? ' ' : spec.fill;
  const missing = width - length;
  switch (spec.align || defaultAlign) {
    case '<':
      return text + fill.repeat(missing);
    case '^': {
      const left = Math.floor(missing / 2);
      return fill.repeat(left) + text + fill.repeat(missing - left);
    }
    case '=':
      return signPart + fill.repeat(missing) + text.slice(signPart.length);
    default:
      return fill.repeat(missing) + text;
  }
}

function parseSpec(text: string): Spec {
  const m = /^(?:(.)?([<>=^]))?([+\- ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%r])?$/su.exec(text);
  if (!m) throw new PyError('ValueError', `Invalid format specifier '${text}'`);
  return {
    fill: m[1] ?? (m[5] && !m[2] ? '0' : ''),
    align: m[2] ?? (m[5] ? '' : ''),
    sign: m[3] ?? '',
    alt: m[4] !== undefined,
    zero: m[5] !== undefined && m[2] === undefined,
    width: m[6] === undefined ? 0 : Number(m[6]),
    grouping: m[7] ?? '',
    precision: m[8] === undefined ? undefined : Number(m[8]),
    type: m[9] ?? '',
  };
}

/** format(value, spec) as Python's built-in. */
export function formatValue(value: unknown, specText: string): string {
  check(value);
  const spec = parseSpec(specText);
  if (isString(value) && spec.type !== 'r') {
    if (spec.type !== '' && spec.type !== 's') {
      throw new PyError('ValueError', `Unknown format code '${spec.type}' for object of type 'str'`);
    }
    let text = s(value);
    if (spec.precision !== undefined) text = [...text].slice(0, spec.precision).join('');
    return align(text, spec, '<');
  }
  if (numeric(value) && typeof value !== 'boolean') return formatNumber(value, spec);
  if (typeof value === 'boolean' && spec.type !== '' && spec.type !== 's') return formatNumber(num(value), spec);
  return align(str(value), spec, '<');
}

function fieldValue(field: string, args: unknown[], kwargs: Record<string, unknown>, auto: { next: number }): unknown {
  const m = /^([^.[]*)(.*)$/s.exec(field) as RegExpExecArray;
  const head = m[1] ?? '';
  let value: unknown;
  if (head === '') {
    if (auto.next < 0)
      throw new PyError('ValueError', 'cannot switch from manual field specification to automatic field numbering');
    value = args[auto.next];
    if (auto.next >= args.length)
      throw new PyError('IndexError', `Replacement index ${auto.next} out of range for positional args tuple`);
    auto.next++;
  } else if (/^\d+$/.test(head)) {
    if (auto.next > 0)
      throw new PyError('ValueError', 'cannot switch from automatic field numbering to manual field specification');
    auto.next = -1;
    const i = Number(head);
    if (i >= args.length)
      throw new PyError('IndexError', `Replacement index ${i} out of range for positional args tuple`);
    value = args[i];
  } else {
    if (!Object.hasOwn(kwargs, head)) throw new PyError('KeyError', stringRepr(head));
    value = kwargs[head];
  }
  let rest = m[2] ?? '';
  while (rest !== '') {
    const attr = /^\.([^.[]+)/.exec(rest);
    if (attr) {
      value = check(getattr(value, attr[1]));
      rest = rest.slice(attr[0].length);
      continue;
    }
    const item = /^\[([^\]]*)\]/.exec(rest);
    if (!item) throw new PyError('ValueError', `Invalid format field '${field}'`);
    const index = item[1] ?? '';
    value = check(getitem(value, /^\d+$/.test(index) ? Number(index) : index));
    rest = rest.slice(item[0].length);
  }
  return value;
}

/** str.format: `{}`, `{0}`, `{name}`, `{0[key]}`, `{0.attr}`, `!r`/`!s`, format specs, `{{`/`}}`. */
export function strFormat(template: string, args: unknown[], kwargs: Record<string, unknown>): string {
  const auto = { next: 0 };
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template.charAt(i);
    if (c === '{') {
      if (template.charAt(i + 1) === '{') {
        out += '{';
        i += 2;
        continue;
      }
      let depth = 1;
      let j = i + 1;
      while (j < template.length && depth > 0) {
        if (template.charAt(j) === '{') depth++;
        else if (template.charAt(j) === '}') depth--;
        j++;
      }
      if (depth !== 0) throw new PyError('ValueError', "Single '{' encountered in format string");
      const inner = template.slice(i + 1, j - 1);
      const fm = /^([^!:]*)(?:!([rsa]))?(?::(.*))?$/s.exec(inner);
      if (!fm) throw new PyError('ValueError', `Invalid format field '${inner}'`);
      let value = fieldValue(fm[1] ?? '', args, kwargs, auto);
      if (fm[2] === 'r' || fm[2] === 'a') value = repr(value);
      else if (fm[2] === 's') value = str(value);
      const specText = (fm[3] ?? '').replace(/\{([^{}]*)\}/g, (_all, nested: string) =>
        str(fieldValue(nested, args, kwargs, auto)),
      );
      out += formatValue(value, specText);
      i = j;
    } else if (c === '}') {
      if (template.charAt(i + 1) !== '}') throw new PyError('ValueError', "Single '}' encountered in format string");
      out += '}';
      i += 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** printf-style `%`: `'%s-%d' % (a, b)`, `'%(name)s' % d`, `'%s' % x`. */
export function percentFormat(template: string, values: unknown): string {
  const mapping = isDict(values) ? values : undefined;
  // A dict is the mapping of `%(name)s`, and also the one value of a plain `%s`, as in Python.
  const positional = isTuple(values) ? values : [values];
  let next = 0;
  let usedMapping = false;
  const take = (): unknown => {
    if (next >= positional.length) throw new PyError('TypeError', 'not enough arguments for format string');
    return positional[next++];
  };
  const out = template.replace(
    /%(?:\(([^)]*)\))?([#0\- +]*)(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])/g,
    (
      _all,
      name: string | undefined,
      flags: string,
      width: string | undefined,
      precision: string | undefined,
      conv: string,
    ) => {
      if (conv === '%' && name === undefined) return '%';
      let value: unknown;
      if (name !== undefined) {
        if (!mapping) throw new PyError('TypeError', 'format requires a mapping');
        if (!Object.hasOwn(mapping, name)) throw new PyError('KeyError', stringRepr(name));
        usedMapping = true;
        value = mapping[name];
      }
      const w = width === '*' ? num(take()) : width === undefined ? 0 : Number(width);
      const p = precision === '*' ? num(take()) : precision === undefined ? undefined : Number(precision);
      if (name === undefined) value = take();
      const spec: Spec = {
        fill: ' ',
        align: flags.includes('-') ? '<' : '',
        sign: flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '',
        alt: flags.includes('#'),
        zero: flags.includes('0') && !flags.includes('-'),
        width: w,
        grouping: '',
        precision: p,
        type: conv,
      };
      switch (conv) {
        case 's':
        case 'r':
        case 'a': {
          let text = conv === 's' ? str(value) : repr(value);
          if (p !== undefined) text = text.slice(0, p);
          return align(text, { ...spec, zero: false }, '>');
        }
        case 'd':
        case 'i':
        case 'u': {
          if (!numeric(value))
            throw new PyError('TypeError', `%${conv} format: a number is required, not ${typeName(value)}`);
          return formatNumber(Math.trunc(num(value)), { ...spec, type: 'd', align: spec.align || '' });
        }
        case 'o':
          return formatNumber(Math.trunc(num(value)), { ...spec, type: 'o' });
        case 'c':
          return isString(value) ? s(value) : String.fromCodePoint(num(value));
        default:
          if (!numeric(value)) throw new PyError('TypeError', `must be real number, not ${typeName(value)}`);
          return formatNumber(conv === 'x' || conv === 'X' ? Math.trunc(num(value)) : float(num(value)), spec);
      }
    },
  );
  if (mapping === undefined && next < positional.length) {
    throw new PyError('TypeError', 'not all arguments converted during string formatting');
  }
  void usedMapping;
  return out;
}

// ---------------------------------------------------------------- crossing threads

/** Template values as plain data (for salt[...] calls and results): floats unboxed, tuples as lists. */
export function toPlain(value: unknown): unknown {
  if (value instanceof PyUndefined) value.fail();
  if (value instanceof PyFloat) return value.value;
  if (isString(value)) return s(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Namespace || isDict(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) defineOwn(out, k, toPlain(v));
    return out;
  }
  if (typeof value === 'function') return repr(value);
  return value;
}
