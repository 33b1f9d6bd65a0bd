import {
  add,
  PyError,
  PyUndefined,
  Namespace,
  attributeObject,
  check,
  contains,
  copyDict,
  defineOwn,
  eq,
  float,
  formatValue,
  getattr,
  getitem,
  isDict,
  isFloat,
  isNumber,
  isString,
  iterate,
  key,
  len,
  num,
  order,
  percentFormat,
  pyfunction,
  repr,
  s,
  sortValues,
  splitArguments,
  str,
  titleCase,
  truth,
  tuple,
  typeName,
  unpack,
} from './python.js';

/**
 * Jinja2's built-in filters, tests and globals with Jinja2's semantics (3.1), written against the
 * Python value model. Salt's own filters are in salt-filters.ts.
 */

export type Filter = (...raw: unknown[]) => unknown;
export type Test = (value: unknown, ...args: unknown[]) => boolean;

/** What a filter needs of its environment: other filters and tests (map, select...). */
export interface FilterScope {
  filter(name: string): Filter;
  test(name: string): Test;
}

/** `attribute` of map/sort/groupby...: `a.b.0` walks attributes and items. */
function attributeGetter(attribute: unknown, fallback?: unknown): (item: unknown) => unknown {
  const parts = typeof attribute === 'number' ? [attribute] : str(attribute).split('.');
  return (item: unknown) => {
    let value = item;
    for (const part of parts) {
      value =
        typeof part === 'number' || /^\d+$/.test(String(part)) ? getitem(value, Number(part)) : getitem(value, part);
      if (value instanceof PyUndefined) {
        if (fallback !== undefined) return fallback;
        break;
      }
    }
    return value;
  };
}

function caseFold(value: unknown, caseSensitive: unknown): unknown {
  return !truth(caseSensitive ?? false) && isString(value) ? s(value).toLowerCase() : value;
}

function items(value: unknown): unknown[] {
  return iterate(value);
}

function prepareMap(scope: FilterScope, args: unknown[], kwargs: Record<string, unknown>): (item: unknown) => unknown {
  if (args.length === 0 && Object.hasOwn(kwargs, 'attribute')) {
    const fallback = kwargs.default;
    return attributeGetter(kwargs.attribute, fallback);
  }
  const [name, ...rest] = args;
  if (name === undefined) throw new PyError('TypeError', 'map requires a filter argument');
  const filter = scope.filter(str(name));
  return (item: unknown) =>
    filter(item, ...rest, ...(Object.keys(kwargs).length > 0 ? [{ ...kwargs, __keywords: true }] : []));
}

function prepareSelect(
  scope: FilterScope,
  args: unknown[],
  kwargs: Record<string, unknown>,
  byAttribute: boolean,
): (item: unknown) => boolean {
  let getter: (item: unknown) => unknown = (item) => item;
  let rest = args;
  if (byAttribute) {
    const [attribute, ...others] = args;
    if (attribute === undefined) throw new PyError('TypeError', 'selectattr requires an attribute');
    getter = attributeGetter(attribute);
    rest = others;
  }
  const [testName, ...testArgs] = rest;
  if (testName === undefined) return (item) => truth(getter(item));
  const test = scope.test(str(testName));
  void kwargs;
  return (item) => test(getter(item), ...testArgs);
}

/** Python's sum(): start + each value, with Python's `+` (numbers, lists, tuples). */
function sum(values: unknown[], start: unknown = 0): unknown {
  if (isString(start)) throw new PyError('TypeError', "sum() can't sum strings [use ''.join(seq) instead]");
  let total: unknown = start;
  for (const v of values) {
    check(v);
    total = add(total, v);
  }
  return total;
}

