import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import { globMatcher } from '../../modules/glob.js';
import {
  applyFile,
  attributesOf,
  BackupArg,
  Context,
  Owner,
  parentExists,
  planFile,
  sourceTemplateContext,
  TEST_NOTE,
} from './file-common.js';
import {
  AbsolutePath,
  applyAttributes,
  attributeChanges,
  hostPath,
  ModeArg,
  ModeOrKeep,
  statOrUndefined,
} from '../../modules/host-paths.js';
import type { Attributes } from '../../modules/host-paths.js';
import { pythonRegex } from '../../modules/python-regex.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateFunction } from './types.js';

/** A walk stops here: file.directory's recurse and clean are for config trees, not whole disks. */
const MAX_ENTRIES = 100_000;

const RecurseOptions = z.array(z.enum(['user', 'group', 'mode', 'ignore_files', 'ignore_dirs', 'silent']));

const Directory = z.strictObject({
  name: AbsolutePath,
  user: Owner,
  group: Owner,
  recurse: RecurseOptions.default([]),
  max_depth: z.number().int().min(0).optional(),
  dir_mode: ModeArg.optional(),
  file_mode: ModeArg.optional(),
  mode: ModeArg.optional(),
  makedirs: z.boolean().default(false),
  clean: z.boolean().default(false),
  exclude_pat: z.string().optional(),
  follow_symlinks: z.boolean().default(false),
  force: z.boolean().default(false),
  backupname: z.string().optional(),
  allow_symlink: z.boolean().default(true),
  children_only: z.boolean().default(false),
});

const Recurse = z.strictObject({
  name: AbsolutePath,
  source: z.string().startsWith('salt://', 'must be a salt:// directory'),
  keep_source: z.boolean().optional(),
  clean: z.boolean().default(false),
  user: Owner,
  group: Owner,
  dir_mode: ModeArg.optional(),
  file_mode: ModeOrKeep.optional(),
  sym_mode: ModeArg.optional(),
  template: z.enum(['jinja']).optional(),
  context: Context.optional(),
  defaults: Context.optional(),
  include_empty: z.boolean().default(false),
  backup: BackupArg.default(''),
  include_pat: z.string().optional(),
  exclude_pat: z.string().optional(),
  maxdepth: z.number().int().min(0).optional(),
  keep_symlinks: z.boolean().optional(),
  force_symlinks: z.boolean().optional(),
  makedirs: z.boolean().default(false),
  show_changes: z.boolean().default(true),
  replace: z.boolean().default(true),
});

/** Salt's include_pat/exclude_pat: a glob, or a Python regex after `E@`. */
function patternMatcher(pattern: string | undefined): ((path: string) => boolean) | undefined {
  if (pattern === undefined || pattern === '') return undefined;
  if (pattern.startsWith('E@')) {
    const regex = pythonRegex(pattern.slice(2), 0, false);
    return (path) => regex.test(path);
  }
  const glob = globMatcher(pattern);
  return (path) => glob(path) || glob(posix.basename(path));
}

interface Entry {
  readonly path: string;
  readonly rel: string;
  readonly dir: boolean;
  readonly depth: number;
}

async function walk(root: string, maxDepth = Number.POSITIVE_INFINITY): Promise<Entry[]> {
  const found: Entry[] = [];
  const visit = async (dir: string, depth: number): Promise<void> => {
    if (depth > maxDepth) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (found.length >= MAX_ENTRIES) return;
      const path = join(dir, entry.name);
      const isDir = entry.isDirectory();
      found.push({ path, rel: relative(root, path), dir: isDir, depth });
      if (isDir) await visit(path, depth + 1);
    }
  };
  await visit(root, 1);
  return found;
}

/**
 * Salt's `clean`: everything under the directory that no file state this one requires manages
 * (nor a directory leading to one) goes, except what exclude_pat names.
 */
