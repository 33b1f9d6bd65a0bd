import { createHash, createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { traverse } from '../../data.js';
import { parseYaml } from '../yaml.js';
import { pythonJson } from './builtins.js';
import type { Filter, Test } from './builtins.js';
import {
  PyError,
  PyUndefined,
  check,
  contains,
  copyDict,
  defineOwn,
  eq,
  float,
  isDict,
  isFloat,
  isNumber,
  isString,
  isTuple,
  iterate,
  num,
  pyfunction,
  repr,
  s,
  str,
  truth,
  tuple,
  typeName,
} from './python.js';
import { pythonRegex } from './python-regex.js';

/**
 * Salt's own Jinja filters and tests (salt/utils/jinja.py and the `jinja_filter` functions of
 * salt.utils.*), with Salt's names, arguments and output.
 */

// ---------------------------------------------------------------- YAML as PyYAML writes it

const YAML_PLAIN_UNSAFE = /^(?:[-?:,[\]{}#&*!|>'"%@`]|[-?:](?:\s|$))|[\n\r\t]|: |:$| #|^\s|\s$|^$|^~$/;
/** What PyYAML's implicit resolvers read as something other than a string: such text is quoted. */
const YAML_RESOLVES = new RegExp(
  [
    'yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF',
    '[-+]?[0-9][0-9_]*\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?',
    '[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)',
    '[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+',
    '~|null|Null|NULL|<<|=',
    '[0-9]{4}-[0-9]{2}-[0-9]{2}',
    '[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\\.[0-9]*)?(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?',
  ]
    .map((alternatives) => `(?:${alternatives})`)
    .join('|')
    .replace(/^/, '^(?:')
    .replace(/$/, ')$'),
);

function yamlDoubleQuoted(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\t') out += '\\t';
    else if (char === '\r') out += '\\r';
    else if (code === 0) out += '\\0';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0').toUpperCase()}`;
    else out += char;
  }
  return `${out}"`;
}

function yamlSingleQuoted(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function yamlString(text: string, flow: boolean): string {
  // PyYAML's special characters (with allow_unicode, as Salt dumps): only double quotes can hold them.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x84\x86-\x9f\ufeff\ufffe\uffff]/.test(text)) return yamlDoubleQuoted(text);
  // In flow style `,?[]{}:` anywhere need quotes (PyYAML's flow indicators).
  if (YAML_RESOLVES.test(text) || YAML_PLAIN_UNSAFE.test(text) || (flow && /[,?[\]{}:]/.test(text))) {
    return yamlSingleQuoted(text);
  }
  return text;
}

function yamlScalar(value: unknown, flow: boolean): string | undefined {
  check(value);
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (isNumber(value)) {
    const n = num(value);
    if (Number.isNaN(n)) return '.nan';
    if (!Number.isFinite(n)) return n > 0 ? '.inf' : '-.inf';
    return isFloat(value) ? repr(value) : String(n);
  }
  if (isString(value)) return yamlString(s(value), flow);
  return undefined;
}

function sortedEntries(value: Record<string, unknown>): [string, unknown][] {
  return Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function flowYaml(value: unknown): string {
  const scalar = yamlScalar(value, true);
  if (scalar !== undefined) return scalar;
  if (Array.isArray(value)) return `[${value.map(flowYaml).join(', ')}]`;
  if (isDict(value))
    return `{${sortedEntries(value)
      .map(([k, v]) => `${yamlString(k, true)}: ${flowYaml(v)}`)
      .join(', ')}}`;
  throw new PyError('RepresenterError', `cannot represent an object: ${typeName(value)}`);
}

function blockYaml(value: unknown, indent: string): string[] {
  const scalar = yamlScalar(value, false);
  if (scalar !== undefined) return [indent + scalar];
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`];
    const lines: string[] = [];
    for (const item of value) {
      const inner = blockYaml(item, `${indent}  `);
      const first = (inner[0] ?? '').slice(indent.length + 2);
      lines.push(`${indent}- ${first}`, ...inner.slice(1));
    }
    return lines;
  }
  if (isDict(value)) {
    const entries = sortedEntries(value);
    if (entries.length === 0) return [`${indent}{}`];
    const lines: string[] = [];
    for (const [k, v] of entries) {
      const keyText = `${indent}${yamlString(k, false)}:`;
      const sc = yamlScalar(v, false);
      if (sc !== undefined || (Array.isArray(v) && v.length === 0) || (isDict(v) && Object.keys(v).length === 0)) {
        lines.push(`${keyText} ${sc ?? (Array.isArray(v) ? '[]' : '{}')}`);
      } else if (Array.isArray(v)) lines.push(keyText, ...blockYaml(v, indent));
      else lines.push(keyText, ...blockYaml(v, `${indent}  `));
    }
    return lines;
  }
  throw new PyError('RepresenterError', `cannot represent an object: ${typeName(value)}`);
}

/** Salt's `yaml` filter: PyYAML's safe_dump, flow style by default, keys sorted, no `...` end. */
export function yamlDump(value: unknown, flowStyle: unknown = true): string {
  if (truth(flowStyle) || yamlScalar(value, true) !== undefined) return flowYaml(value);
  return blockYaml(value, '').join('\n');
}

// ---------------------------------------------------------------- helpers

function regexFlags(ignorecase: unknown, multiline: unknown): string {
  return `${truth(ignorecase ?? false) ? 'i' : ''}${truth(multiline ?? false) ? 'm' : ''}`;
}

function groupsOf(match: RegExpExecArray | null): unknown {
  if (!match) return null;
  return tuple(match.slice(1).map((group) => (group === undefined ? null : group)));
}

function hashOf(algorithm: string): Filter {
  return pyfunction(algorithm, ['value'], (value) => createHash(algorithm).update(str(value)).digest('hex'));
}

function ipAddressMatches(value: string, version: 4 | 6 | undefined): boolean {
  const [address = '', prefix] = value.split('/');
  const kind = isIP(address);
  if (kind === 0 || (version !== undefined && kind !== version)) return false;
  if (prefix === undefined) return true;
  return /^\d+$/.test(prefix) && Number(prefix) <= (kind === 4 ? 32 : 128);
}

function filterAddresses(value: unknown, version: 4 | 6 | undefined): unknown {
  if (isString(value)) return ipAddressMatches(s(value), version) ? s(value) : null;
  const kept = iterate(value).filter((item) => isString(item) && ipAddressMatches(s(item), version));
  return kept;
}

function toBool(value: unknown): boolean {
  check(value);
  if (value === null || value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (isString(value)) return ['yes', '1', 'true'].includes(s(value).toLowerCase());
  if (isNumber(value)) return num(value) > 0;
  if (Array.isArray(value) || isDict(value)) return Object.keys(value).length > 0;
  return false;
}

function unique(values: unknown): unknown[] {
  const out: unknown[] = [];
  for (const item of iterate(values)) if (!out.some((other) => eq(other, item))) out.push(item);
  return out;
}

/** salt.utils.dictupdate.update: recursive by default, lists merged when asked. Mutates dest. */
export function dictUpdate(
  dest: Record<string, unknown>,
  upd: Record<string, unknown>,
  recursive = true,
  mergeLists = false,
): Record<string, unknown> {
  for (const [k, v] of Object.entries(upd)) {
    const existing = Object.hasOwn(dest, k) ? dest[k] : undefined;
    if (recursive && isDict(existing) && isDict(v)) dictUpdate(existing, v, recursive, mergeLists);
    else if (mergeLists && Array.isArray(existing) && Array.isArray(v)) {
      defineOwn(dest, k, [...existing, ...v.filter((item) => !existing.some((e) => eq(e, item)))]);
    } else defineOwn(dest, k, v);
  }
  return dest;
}

/** Python's copy.deepcopy of template data. */
export function deepCopy(value: unknown): unknown {
  if (Array.isArray(value)) {
    const copied = value.map(deepCopy);
    return isTuple(value) ? tuple(copied) : copied;
  }
  if (isDict(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) defineOwn(out, k, deepCopy(v));
    return out;
  }
  return value;
}

const PY_STRFTIME: Record<string, (d: Date) => string> = {
  a: (d) => d.toLocaleDateString('en-US', { weekday: 'short', timeZone: 'UTC' }),
  A: (d) => d.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' }),
  b: (d) => d.toLocaleDateString('en-US', { month: 'short', timeZone: 'UTC' }),
  B: (d) => d.toLocaleDateString('en-US', { month: 'long', timeZone: 'UTC' }),
  d: (d) => String(d.getUTCDate()).padStart(2, '0'),
  H: (d) => String(d.getUTCHours()).padStart(2, '0'),
  I: (d) => String(d.getUTCHours() % 12 || 12).padStart(2, '0'),
  j: (d) => String(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1).padStart(3, '0'),
  m: (d) => String(d.getUTCMonth() + 1).padStart(2, '0'),
  M: (d) => String(d.getUTCMinutes()).padStart(2, '0'),
  p: (d) => (d.getUTCHours() < 12 ? 'AM' : 'PM'),
  S: (d) => String(d.getUTCSeconds()).padStart(2, '0'),
  f: (d) => String(d.getUTCMilliseconds() * 1000).padStart(6, '0'),
  w: (d) => String(d.getUTCDay()),
  y: (d) => String(d.getUTCFullYear() % 100).padStart(2, '0'),
  Y: (d) => String(d.getUTCFullYear()),
  z: () => '+0000',
  Z: () => 'UTC',
  s: (d) => String(Math.floor(d.getTime() / 1000)),
  '%': () => '%',
};

export function strftime(date: Date, format: string): string {
  return format.replace(/%([a-zA-Z%])/g, (all, code: string) => {
    if (code === 'F') return strftime(date, '%Y-%m-%d');
    if (code === 'T') return strftime(date, '%H:%M:%S');
    if (code === 'D') return strftime(date, '%m/%d/%y');
    if (code === 'c') return strftime(date, '%a %b %d %H:%M:%S %Y');
    if (code === 'x') return strftime(date, '%m/%d/%y');
    if (code === 'X') return strftime(date, '%H:%M:%S');
    const f = PY_STRFTIME[code];
    return f ? f(date) : all;
  });
}

function parseDate(value: unknown, now: () => number): Date {
  check(value);
  if (isNumber(value)) return new Date(num(value) * 1000);
  const text = str(value).trim();
  if (text === 'now' || text === '') return new Date(now());
  if (/^\d+(\.\d+)?$/.test(text)) return new Date(Number(text) * 1000);
  const normalized = text.replace(/^(\d{4})\/(\d{1,2})\/(\d{1,2})/, '$1-$2-$3');
  const iso = /^\d{4}-\d{1,2}-\d{1,2}$/.test(normalized)
    ? normalized.replace(
        /^(\d{4})-(\d{1,2})-(\d{1,2})$/,
        (_a, y: string, m: string, d: string) => `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}T00:00:00Z`,
      )
    : normalized;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new PyError('ValueError', `Unable to parse ${repr(text)}`);
  return date;
}

function uuid5(name: string): string {
  // salt.utils.jinja's GLOBAL_UUID namespace.
  const namespace = Buffer.from('91633ebf1c865e33935a28061f4b480e', 'hex');
  const hash = createHash('sha1').update(namespace).update(name).digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function shellQuote(value: unknown): string {
  const text = str(value);
  if (text === '') return "''";
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'"'"'`)}'`;
}

function humanToBytes(value: unknown): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpezy]?)(i?)b?\s*$/i.exec(str(value));
  if (!m) return 0;
  const power = ' kmgtpezy'.indexOf((m[2] ?? '').toLowerCase() || ' ');
  const base = (m[3] ?? '') !== '' || (m[2] ?? '') !== '' ? 1024 : 1;
  return Math.trunc(Number(m[1]) * base ** Math.max(0, power));
}