function toInt(value: unknown, fallback: unknown, base: unknown): unknown {
  check(value);
  const b = base === undefined ? 10 : num(base);
  if (isString(value)) {
    const text = s(value).trim().replace(/_/g, '');
    const prefixed = /^[-+]?0[xob]/i.test(text) && b !== 10;
    const body = prefixed ? text.replace(/^([-+]?)0[xob]/i, '$1') : text;
    const digits =
      b === 10
        ? /^[-+]?\d+$/
        : b === 16
          ? /^[-+]?[0-9a-f]+$/i
          : b === 8
            ? /^[-+]?[0-7]+$/
            : b === 2
              ? /^[-+]?[01]+$/
              : /^[-+]?[0-9a-z]+$/i;
    if (digits.test(body)) return parseInt(body, b);
    const f = Number(text);
    if (text !== '' && Number.isFinite(f)) return Math.trunc(f);
    return fallback ?? 0;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (isNumber(value)) return Math.trunc(num(value));
  return fallback ?? 0;
}

function toFloat(value: unknown, fallback: unknown): unknown {
  check(value);
  if (isString(value)) {
    const text = s(value).trim().toLowerCase();
    if (text === 'inf' || text === '+inf' || text === 'infinity') return Infinity;
    if (text === '-inf' || text === '-infinity') return -Infinity;
    if (text === 'nan') return NaN;
    const f = Number(text.replace(/_/g, ''));
    return text !== '' && !Number.isNaN(f) ? float(f) : (fallback ?? float(0));
  }
  if (isNumber(value) || typeof value === 'boolean') return float(num(value));
  return fallback ?? float(0);
}

function round(value: unknown, precision: unknown, method: unknown): unknown {
  const p = precision === undefined ? 0 : num(precision);
  const factor = 10 ** p;
  const m = method === undefined ? 'common' : str(method);
  const x = num(check(value));
  let result: number;
  if (m === 'common') {
    // Python's round-half-even on the decimal value, as Jinja2's "common" is round() then.
    const scaled = x * factor;
    const floor = Math.floor(scaled);
    const diff = scaled - floor;
    result = diff > 0.5 || (diff === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
    result /= factor;
  } else if (m === 'ceil') result = Math.ceil(x * factor) / factor;
  else if (m === 'floor') result = Math.floor(x * factor) / factor;
  else throw new PyError('FilterArgumentError', 'method must be common, ceil or floor');
  return float(result);
}

function truncate(value: unknown, length: unknown, killwords: unknown, end: unknown, leeway: unknown): string {
  const text = str(value);
  const l = length === undefined ? 255 : num(length);
  const e = end === undefined ? '...' : str(end);
  const lw = leeway === undefined || leeway === null ? 5 : num(leeway);
  if (text.length <= l + lw) return text;
  if (truth(killwords ?? false)) return text.slice(0, l - e.length) + e;
  const cut = text.slice(0, l - e.length);
  const space = cut.lastIndexOf(' ');
  return (space === -1 ? cut : cut.slice(0, space)) + e;
}

function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\n|\r/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Jinja2 3's indent: the first line and blank lines stay as they are unless asked. */
function indent(value: unknown, width: unknown, first: unknown, blank: unknown): string {
  const prefix = width === undefined ? '    ' : isString(width) ? s(width) : ' '.repeat(num(width));
  const lines = splitLines(`${str(value)}\n`);
  let rv: string;
  if (truth(blank ?? false)) rv = lines.join(`\n${prefix}`);
  else {
    rv = lines.shift() ?? '';
    if (lines.length > 0) rv += `\n${lines.map((line) => (line === '' ? line : prefix + line)).join('\n')}`;
  }
  return truth(first ?? false) ? prefix + rv : rv;
}

function wordwrap(value: unknown, width: unknown, breakLong: unknown, wrapstring: unknown): string {
  const w = width === undefined ? 79 : num(width);
  const sep = wrapstring === undefined || wrapstring === null ? '\n' : str(wrapstring);
  const out: string[] = [];
  for (const paragraph of str(value).split(/\r?\n/)) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      let rest = word;
      while (truth(breakLong ?? true) && rest.length > w) {
        if (line !== '') {
          out.push(line);
          line = '';
        }
        out.push(rest.slice(0, w));
        rest = rest.slice(w);
      }
      if (line === '') line = rest;
      else if (line.length + 1 + rest.length <= w) line += ` ${rest}`;
      else {
        out.push(line);
        line = rest;
      }
    }
    out.push(line);
  }
  return out.join(sep);
}

function groupRow(grouper: unknown, list: unknown[]): unknown[] {
  const row = attributeObject(tuple([grouper, list]));
  Object.defineProperty(row, 'grouper', { value: grouper, enumerable: false });
  Object.defineProperty(row, 'list', { value: list, enumerable: false });
  return row;
}