async function cleanTree(
  call: StateCallContext,
  dir: string,
  keep: ReadonlySet<string>,
  exclude: ((path: string) => boolean) | undefined,
): Promise<string[]> {
  const removed: string[] = [];
  const keepDirs = new Set<string>();
  for (const path of keep) {
    let at = posix.dirname(path);
    while (at.length > 1 && !keepDirs.has(at)) {
      keepDirs.add(at);
      at = posix.dirname(at);
    }
  }
  const root = call.rt.root;
  const rootedDir = hostPath(root, dir);
  for (const entry of await walk(rootedDir)) {
    const name = posix.join(dir, entry.rel.split('\\').join('/'));
    if (keep.has(name) || keepDirs.has(name)) continue;
    if (exclude?.(entry.rel) || exclude?.(name)) continue;
    if (removed.some((gone) => name.startsWith(`${gone}/`))) continue;
    removed.push(name);
  }
  if (!call.test) for (const name of removed) await rm(hostPath(root, name), { recursive: true, force: true });
  return removed.sort();
}

/**
 * What `clean` keeps under `dir`, as Salt's _gen_keep_files: the name of each file state this one
 * requires; for a required file.recurse below `dir`, the files and directories it manages; for
 * any other required directory below `dir`, everything in it.
 */
async function keptByRequires(call: StateCallContext, dir: string): Promise<Set<string>> {
  const keep = new Set<string>();
  const root = call.rt.root;
  for (const required of call.requires) {
    if (required.state !== 'file' || !required.name.startsWith('/')) continue;
    const name = posix.normalize(required.name);
    const info = await statOrUndefined(hostPath(root, name));
    if (!info?.isDirectory()) {
      keep.add(name);
      continue;
    }
    if (name !== dir && !name.startsWith(`${dir.replace(/\/+$/, '')}/`)) continue;
    keep.add(name);
    const recursed = required.fun === 'recurse' ? Recurse.safeParse({ ...required.args, name }) : undefined;
    if (recursed?.success) {
      const managed = await recurseTargets(recursed.data, call);
      for (const path of [...managed.dirs, ...managed.files.map((f) => f.name)]) keep.add(path);
    } else {
      for (const entry of await walk(hostPath(root, name))) keep.add(posix.join(name, entry.rel.split('\\').join('/')));
    }
  }
  return keep;
}

/** The files (with their salt:// paths) and directories a file.recurse manages. */
async function recurseTargets(
  args: z.output<typeof Recurse>,
  call: StateCallContext,
): Promise<{ env: string; files: { file: string; name: string }[]; dirs: Set<string> }> {
  const { rt } = call;
  const [location, query] = args.source.slice('salt://'.length).split('?');
  const prefix = (location ?? '').replace(/\/+$/, '');
  const env = new URLSearchParams(query ?? '').get('saltenv') ?? rt.saltenv;
  const include = patternMatcher(args.include_pat);
  const exclude = patternMatcher(args.exclude_pat);
  const files = (await rt.files.list(prefix === '' ? '' : `${prefix}/`, env))
    .map((file) => ({ file, rel: prefix === '' ? file : file.slice(prefix.length + 1) }))
    .filter(({ rel }) => rel !== '' && (args.maxdepth === undefined || rel.split('/').length - 1 <= args.maxdepth))
    .filter(({ rel }) => (include ? include(rel) : true) && !(exclude?.(rel) ?? false))
    .map(({ file, rel }) => ({ file, name: posix.join(args.name, rel) }));
  const dirs = new Set<string>(files.length > 0 ? [args.name] : []);
  for (const { name } of files) {
    let at = posix.dirname(name);
    while (at.length > args.name.length && at.startsWith(args.name)) {
      dirs.add(at);
      at = posix.dirname(at);
    }
  }
  return { env, files, dirs };
}

