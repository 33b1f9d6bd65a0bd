import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import { z } from 'zod';
import { traverse } from '@phoenix/state';
import type { StateOutcome } from '@phoenix/state';
import { writeFileAtomic } from '@phoenix/protocol';
import { ExecutionError } from '../../modules/errors.js';
import {
  applyAttributes,
  attributeChanges,
  formatMode,
  hostPath,
  ModeOrKeep,
  OwnerArg,
  statOrUndefined,
} from '../../modules/host-paths.js';
import type { AttributeChanges, Attributes } from '../../modules/host-paths.js';
import { contentDiff } from '../../modules/text-diff.js';
import { outcome } from './types.js';
import type { StateCallContext, StateRuntime } from './types.js';

/** Text as YAML may give it: numbers and booleans are written as Salt prints them. */
export const Text = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((value) => (typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value)));
export const TextOrLines = z.union([Text, z.array(Text)]);
export const Context = z.record(z.string(), z.unknown());
/** `mode: keep` keeps the mode the file has (Salt: the source's; Phoenix's sources carry none). */
export const FileMode = ModeOrKeep;
export const Owner = OwnerArg.nullish().transform((value) => value ?? undefined);
/** `backup: minion` keeps the old file in the minion's cache; '' or False keeps none. */
export const BackupArg = z
  .union([z.string(), z.boolean()])
  .transform((value) => (value === true ? 'minion' : value === false ? '' : value));
/** A suffix backup (file.replace's `backup: .bak`); False keeps none. */
export const SuffixBackup = z
  .union([z.string(), z.boolean()])
  .transform((value) => (value === false || value === true ? '' : value));

export const TEST_NOTE = '\nNote: No changes made, actual changes may\nbe different due to other states.';

export function modeOf(mode: number | 'keep' | undefined): number | undefined {
  return mode === 'keep' ? undefined : mode;
}

export function attributesOf(args: {
  user?: string | number | undefined;
  group?: string | number | undefined;
  mode?: number | 'keep' | undefined;
}): Attributes {
  const mode = modeOf(args.mode);
  return {
    ...(args.user === undefined ? {} : { user: args.user }),
    ...(args.group === undefined ? {} : { group: args.group }),
    ...(mode === undefined ? {} : { mode }),
  };
}

/** Where a path of the state lives, following a symlink at `name` when asked (Salt's follow_symlinks). */
export async function targetPath(rt: StateRuntime, name: string, follow = true): Promise<string> {
  const path = hostPath(rt.root, name);
  if (!follow) return path;
  const link = await statOrUndefined(path, false);
  if (link?.isSymbolicLink()) return realpath(path).catch(() => path);
  return path;
}

export async function parentExists(path: string): Promise<boolean> {
  return (await statOrUndefined(dirname(path)))?.isDirectory() === true;
}

/** The bytes of the first source that exists: salt:// from the file server, or a local path. */
export async function readSource(
  rt: StateRuntime,
  sources: readonly string[],
): Promise<{ content: Buffer; url: string } | { error: string }> {
  for (const url of sources) {
    if (url.startsWith('salt://')) {
      const file = await rt.files.read(url, rt.saltenv);
      if (file) return { content: file.content, url };
      continue;
    }
    const local = url.startsWith('file://') ? url.slice('file://'.length) : url;
    if (local.startsWith('/')) {
      const content = await readFile(hostPath(rt.root, local)).catch(() => undefined);
      if (content) return { content, url };
      continue;
    }
    return {
      error: `Source '${url}' is not supported: Phoenix reads salt:// sources from the file server and absolute paths on the minion (it fetches no URLs)`,
    };
  }
  return {
    error:
      sources.length === 1
        ? `Source file ${sources[0]} not found in saltenv '${rt.saltenv}'`
        : `none of the specified sources were found: ${sources.join(', ')}`,
  };
}

const HASH_LENGTHS: Readonly<Record<number, string>> = {
  32: 'md5',
  40: 'sha1',
  56: 'sha224',
  64: 'sha256',
  96: 'sha384',
  128: 'sha512',
};

/**
 * Salt's `source_hash`: `sha256=<hex>`, a bare hex digest (its length names the type), or a file
 * (salt:// or a local path) listing digests, where the line naming the source's file wins.
 */