function escapeHtml(value: unknown): string {
  return str(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&#34;')
    .replace(/'/g, '&#39;');
}

/** Python's json.dumps (sort_keys as asked, ", " and ": " separators, optional indent). */
export function pythonJson(
  value: unknown,
  options: { sortKeys?: boolean; indent?: number | string | undefined; ensureAscii?: boolean } = {},
): string {
  const pad = typeof options.indent === 'number' ? ' '.repeat(options.indent) : options.indent;
  const encodeString = (text: string) => {
    let out = JSON.stringify(text);
    if (options.ensureAscii === true)
      out = out.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    return out;
  };
  const walk = (v: unknown, depth: number): string => {
    check(v);
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (isNumber(v)) {
      const n = num(v);
      if (Number.isNaN(n)) return 'NaN';
      if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
      return isFloat(v) ? repr(v) : String(n);
    }
    if (isString(v)) return encodeString(s(v));
    const nl = pad === undefined ? '' : `\n${pad.repeat(depth + 1)}`;
    const end = pad === undefined ? '' : `\n${pad.repeat(depth)}`;
    const comma = pad === undefined ? ', ' : ',';
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[${nl}${v.map((item) => walk(item, depth + 1)).join(comma + nl)}${end}]`;
    }
    if (isDict(v) || v instanceof Namespace) {
      let entries = Object.entries(v);
      if (entries.length === 0) return '{}';
      if (options.sortKeys === true) entries = entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${nl}${entries.map(([k, item]) => `${encodeString(k)}: ${walk(item, depth + 1)}`).join(comma + nl)}${end}}`;
    }
    throw new PyError('TypeError', `Object of type ${typeName(v)} is not JSON serializable`);
  };
  return walk(value, 0);
}

function fn(
  name: string,
  params: readonly string[],
  body: (...bound: unknown[]) => unknown,
  undefinedOk = false,
): Filter {
  return pyfunction(name, params, body, undefinedOk);
}

export function jinjaFilters(scope: FilterScope): Record<string, Filter> {
  const filters: Record<string, Filter> = {
    abs: fn('abs', ['value'], (v) => {
      const n = num(check(v));
      return isFloat(v) ? float(Math.abs(n)) : Math.abs(n);
    }),
    attr: fn('attr', ['obj', 'name'], (obj, name) => getattr(obj, str(name))),
    batch: fn('batch', ['value', 'linecount', 'fill_with='], (value, count, fill) => {
      const size = num(count);
      const out: unknown[][] = [];
      let row: unknown[] = [];
      for (const item of items(value)) {
        if (row.length === size) {
          out.push(row);
          row = [];
        }
        row.push(item);
      }
      if (row.length > 0) {
        if (fill !== undefined && fill !== null) while (row.length < size) row.push(fill);
        out.push(row);
      }
      return out;
    }),
    capitalize: fn('capitalize', ['s'], (v) => {
      const t = str(v);
      return t.charAt(0).toUpperCase() + t.slice(1).toLowerCase();
    }),
    center: fn('center', ['value', 'width='], (v, w) => {
      const t = str(v);
      const width = w === undefined ? 80 : num(w);
      const missing = width - t.length;
      if (missing <= 0) return t;
      const left = Math.floor(missing / 2) + (missing & width & 1);
      return ' '.repeat(left) + t + ' '.repeat(missing - left);
    }),
    default: fn(
      'default',
      ['value', 'default_value=', 'boolean='],
      (v, fallback, boolean) => {
        const missing = v instanceof PyUndefined || v === undefined || (truth(boolean ?? false) && !truth(v));
        return missing ? (fallback === undefined ? '' : fallback) : v;
      },
      true,
    ),
    dictsort: fn('dictsort', ['value', 'case_sensitive=', 'by=', 'reverse='], (v, cs, by, reverse) => {
      check(v);
      if (!isDict(v)) throw new PyError('TypeError', 'dictsort requires a dict');
      const position = by === undefined || str(by) === 'key' ? 0 : str(by) === 'value' ? 1 : -1;
      if (position === -1) throw new PyError('FilterArgumentError', 'You can only sort by either "key" or "value"');
      const pairs = Object.entries(v).map(([k, item]) => tuple([k, item]));
      return sortValues(pairs, (pair) => caseFold((pair as unknown[])[position], cs), truth(reverse ?? false));
    }),
    escape: fn('escape', ['s'], escapeHtml),
    filesizeformat: fn('filesizeformat', ['value', 'binary='], (v, binary) => {
      const bytes = num(toFloat(v, 0));
      const base = truth(binary ?? false) ? 1024 : 1000;
      const prefixes = truth(binary ?? false)
        ? ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB']
        : ['kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
      if (bytes === 1) return '1 Byte';
      if (bytes < base) return `${Math.trunc(bytes)} Bytes`;
      let unit = base;
      let prefix = prefixes[0] as string;
      for (let i = 0; i < prefixes.length; i++) {
        unit = base ** (i + 2);
        prefix = prefixes[i] as string;
        if (bytes < unit) break;
      }
      return `${((base * bytes) / unit).toFixed(1)} ${prefix}`;
    }),
    first: fn('first', ['seq'], (v) => {
      const all = items(v);
      return all.length === 0 ? new PyUndefined('No first item, sequence was empty.') : all[0];
    }),
    float: fn('float', ['value', 'default='], (v, d) => toFloat(v, d)),
    forceescape: fn('forceescape', ['value'], escapeHtml),
    format: (...raw: unknown[]) => {
      const { args, kwargs } = splitArguments(raw);
      const [template, ...values] = args;
      if (Object.keys(kwargs).length > 0 && values.length > 0) {
        throw new PyError('FilterArgumentError', "can't handle positional and keyword arguments at the same time");
      }
      return percentFormat(str(template), Object.keys(kwargs).length > 0 ? kwargs : tuple(values));
    },
    groupby: fn('groupby', ['value', 'attribute', 'default=', 'case_sensitive='], (v, attribute, fallback, cs) => {
      const getter = attributeGetter(attribute, fallback);
      const keyed = sortValues(items(v), (item) => caseFold(getter(item), cs), false);
      const groups: unknown[] = [];
      let current: { k: unknown; list: unknown[] } | undefined;
      for (const item of keyed) {
        const k = getter(item);
        if (current && eq(caseFold(current.k, cs), caseFold(k, cs))) current.list.push(item);
        else {
          current = { k, list: [item] };
          groups.push(current);
        }
      }
      return groups.map((g) => groupRow((g as { k: unknown }).k, (g as { list: unknown[] }).list));
    }),
    indent: fn('indent', ['s', 'width=', 'first=', 'blank='], indent),
    int: fn('int', ['value', 'default=', 'base='], toInt),
    items: fn('items', ['value'], (v) => {
      if (v instanceof PyUndefined) return [];
      check(v);
      if (!isDict(v)) throw new PyError('TypeError', `Can only get item pairs from a mapping.`);
      return Object.entries(v).map(([k, item]) => tuple([k, item]));
    }),
    join: fn('join', ['value', 'd=', 'attribute='], (v, d, attribute) => {
      const list = items(v);
      const values = attribute === undefined || attribute === null ? list : list.map(attributeGetter(attribute));
      return values.map((item) => str(item)).join(d === undefined ? '' : str(d));
    }),
    last: fn('last', ['seq'], (v) => {
      const all = items(v);
      return all.length === 0 ? new PyUndefined('No last item, sequence was empty.') : all.at(-1);
    }),
    length: fn('length', ['obj'], (v) => len(v)),
    list: fn('list', ['value'], (v) => [...items(v)]),
    lower: fn('lower', ['s'], (v) => str(v).toLowerCase()),
    map: (...raw: unknown[]) => {
      const { args, kwargs } = splitArguments(raw);
      const [value, ...rest] = args;
      const mapper = prepareMap(scope, rest, kwargs);
      return items(value).map(mapper);
    },
    max: fn('max', ['value', 'case_sensitive=', 'attribute='], (v, cs, attribute) => extreme(v, cs, attribute, 1)),
    min: fn('min', ['value', 'case_sensitive=', 'attribute='], (v, cs, attribute) => extreme(v, cs, attribute, -1)),
    pprint: fn('pprint', ['value'], (v) => repr(v)),
    random: fn('random', ['seq'], (v) => {
      const all = items(v);
      if (all.length === 0) return new PyUndefined('No random item, sequence was empty.');
      return all[Math.floor(Math.random() * all.length)];
    }),
    reject: (...raw: unknown[]) => {
      const { args, kwargs } = splitArguments(raw);
      const [value, ...rest] = args;
      const test = prepareSelect(scope, rest, kwargs, false);
      return items(value).filter((item) => !test(item));
    },
    rejectattr: (...raw: unknown[]) => {
      const { args, kwargs } = splitArguments(raw);
      const [value, ...rest] = args;
      const test = prepareSelect(scope, rest, kwargs, true);
      return items(value).filter((item) => !test(item));
    },
    replace: fn('replace', ['s', 'old', 'new', 'count='], (v, old, replacement, count) => {
      const method = getattr(str(v), 'replace') as (...a: unknown[]) => unknown;
      return count === undefined || count === null ? method(old, replacement) : method(old, replacement, count);
    }),
    reverse: fn('reverse', ['value'], (v) => {
      if (isString(v)) return [...s(v)].reverse().join('');
      return [...items(v)].reverse();
    }),
    round: fn('round', ['value', 'precision=', 'method='], round),
    safe: fn('safe', ['value'], (v) => str(v)),
    select: (...raw: unknown[]) => {
      const { args, kwargs } = splitArguments(raw);
      const [value, ...rest] = args;
      const test = prepareSelect(scope, rest, kwargs, false);
      return items(value).filter((item) => test(item));
    },
    selectattr: (...raw: unknown[]) => {
      const { args, kwargs } = splitArguments(raw);
      const [value, ...rest] = args;
      const test = prepareSelect(scope, rest, kwargs, true);
      return items(value).filter((item) => test(item));
    },
    slice: fn('slice', ['value', 'slices', 'fill_with='], (v, slices, fill) => {
      const seq = items(v);
      const n = num(slices);
      const perSlice = Math.floor(seq.length / n);
      const withExtra = seq.length % n;
      const out: unknown[][] = [];
      let offset = 0;
      for (let i = 0; i < n; i++) {
        const start = offset + i * perSlice;
        if (i < withExtra) offset++;
        const end = offset + (i + 1) * perSlice;
        const part = seq.slice(start, end);
        if (fill !== undefined && fill !== null && i >= withExtra) part.push(fill);
        out.push(part);
      }
      return out;
    }),
    sort: fn('sort', ['value', 'reverse=', 'case_sensitive=', 'attribute='], (v, reverse, cs, attribute) => {
      const getter = attribute === undefined || attribute === null ? (x: unknown) => x : attributeGetter(attribute);
      return sortValues([...items(v)], (item) => caseFold(getter(item), cs), truth(reverse ?? false));
    }),
    string: fn('string', ['value'], (v) => str(v)),
    striptags: fn('striptags', ['value'], (v) =>
      str(v)
        .replace(/<!--[\s\S]*?-->|<[^>]*>/g, '')
        .replace(/\s+/g, ' ')
        .trim(),
    ),
    sum: fn('sum', ['iterable', 'attribute=', 'start='], (v, attribute, start) => {
      const list = items(v);
      const values = attribute === undefined || attribute === null ? list : list.map(attributeGetter(attribute));
      return sum(values, start ?? 0);
    }),
    title: fn('title', ['s'], (v) => titleCase(str(v))),
    tojson: fn('tojson', ['value', 'indent='], (v, ind) =>
      pythonJson(v, {
        sortKeys: true,
        indent: ind === undefined || ind === null ? undefined : num(ind),
        ensureAscii: true,
      })
        .replace(/</g, '\\u003c')
        .replace(/>/g, '\\u003e')
        .replace(/&/g, '\\u0026')
        .replace(/'/g, '\\u0027'),
    ),
    trim: fn('trim', ['value', 'chars='], (v, chars) =>
      (getattr(str(v), 'strip') as (...a: unknown[]) => unknown)(...(chars === undefined ? [] : [chars])),
    ),
    truncate: fn('truncate', ['s', 'length=', 'killwords=', 'end=', 'leeway='], truncate),
    unique: fn('unique', ['value', 'case_sensitive=', 'attribute='], (v, cs, attribute) => {
      const getter = attribute === undefined || attribute === null ? (x: unknown) => x : attributeGetter(attribute);
      const out: unknown[] = [];
      const seen: unknown[] = [];
      for (const item of items(v)) {
        const k = caseFold(getter(item), cs);
        if (!seen.some((other) => eq(other, k))) {
          seen.push(k);
          out.push(item);
        }
      }
      return out;
    }),
    upper: fn('upper', ['s'], (v) => str(v).toUpperCase()),
    urlencode: fn('urlencode', ['value'], (v) => {
      if (isDict(v))
        return Object.entries(v)
          .map(([k, item]) => `${encodeURIComponent(k)}=${encodeURIComponent(str(item))}`)
          .join('&');
      return encodeURIComponent(str(v)).replace(/%2F/g, '/');
    }),
    wordcount: fn('wordcount', ['s'], (v) => (str(v).match(/\w+/gu) ?? []).length),
    wordwrap: fn('wordwrap', ['s', 'width=', 'break_long_words=', 'wrapstring=', 'break_on_hyphens='], wordwrap),
    xmlattr: fn('xmlattr', ['d', 'autospace='], (v, autospace) => {
      check(v);
      if (!isDict(v)) throw new PyError('TypeError', 'xmlattr requires a dict');
      const out = Object.entries(v)
        .filter(([, item]) => item !== null && item !== undefined && !(item instanceof PyUndefined))
        .map(([k, item]) => `${k}="${escapeHtml(item)}"`)
        .join(' ');
      return out !== '' && truth(autospace ?? true) ? ` ${out}` : out;
    }),
  };
  filters.d = filters.default as Filter;
  filters.e = filters.escape as Filter;
  filters.count = filters.length as Filter;
  return filters;
}

function extreme(v: unknown, cs: unknown, attribute: unknown, direction: 1 | -1): unknown {
  const list = items(v);
  if (list.length === 0) return new PyUndefined(`No aggregated item, sequence was empty.`);
  const getter = attribute === undefined || attribute === null ? (x: unknown) => x : attributeGetter(attribute);
  let best = list[0];
  for (const item of list.slice(1)) {
    if (order(caseFold(getter(item), cs), caseFold(getter(best), cs), '<') * direction > 0) best = item;
  }
  return best;
}

export const jinjaTests: Record<string, Test> = {
  boolean: (v) => typeof v === 'boolean',
  callable: (v) => typeof v === 'function',
  defined: (v) => !(v instanceof PyUndefined) && v !== undefined,
  undefined: (v) => v instanceof PyUndefined || v === undefined,
  divisibleby: (v, n) => num(check(v)) % num(n) === 0,
  eq: (v, other) => eq(v, other),
  escaped: () => false,
  even: (v) => num(check(v)) % 2 === 0,
  odd: (v) => Math.abs(num(check(v)) % 2) === 1,
  false: (v) => v === false,
  true: (v) => v === true,
  float: (v) => isNumber(v) && isFloat(v),
  integer: (v) => isNumber(v) && !isFloat(v),
  ge: (v, other) => order(v, other, '>=') >= 0,
  gt: (v, other) => order(v, other, '>') > 0,
  le: (v, other) => order(v, other, '<=') <= 0,
  lt: (v, other) => order(v, other, '<') < 0,
  ne: (v, other) => !eq(v, other),
  in: (v, seq) => contains(seq, v),
  iterable: (v) => isString(v) || Array.isArray(v) || isDict(v),
  lower: (v) => isString(v) && s(v) === s(v).toLowerCase(),
  upper: (v) => isString(v) && s(v) === s(v).toUpperCase(),
  mapping: (v) => isDict(v),
  none: (v) => v === null,
  number: (v) => isNumber(v) || typeof v === 'boolean',
  sameas: (v, other) => v === other || (v === null && other === null),
  sequence: (v) => isString(v) || Array.isArray(v) || isDict(v),
  string: (v) => isString(v),
};
jinjaTests.equalto = jinjaTests.eq as Test;
jinjaTests['=='] = jinjaTests.eq as Test;
jinjaTests['!='] = jinjaTests.ne as Test;
jinjaTests.greaterthan = jinjaTests.gt as Test;
jinjaTests['>'] = jinjaTests.gt as Test;
jinjaTests['>='] = jinjaTests.ge as Test;
jinjaTests.lessthan = jinjaTests.lt as Test;
jinjaTests['<'] = jinjaTests.lt as Test;
jinjaTests['<='] = jinjaTests.le as Test;

/** Jinja2's range with the sandbox's limit (Salt renders in Jinja's SandboxedEnvironment). */
const MAX_RANGE = 100_000;

function cycler(items: unknown[]): object {
  let index = 0;
  const self = attributeObject({}) as Record<string, unknown>;
  Object.defineProperty(self, 'current', { get: () => items[index], enumerable: true });
  defineOwn(self, 'next', () => {
    const value = items[index];
    index = (index + 1) % items.length;
    return value;
  });
  defineOwn(self, 'reset', () => {
    index = 0;
    return null;
  });
  return self;
}

export function jinjaGlobals(): Record<string, unknown> {
  return {
    range: pyfunction('range', ['start', 'stop=', 'step='], (a, b, c) => {
      const [start, stop] = b === undefined ? [0, num(a)] : [num(a), num(b)];
      const step = c === undefined ? 1 : num(c);
      if (step === 0) throw new PyError('ValueError', 'range() arg 3 must not be zero');
      const count = Math.max(0, Math.ceil((stop - start) / step));
      if (count > MAX_RANGE) {
        throw new PyError(
          'OverflowError',
          `Range too big. The sandbox blocks ranges larger than MAX_RANGE (${MAX_RANGE}).`,
        );
      }
      return Array.from({ length: count }, (_v, i) => start + i * step);
    }),
    dict: (...raw: unknown[]) => {
      const { args, kwargs } = splitArguments(raw);
      const out: Record<string, unknown> = {};
      const [source] = args;
      if (source !== undefined) {
        if (isDict(source)) Object.assign(out, copyDict(source));
        else
          for (const pair of iterate(source)) {
            const [k, v] = unpack(pair, 2);
            defineOwn(out, key(k), v);
          }
      }
      for (const [k, v] of Object.entries(kwargs)) defineOwn(out, k, v);
      return out;
    },
    namespace: (...raw: unknown[]) => {
      const { args, kwargs } = splitArguments(raw);
      const init: Record<string, unknown> = {};
      for (const source of args) if (isDict(source)) Object.assign(init, source);
      return new Namespace({ ...init, ...kwargs });
    },
    cycler: (...raw: unknown[]) => cycler(splitArguments(raw).args),
    joiner: pyfunction('joiner', ['sep='], (sep) => {
      let used = false;
      return () => {
        if (!used) {
          used = true;
          return '';
        }
        return sep === undefined ? ', ' : str(sep);
      };
    }),
    lipsum: pyfunction('lipsum', ['n=', 'html=', 'min=', 'max='], () => 'Lorem ipsum dolor sit amet.'),
  };
}

/** The `loop` of one iteration. */
export function loopContext(items: readonly unknown[]): { at(index: number): object } {
  let lastChanged: unknown[] | undefined;
  return {
    at(index: number): object {
      const length = items.length;
      const loop = attributeObject({}) as Record<string, unknown>;
      const values: Record<string, unknown> = {
        index: index + 1,
        index0: index,
        revindex: length - index,
        revindex0: length - index - 1,
        first: index === 0,
        last: index === length - 1,
        length,
        depth: 1,
        depth0: 0,
        previtem: index > 0 ? items[index - 1] : new PyUndefined('there is no previous item'),
        nextitem: index < length - 1 ? items[index + 1] : new PyUndefined('there is no next item'),
        cycle: (...raw: unknown[]) => {
          const { args } = splitArguments(raw);
          if (args.length === 0) throw new PyError('TypeError', 'no items for cycling given');
          return args[index % args.length];
        },
        changed: (...raw: unknown[]) => {
          const { args } = splitArguments(raw);
          if (
            lastChanged !== undefined &&
            lastChanged.length === args.length &&
            lastChanged.every((v, i) => eq(v, args[i]))
          ) {
            return false;
          }
          lastChanged = args;
          return true;
        },
      };
      for (const [k, v] of Object.entries(values)) defineOwn(loop, k, v);
      return loop;
    },
  };
}

export { formatValue };