async function directory(args: z.output<typeof Directory>, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  const path = hostPath(rt.root, args.name);
  let current = await statOrUndefined(path, false);
  if (current?.isSymbolicLink()) current = args.allow_symlink ? await statOrUndefined(path) : current;
  if (current && !current.isDirectory()) {
    if (!args.force) return outcome(false, `Specified location ${args.name} exists and is a file`);
    if (!call.test) await rm(path, { recursive: true, force: true });
    current = undefined;
  }
  if (!current && !args.makedirs && !(await parentExists(path)) && !call.test)
    return outcome(false, `No directory to create ${args.name} in`);
  const dirMode = args.dir_mode ?? args.mode;
  const attributes: Attributes = attributesOf({ user: args.user, group: args.group, mode: dirMode });
  const attrs = await attributeChanges(rt.commands, current, attributes);
  const own = args.children_only ? {} : attrs.changes;
  const changes: Record<string, unknown> = current ? { ...own } : { [args.name]: 'New Dir', ...own };
  const predicted: Record<string, unknown> = {};
  if (!current) predicted[args.name] = { directory: 'new', ...own };
  else if (Object.keys(own).length > 0) predicted[args.name] = { ...own };

  // recurse: owner and modes of everything below.
  const children: { path: string; attrs: Awaited<ReturnType<typeof attributeChanges>> }[] = [];
  if (args.recurse.length > 0 && current) {
    const manage = new Set(args.recurse);
    for (const entry of await walk(path, args.max_depth)) {
      if (entry.dir ? manage.has('ignore_dirs') : manage.has('ignore_files')) continue;
      const info = await statOrUndefined(entry.path, false);
      if (!info || info.isSymbolicLink()) continue;
      const mode = manage.has('mode') ? (entry.dir ? dirMode : args.file_mode) : undefined;
      const childAttrs = await attributeChanges(rt.commands, info, {
        ...(manage.has('user') && args.user !== undefined ? { user: args.user } : {}),
        ...(manage.has('group') && args.group !== undefined ? { group: args.group } : {}),
        ...(mode === undefined ? {} : { mode }),
      });
      if (Object.keys(childAttrs.changes).length > 0) children.push({ path: entry.path, attrs: childAttrs });
    }
    if (children.length > 0) {
      const summary: Record<string, unknown> = {};
      for (const child of children) {
        for (const [key, value] of Object.entries(child.attrs.changes)) summary[key] = value;
      }
      const recursion = manage.has('silent') ? { recursion: 'changed' } : summary;
      Object.assign(changes, recursion);
      for (const child of children)
        predicted[posix.join(args.name, relative(path, child.path))] = { ...child.attrs.changes };
    }
  }
  let removed: string[] = [];
  let keep = new Set<string>();
  if (args.clean && current) {
    keep = await keptByRequires(call, args.name);
    removed = await cleanTree({ ...call, test: true }, args.name, keep, patternMatcher(args.exclude_pat));
    if (removed.length > 0) {
      changes.removed = removed;
      for (const gone of removed) predicted[gone] = { removed: 'Removed due to clean' };
    }
  }
  if (call.test) {
    if (Object.keys(predicted).length === 0) return outcome(true, `The directory ${args.name} is in the correct state`);
    const lines = Object.entries(predicted).flatMap(([file, what]) =>
      Object.entries(what as Record<string, unknown>).map(([key, value]) => `${file}: ${key} - ${String(value)}\n`),
    );
    return outcome(null, `The following files will be changed:\n${lines.join('')}`, predicted);
  }
  if (Object.keys(changes).length === 0) return outcome(true, `Directory ${args.name} is in the correct state`);
  if (!current) await mkdir(path, { recursive: args.makedirs, ...(dirMode === undefined ? {} : { mode: dirMode }) });
  if (!args.children_only) await applyAttributes(path, attrs);
  for (const child of children) await applyAttributes(child.path, child.attrs);
  if (removed.length > 0) await cleanTree(call, args.name, keep, patternMatcher(args.exclude_pat));
  return outcome(true, `Directory ${args.name} updated`, changes);
}