export async function checkSourceHash(
  rt: StateRuntime,
  sourceHash: string,
  source: { content: Buffer; url: string },
): Promise<string | undefined> {
  let expected = sourceHash.trim();
  if (expected.startsWith('salt://') || expected.startsWith('/')) {
    const file = await readSource(rt, [expected]);
    if ('error' in file) return `Source hash file ${sourceHash} not found`;
    const text = file.content.toString('utf8');
    const base = source.url.split('?')[0]?.split('/').pop() ?? '';
    const lines = text.split('\n').filter((line) => /[0-9a-f]{32,}/i.test(line));
    const line = lines.find((l) => base !== '' && l.includes(base)) ?? lines[0];
    const digest = line?.match(/[0-9a-f]{32,128}/i)?.[0];
    if (!digest) return `Source hash file ${sourceHash} contains no hash`;
    expected = digest;
  }
  let type: string | undefined;
  let digest = expected;
  const eq = expected.indexOf('=');
  if (eq !== -1) {
    type = expected.slice(0, eq).toLowerCase();
    digest = expected.slice(eq + 1);
  } else type = HASH_LENGTHS[expected.length];
  if (type === undefined || !/^[0-9a-f]+$/i.test(digest))
    return `Invalid source_hash '${sourceHash}': expected <type>=<hex digest> or a hex digest`;
  let actual: string;
  try {
    actual = createHash(type).update(source.content).digest('hex');
  } catch {
    return `Invalid source_hash '${sourceHash}': unknown hash type '${type}'`;
  }
  if (actual.toLowerCase() !== digest.toLowerCase())
    return `Specified ${type} checksum for ${source.url} (${digest}) does not match actual checksum (${actual})`;
  return undefined;
}

export interface ContentArgs {
  readonly name: string;
  readonly source?: string | readonly string[] | undefined;
  readonly source_hash?: string | undefined;
  readonly contents?: string | readonly string[] | undefined;
  readonly contents_pillar?: string | undefined;
  readonly contents_grains?: string | undefined;
  readonly contents_newline?: boolean | undefined;
  readonly contents_delimiter?: string | undefined;
  readonly template?: string | undefined;
  readonly context?: Record<string, unknown> | undefined;
  readonly defaults?: Record<string, unknown> | undefined;
  /** Seen by a source template as Salt passes them (`{{ user }}`, `{{ mode }}`). */
  readonly user?: string | number | undefined;
  readonly group?: string | number | undefined;
  readonly mode?: number | 'keep' | undefined;
}

/**
 * What a `template: jinja` source sees besides grains, pillar and salt: Salt's file.get_managed
 * passes the state's name, the source it chose, user, group and mode (None when not given), then
 * defaults and context, which win.
 */
export function sourceTemplateContext(
  args: Pick<ContentArgs, 'name' | 'user' | 'group' | 'mode' | 'defaults' | 'context'>,
  source: string,
): Record<string, unknown> {
  return {
    name: args.name,
    source,
    user: args.user ?? null,
    group: args.group ?? null,
    mode: args.mode === undefined ? null : args.mode === 'keep' ? 'keep' : formatMode(args.mode),
    ...args.defaults,
    ...args.context,
  };
}

/** The bytes a file should hold (file.managed and friends), or undefined to leave its content alone. */
export async function desiredContent(
  args: ContentArgs,
  call: StateCallContext,
): Promise<{ content: Buffer | undefined } | { error: string }> {
  const given = [args.source, args.contents, args.contents_pillar, args.contents_grains].filter(
    (value) => value !== undefined,
  ).length;
  if (given > 1)
    return { error: "'source', 'contents', 'contents_pillar' and 'contents_grains' are mutually exclusive" };
  const context = { ...args.defaults, ...args.context };
  if (args.source !== undefined) {
    const sources = typeof args.source === 'string' ? [args.source] : [...args.source];
    const found = await readSource(call.rt, sources);
    if ('error' in found) return found;
    if (args.source_hash !== undefined && args.source_hash !== '') {
      const mismatch = await checkSourceHash(call.rt, args.source_hash, found);
      if (mismatch) return { error: mismatch };
    }
    if (args.template === undefined) return { content: found.content };
    const file = found.url.startsWith('salt://')
      ? (found.url.slice('salt://'.length).split('?')[0] ?? '')
      : found.url.replace(/^\/+/, '');
    return {
      content: Buffer.from(
        await call.rt.renderTemplate(found.content.toString('utf8'), file, sourceTemplateContext(args, found.url)),
      ),
    };
  }
  let text: string;
  const delimiter = args.contents_delimiter ?? ':';
  if (args.contents_pillar !== undefined || args.contents_grains !== undefined) {
    const [data, key, what] =
      args.contents_pillar !== undefined
        ? [call.rt.pillar, args.contents_pillar, 'Pillar']
        : [call.rt.grains.items(), args.contents_grains as string, 'Grain'];
    const value = traverse(data, key, undefined, delimiter);
    if (value === undefined || value === null) return { error: `${what} ${key} does not exist` };
    text = Array.isArray(value)
      ? value.map(String).join('\n')
      : typeof value === 'object'
        ? yamlStringify(value)
        : String(value);
  } else if (args.contents !== undefined) {
    text = typeof args.contents === 'string' ? args.contents : args.contents.join('\n');
  } else {
    return { content: undefined };
  }
  if (args.contents_newline !== false && text !== '' && !text.endsWith('\n')) text += '\n';
  if (args.template !== undefined) text = await call.rt.renderTemplate(text, args.name.replace(/^\/+/, ''), context);
  return { content: Buffer.from(text) };
}