// ---------------------------------------------------------------- the filters

export function saltFilters(options: {
  now(): number;
  roots?: (path: string) => string | undefined;
  /** file_hashsum's answer where the host's files are not the template's to read (a master). */
  hashFile?: (path: string, type: string) => string;
}): Record<string, Filter> {
  const filters: Record<string, Filter> = {
    yaml: pyfunction('yaml', ['value', 'flow_style='], (v, flow) => yamlDump(v, flow ?? true)),
    json: pyfunction('json', ['value', 'sort_keys=', 'indent='], (v, sortKeys, indent) =>
      pythonJson(v, {
        sortKeys: truth(sortKeys ?? true),
        indent: indent === undefined || indent === null ? undefined : num(indent),
      }),
    ),
    python: pyfunction('python', ['value'], (v) => repr(v)),
    yaml_encode: pyfunction('yaml_encode', ['data'], (v) => {
      check(v);
      if (isString(v)) return yamlDoubleQuoted(s(v));
      const scalar = yamlScalar(v, true);
      if (scalar === undefined) {
        throw new PyError(
          'TypeError',
          `yaml_encode() only works with YAML scalar data; failed for <class '${typeName(v)}'>`,
        );
      }
      return scalar;
    }),
    yaml_dquote: pyfunction('yaml_dquote', ['text'], (v) => yamlDoubleQuoted(str(v))),
    yaml_squote: pyfunction('yaml_squote', ['text'], (v) => yamlSingleQuoted(str(v))),
    load_yaml: pyfunction('load_yaml', ['value'], (v) => parseYaml(str(v), 'the load_yaml filter').value ?? null),
    load_json: pyfunction('load_json', ['value'], (v) => {
      try {
        return JSON.parse(str(v)) as unknown;
      } catch {
        throw new PyError('TemplateRuntimeError', `Unable to load json from ${str(v)}`);
      }
    }),
    load_text: pyfunction('load_text', ['value'], (v) => str(v)),
    regex_replace: pyfunction(
      'regex_replace',
      ['txt', 'rgx', 'val', 'ignorecase=', 'multiline='],
      (txt, rgx, val, ic, ml) => {
        const re = pythonRegex(str(rgx), `g${regexFlags(ic, ml)}`);
        return str(txt).replace(re.regex, re.replacement(str(val)));
      },
    ),
    regex_search: pyfunction('regex_search', ['txt', 'rgx', 'ignorecase=', 'multiline='], (txt, rgx, ic, ml) =>
      groupsOf(pythonRegex(str(rgx), regexFlags(ic, ml)).regex.exec(str(txt))),
    ),
    regex_match: pyfunction('regex_match', ['txt', 'rgx', 'ignorecase=', 'multiline='], (txt, rgx, ic, ml) =>
      groupsOf(pythonRegex(`^(?:${str(rgx)})`, regexFlags(ic, ml)).regex.exec(str(txt))),
    ),
    regex_escape: pyfunction('regex_escape', ['value'], (v) => str(v).replace(/[^A-Za-z0-9_]/g, (c) => `\\${c}`)),
    unique: pyfunction('unique', ['values'], (v) => unique(v)),
    sequence: pyfunction('sequence', ['data'], (v) => (Array.isArray(v) || isDict(v) ? v : [v])),
    to_bool: pyfunction('to_bool', ['val'], toBool),
    to_num: pyfunction('to_num', ['text'], (v) => {
      const text = str(v);
      if (/^[-+]?\d+$/.test(text)) return Number(text);
      const f = Number(text);
      return text.trim() !== '' && !Number.isNaN(f) ? float(f) : v;
    }),
    md5: hashOf('md5'),
    sha1: hashOf('sha1'),
    sha256: hashOf('sha256'),
    sha512: hashOf('sha512'),
    hmac: pyfunction('hmac', ['hmac_hashed', 'shared_secret', 'challenge_hmac='], (value, secret, challenge) => {
      const digest = createHmac('sha256', str(secret)).update(str(value)).digest('base64');
      return challenge === undefined ? digest : digest === str(challenge);
    }),
    random_hash: pyfunction('random_hash', ['size=', 'hash_type='], (size, type) =>
      createHash(type === undefined ? 'md5' : str(type))
        .update(randomBytes(size === undefined ? 9999 : Math.min(num(size), 1 << 20)))
        .digest('hex'),
    ),
    base64_encode: pyfunction('base64_encode', ['value'], (v) => Buffer.from(str(v), 'utf8').toString('base64')),
    base64_decode: pyfunction('base64_decode', ['value'], (v) => Buffer.from(str(v), 'base64').toString('utf8')),
    uuid: pyfunction('uuid', ['val'], (v) => uuid5(str(v))),
    quote: pyfunction('quote', ['txt'], shellQuote),
    skip: pyfunction('skip', ['data'], () => ''),
    strftime: pyfunction('strftime', ['value', 'format='], (v, format) =>
      strftime(parseDate(v, options.now), format === undefined ? '%Y-%m-%d %H:%M:%S' : str(format)),
    ),
    traverse: pyfunction('traverse', ['data', 'key', 'default=', 'delimiter='], (data, k, fallback, delimiter) =>
      traverse(data, str(k), fallback === undefined ? null : fallback, delimiter === undefined ? ':' : str(delimiter)),
    ),
    dict_merge: pyfunction(
      'dict_merge',
      ['obj_a', 'obj_b', 'strategy=', 'renderer=', 'merge_lists='],
      (a, b, strategy, _renderer, mergeLists) => {
        check(a);
        check(b);
        if (!isDict(a) || !isDict(b)) throw new PyError('TypeError', 'dict_merge merges two dictionaries');
        const copied = deepCopy(a) as Record<string, unknown>;
        const how = strategy === undefined ? 'smart' : str(strategy);
        if (how === 'overwrite') return { ...copied, ...b };
        return dictUpdate(copied, deepCopy(b) as Record<string, unknown>, how !== 'none', truth(mergeLists ?? false));
      },
    ),
    update: pyfunction(
      'update',
      ['dest', 'upd', 'recursive_update=', 'merge_lists='],
      (dest, upd, recursive, mergeLists) => {
        check(dest);
        check(upd);
        if (!isDict(dest) || !isDict(upd)) throw new PyError('TypeError', 'update merges two dictionaries');
        return dictUpdate(dest, upd, truth(recursive ?? true), truth(mergeLists ?? false));
      },
    ),
    is_list: pyfunction('is_list', ['value'], (v) => Array.isArray(v) && !isTuple(v)),
    is_iter: pyfunction('is_iter', ['y', 'ignore='], (v) => Array.isArray(v) || isDict(v)),
    is_ip: pyfunction('is_ip', ['ip', 'options='], (v) => isString(v) && ipAddressMatches(s(v), undefined)),
    is_ipv4: pyfunction('is_ipv4', ['ip', 'options='], (v) => isString(v) && ipAddressMatches(s(v), 4)),
    is_ipv6: pyfunction('is_ipv6', ['ip', 'options='], (v) => isString(v) && ipAddressMatches(s(v), 6)),
    ipaddr: pyfunction('ipaddr', ['value', 'options='], (v) => filterAddresses(v, undefined)),
    ipv4: pyfunction('ipv4', ['value', 'options='], (v) => filterAddresses(v, 4)),
    ipv6: pyfunction('ipv6', ['value', 'options='], (v) => filterAddresses(v, 6)),
    path_join: pyfunction('path_join', ['*parts'], (parts) => {
      let out = '';
      for (const part of parts as unknown[]) {
        const p = str(part);
        out = p.startsWith('/') || out === '' ? p : posix.join(out, p);
      }
      return out;
    }),
    file_hashsum: pyfunction('file_hashsum', ['path', 'hash_type='], (path, type) => {
      const file = str(path);
      if (options.hashFile) return options.hashFile(file, type === undefined ? 'sha256' : str(type));
      if (!statSync(file, { throwIfNoEntry: false })?.isFile()) {
        throw new PyError('CommandExecutionError', `file ${file} not found`);
      }
      return createHash(type === undefined ? 'sha256' : str(type))
        .update(readFileSync(file))
        .digest('hex');
    }),
    union: pyfunction('union', ['lst1', 'lst2'], (a, b) => unique([...iterate(a), ...iterate(b)])),
    intersect: pyfunction('intersect', ['lst1', 'lst2'], (a, b) => unique(iterate(a).filter((x) => contains(b, x)))),
    difference: pyfunction('difference', ['lst1', 'lst2'], (a, b) => unique(iterate(a).filter((x) => !contains(b, x)))),
    symmetric_difference: pyfunction('symmetric_difference', ['lst1', 'lst2'], (a, b) =>
      unique([...iterate(a).filter((x) => !contains(b, x)), ...iterate(b).filter((x) => !contains(a, x))]),
    ),
    avg: pyfunction('avg', ['lst'], (v) => {
      if (isNumber(v)) return float(num(v));
      const list = iterate(v);
      return float(list.reduce((total: number, x) => total + num(x), 0) / list.length);
    }),
    flatten: pyfunction('flatten', ['lst', 'levels=', 'preserve_nulls='], (v, levels, keepNulls) => {
      const walk = (items: unknown[], depth: number): unknown[] =>
        items.flatMap((item) => {
          if (Array.isArray(item) && (levels === undefined || levels === null || depth < num(levels)))
            return walk(item, depth + 1);
          if (item === null && !truth(keepNulls ?? false)) return [];
          return [item];
        });
      return walk(iterate(v), 0);
    }),
    zip: pyfunction('zip', ['*lists'], (lists) => {
      const all = (lists as unknown[]).map(iterate);
      const n = Math.min(...all.map((l) => l.length));
      return Array.from({ length: n }, (_x, i) => tuple(all.map((l) => l[i])));
    }),
    exactly_n_true: pyfunction(
      'exactly_n_true',
      ['iterable', 'amount='],
      (v, n) => iterate(v).filter(truth).length === (n === undefined ? 1 : num(n)),
    ),
    exactly_one_true: pyfunction('exactly_one_true', ['iterable'], (v) => iterate(v).filter(truth).length === 1),
    compare_lists: pyfunction('compare_lists', ['old', 'new'], (a, b) => {
      const out: Record<string, unknown> = {};
      const added = iterate(b).filter((x) => !contains(a, x));
      const removed = iterate(a).filter((x) => !contains(b, x));
      if (added.length > 0) out.new = added;
      if (removed.length > 0) out.old = removed;
      return out;
    }),
    compare_dicts: pyfunction('compare_dicts', ['old', 'new'], (a, b) => {
      const out: Record<string, unknown> = {};
      const oldD = (isDict(a) ? a : {}) as Record<string, unknown>;
      const newD = (isDict(b) ? b : {}) as Record<string, unknown>;
      for (const k of new Set([...Object.keys(oldD), ...Object.keys(newD)])) {
        const o = Object.hasOwn(oldD, k) ? oldD[k] : '';
        const n = Object.hasOwn(newD, k) ? newD[k] : '';
        if (!eq(o, n)) defineOwn(out, k, { old: o, new: n });
      }
      return out;
    }),
    human_to_bytes: pyfunction('human_to_bytes', ['size', 'default_unit=', 'handle_metric='], (v) => humanToBytes(v)),
    to_snake_case: pyfunction('to_snake_case', ['camel_case_string'], (v) =>
      str(v)
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
        .toLowerCase(),
    ),
    to_camelcase: pyfunction('to_camelcase', ['snake_case_string', 'uppercamel='], (v, upper) => {
      const parts = str(v).split('_');
      const [first = '', ...rest] = parts;
      const head = truth(upper ?? false) ? first.charAt(0).toUpperCase() + first.slice(1) : first;
      return head + rest.map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('');
    }),
    method_call: pyfunction('method_call', ['obj', 'f_name', '*f_args', '**f_kwargs'], (obj, name, args, kwargs) => {
      const method = (check(obj) as unknown, getMethod(obj, str(name)));
      return method(...(args as unknown[]), { ...(kwargs as Record<string, unknown>), __keywords: true });
    }),
    dict_to_sls_yaml_params: pyfunction('dict_to_sls_yaml_params', ['value', 'flow_style='], (v, flow) => {
      check(v);
      if (!isDict(v)) throw new PyError('TypeError', 'dict_to_sls_yaml_params takes a dict');
      return yamlDump(
        Object.entries(v).map(([k, item]) => ({ [k]: item })),
        flow ?? false,
      );
    }),
  };
  filters.sequence_ = filters.sequence as Filter;
  return filters;
}

let methodLookup: ((obj: unknown, name: string) => unknown) | undefined;

/** python.ts's getattr, given here to avoid a cycle of imports. */
export function useMethodLookup(lookup: (obj: unknown, name: string) => unknown): void {
  methodLookup = lookup;
}

function getMethod(obj: unknown, name: string): (...args: unknown[]) => unknown {
  const method = methodLookup?.(obj, name);
  if (typeof method !== 'function') {
    if (method instanceof PyUndefined) method.fail();
    throw new PyError('AttributeError', `'${typeName(obj)}' object has no attribute '${name}'`);
  }
  return method as (...args: unknown[]) => unknown;
}

/** Salt's extra tests. */
export const saltTests: Record<string, Test> = {
  match: (value, rgx, ignorecase, multiline) => {
    if (!isString(value)) return false;
    return pythonRegex(`^(?:${str(rgx)})`, regexFlags(ignorecase, multiline)).regex.test(s(value));
  },
  list: (value) => Array.isArray(value) && !isTuple(value),
  ip: (value) => isString(value) && ipAddressMatches(s(value), undefined),
};

export { toBool, unique, copyDict };