async function recurse(args: z.output<typeof Recurse>, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  const exclude = patternMatcher(args.exclude_pat);
  const { env, files, dirs } = await recurseTargets(args, call);
  if (files.length === 0) return outcome(false, 'Recurse failed: none of the specified sources were found');
  const root = hostPath(rt.root, args.name);
  const rootInfo = await statOrUndefined(root);
  if (rootInfo && !rootInfo.isDirectory()) return outcome(false, `The path ${args.name} exists and is not a directory`);
  if (!rootInfo && !args.makedirs && !(await parentExists(root)) && !call.test)
    return outcome(false, `No directory to create ${args.name} in`);
  const changes: Record<string, unknown> = {};
  const predicted: Record<string, unknown> = {};
  const managed = new Set<string>();
  const dirAttributes = attributesOf({ user: args.user, group: args.group, mode: args.dir_mode });
  for (const dir of [...dirs].sort()) {
    const dirPath = hostPath(rt.root, dir);
    const info = await statOrUndefined(dirPath);
    if (info && !info.isDirectory()) return outcome(false, `The path ${dir} exists and is not a directory`);
    const attrs = await attributeChanges(rt.commands, info, dirAttributes);
    if (!info) {
      changes[dir] = { [dir]: 'New Dir', ...attrs.changes };
      predicted[dir] = { directory: 'new', ...attrs.changes };
    } else if (Object.keys(attrs.changes).length > 0) {
      changes[dir] = { ...attrs.changes };
      predicted[dir] = { ...attrs.changes };
    }
    managed.add(dir);
    if (!call.test && (!info || Object.keys(attrs.changes).length > 0)) {
      if (!info)
        await mkdir(dirPath, { recursive: true, ...(args.dir_mode === undefined ? {} : { mode: args.dir_mode }) });
      await applyAttributes(dirPath, attrs);
    }
  }
  const fileAttributes = attributesOf({ user: args.user, group: args.group, mode: args.file_mode });
  for (const { file, name } of files) {
    managed.add(name);
    const source = await rt.files.read(file, env);
    if (!source) return outcome(false, `Source file salt://${file} not found in saltenv '${env}'`);
    let content = source.content;
    if (args.template !== undefined)
      content = Buffer.from(
        await rt.renderTemplate(
          content.toString('utf8'),
          file,
          sourceTemplateContext(
            {
              name,
              user: args.user,
              group: args.group,
              mode: args.file_mode,
              defaults: args.defaults,
              context: args.context,
            },
            `salt://${file}`,
          ),
        ),
      );
    const plan = await planFile(rt, name, hostPath(rt.root, name), content, {
      replace: args.replace,
      showChanges: args.show_changes,
      attributes: fileAttributes,
    });
    if (Object.keys(plan.changes).length === 0) continue;
    changes[name] = plan.changes;
    predicted[name] = plan.predicted;
    if (!call.test) await applyFile(rt, name, plan, { makedirs: true, backup: args.backup });
  }
  if (args.clean) {
    const keep = new Set([...managed, ...(await keptByRequires(call, args.name))]);
    const removed = rootInfo ? await cleanTree(call, args.name, keep, exclude) : [];
    if (removed.length > 0) {
      changes.removed = removed;
      for (const gone of removed) predicted[gone] = { removed: 'Removed due to clean' };
    }
  }
  if (call.test) {
    if (Object.keys(predicted).length === 0) return outcome(true, `The directory ${args.name} is in the correct state`);
    return outcome(null, `The directory ${args.name} is set to be changed${TEST_NOTE}`, predicted);
  }
  if (Object.keys(changes).length === 0) return outcome(true, `The directory ${args.name} is in the correct state`);
  return outcome(true, `Recursively updated ${args.name}`, changes);
}

export const directoryState: StateFunction = defineState({ schema: Directory, run: directory });
export const recurseState: StateFunction = defineState({ schema: Recurse, run: recurse });