/** Salt's `backup: minion`: the old file goes to `<cachedir>/file_backup/<path>_<time>`. */
export async function backupToCache(rt: StateRuntime, name: string, path: string): Promise<void> {
  const when = new Date(rt.now());
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const stamp = `${days[when.getDay()]}_${months[when.getMonth()]}_${pad(when.getDate())}_${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}_${pad(when.getMilliseconds() * 1000, 6)}_${when.getFullYear()}`;
  const dest = join(rt.cacheDir, 'file_backup', `${name.replace(/^\/+/, '')}_${stamp}`);
  await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
  await copyFile(path, dest);
}

/** What managing one file would change: Salt's change keys (`diff`, `user`, `group`, `mode`). */
export interface FilePlan {
  readonly path: string;
  readonly exists: boolean;
  readonly before: Buffer | undefined;
  /** Bytes to write, or undefined to keep the content. */
  readonly write: Buffer | undefined;
  readonly attrs: AttributeChanges;
  /** The changes a real run reports. */
  readonly changes: Record<string, unknown>;
  /** The changes test=True predicts (Salt's check_managed_changes: `newfile` for a new file). */
  readonly predicted: Record<string, unknown>;
}

export async function planFile(
  rt: StateRuntime,
  name: string,
  path: string,
  wanted: Buffer | undefined,
  options: { replace: boolean; showChanges: boolean; attributes: Attributes },
): Promise<FilePlan> {
  const current = await statOrUndefined(path);
  const before = current ? await readFile(path) : undefined;
  const attrs = await attributeChanges(rt.commands, current, options.attributes);
  const changes: Record<string, unknown> = {};
  let write: Buffer | undefined;
  if (!current) {
    write = wanted ?? Buffer.alloc(0);
    changes.diff = 'New file';
  } else if (options.replace && wanted !== undefined && before !== undefined && !before.equals(wanted)) {
    write = wanted;
    changes.diff = contentDiff(before, wanted, options.showChanges);
  }
  Object.assign(changes, attrs.changes);
  const predicted = current ? { ...changes } : { newfile: name, ...attrs.changes };
  return { path, exists: current !== undefined, before, write, attrs, changes, predicted };
}

/** Writes what the plan says: parents (when asked), a backup, the bytes, then owner and mode. */
export async function applyFile(
  rt: StateRuntime,
  name: string,
  plan: FilePlan,
  options: { makedirs: boolean; dirMode?: number | undefined; backup?: string | undefined },
): Promise<void> {
  if (!plan.exists && options.makedirs)
    await mkdir(dirname(plan.path), {
      recursive: true,
      ...(options.dirMode === undefined ? {} : { mode: options.dirMode }),
    });
  if (plan.write !== undefined) {
    if (plan.exists && options.backup === 'minion') await backupToCache(rt, name, plan.path);
    const current = plan.exists ? await statOrUndefined(plan.path) : undefined;
    await writeFileAtomic(plan.path, plan.write, {
      mode: plan.attrs.mode ?? (current ? current.mode & 0o7777 : 0o644),
    });
  }
  await applyAttributes(plan.path, plan.attrs);
}

/** A missing file for the text-editing states: Salt's "{name}: file not found". */
export function fileNotFound(name: string): StateOutcome {
  return outcome(false, `${name}: file not found`);
}

export async function readTextFile(path: string): Promise<string | undefined> {
  const info = await statOrUndefined(path);
  if (!info) return undefined;
  if (info.isDirectory()) throw new ExecutionError(`${path} is a directory, not a file`);
  return readFile(path, 'utf8');
}

/**
 * The end of every text-editing state (replace, line, blockreplace, keyvalue, comment...): no change,
 * a test=True prediction, or the write with Salt's suffix backup (`backup: .bak`).
 */
export async function finishEdit(
  call: StateCallContext,
  path: string,
  before: string,
  after: string,
  options: {
    showChanges?: boolean;
    backup?: string;
    unchanged?: string;
    changed?: string;
    predicted?: string;
  } = {},
): Promise<StateOutcome> {
  if (before === after) return outcome(true, options.unchanged ?? 'No changes needed to be made');
  const diff = contentDiff(Buffer.from(before), Buffer.from(after), options.showChanges !== false);
  const changes = { diff };
  if (call.test) return outcome(null, options.predicted ?? 'Changes would have been made', changes);
  const current = await statOrUndefined(path);
  if (current && options.backup) await copyFile(path, `${path}${options.backup}`);
  await writeFileAtomic(path, Buffer.from(after), { mode: current ? current.mode & 0o7777 : 0o644 });
  return outcome(true, options.changed ?? 'Changes were made', changes);
}
