import { cp, mkdir, readFile, readlink, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { deepMerge, isMapping, parseYaml, pythonJsonDump, pyyamlDump, traverse } from '@phoenix/state';
import type { StateOutcome } from '@phoenix/state';
import {
  applyFile,
  attributesOf,
  BackupArg,
  Context,
  desiredContent,
  FileMode,
  Owner,
  parentExists,
  planFile,
  targetPath,
  TEST_NOTE,
  TextOrLines,
} from './file-common.js';
import { fileEditStates } from './file-edit.js';
import { directoryState, recurseState } from './file-tree.js';
import {
  AbsolutePath,
  applyAttributes,
  attributeChanges,
  hostPath,
  ModeArg,
  statOrUndefined,
} from '../../modules/host-paths.js';
import { contentDiff } from '../../modules/text-diff.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

const Sources = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const Managed = z.strictObject({
  name: AbsolutePath,
  source: Sources.optional(),
  source_hash: z.string().optional(),
  source_hash_name: z.string().optional(),
  keep_source: z.boolean().optional(),
  skip_verify: z.boolean().optional(),
  contents: TextOrLines.optional(),
  contents_pillar: z.string().min(1).optional(),
  contents_grains: z.string().min(1).optional(),
  contents_newline: z.boolean().default(true),
  contents_delimiter: z.string().min(1).default(':'),
  template: z.enum(['jinja']).optional(),
  context: Context.optional(),
  defaults: Context.optional(),
  user: Owner,
  group: Owner,
  mode: FileMode.optional(),
  dir_mode: ModeArg.optional(),
  makedirs: z.boolean().default(false),
  replace: z.boolean().default(true),
  create: z.boolean().default(true),
  backup: BackupArg.default(''),
  show_changes: z.boolean().default(true),
  follow_symlinks: z.boolean().default(true),
  allow_empty: z.boolean().default(true),
  tmp_ext: z.string().optional(),
  encoding: z.enum(['utf-8', 'utf8', 'UTF-8']).optional(),
});

const Absent = z.strictObject({ name: AbsolutePath });
const Exists = z.strictObject({ name: AbsolutePath });

const Symlink = z.strictObject({
  name: AbsolutePath,
  target: z.string().min(1),
  force: z.boolean().default(false),
  backupname: z.string().min(1).optional(),
  makedirs: z.boolean().default(false),
  user: Owner,
  group: Owner,
  mode: ModeArg.optional(),
  follow_symlinks: z.boolean().optional(),
  atomic: z.boolean().optional(),
});

const Touch = z.strictObject({
  name: AbsolutePath,
  atime: z.number().optional(),
  mtime: z.number().optional(),
  makedirs: z.boolean().default(false),
});

const Copy = z.strictObject({
  name: AbsolutePath,
  source: AbsolutePath,
  force: z.boolean().default(false),
  makedirs: z.boolean().default(false),
  preserve: z.boolean().default(false),
  user: Owner,
  group: Owner,
  mode: ModeArg.optional(),
  subdir: z.boolean().default(false),
});

const Rename = z.strictObject({
  name: AbsolutePath,
  source: AbsolutePath,
  force: z.boolean().default(false),
  makedirs: z.boolean().default(false),
});

const Serialize = z.strictObject({
  name: AbsolutePath,
  dataset: z.unknown().optional(),
  dataset_pillar: z.string().min(1).optional(),
  user: Owner,
  group: Owner,
  mode: ModeArg.optional(),
  backup: BackupArg.default(''),
  makedirs: z.boolean().default(false),
  show_changes: z.boolean().default(true),
  create: z.boolean().default(true),
  merge_if_exists: z.boolean().default(false),
  serializer: z.enum(['yaml', 'json']).optional(),
  formatter: z.enum(['yaml', 'json']).optional(),
  serializer_opts: z.array(Context).optional(),
  deserializer_opts: z.array(Context).optional(),
  encoding: z.enum(['utf-8', 'utf8', 'UTF-8']).optional(),
});

/** Salt's file states, on the runtime's root. */
export const fileStates: StateModule = Object.freeze({
  name: 'file',
  functions: Object.freeze({
    managed: defineState({ schema: Managed, run: managed }),
    directory: directoryState,
    recurse: recurseState,
    absent: defineState({ schema: Absent, run: absent }),
    exists: defineState({
      schema: Exists,
      run: async (args, call) =>
        (await statOrUndefined(hostPath(call.rt.root, args.name), false))
          ? outcome(true, `Path ${args.name} exists`)
          : outcome(false, `Specified path ${args.name} does not exist`),
    }),
    missing: defineState({
      schema: Exists,
      run: async (args, call) =>
        (await statOrUndefined(hostPath(call.rt.root, args.name), false))
          ? outcome(false, `Specified path ${args.name} exists`)
          : outcome(true, `Path ${args.name} is missing`),
    }),
    symlink: defineState({ schema: Symlink, run: symlinkState }),
    touch: defineState({ schema: Touch, run: touch }),
    copy: defineState({ schema: Copy, run: copy }),
    rename: defineState({ schema: Rename, run: renameState }),
    serialize: defineState({ schema: Serialize, run: serialize }),
    ...fileEditStates,
  }),
});

async function managed(args: z.output<typeof Managed>, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  const path = await targetPath(rt, args.name, args.follow_symlinks);
  const current = await statOrUndefined(path);
  if (current?.isDirectory()) return outcome(false, `Specified target ${args.name} is a directory`);
  if (!current && !args.create) return outcome(true, `File ${args.name} is not present and is not set for creation`);
  const wanted = await desiredContent(args, call);
  if ('error' in wanted) return outcome(false, wanted.error);
  if (!args.allow_empty && wanted.content !== undefined && wanted.content.length === 0)
    return outcome(false, 'contents is empty and allow_empty is False');
  if (!current && !args.makedirs && !(await parentExists(path)) && !call.test)
    return outcome(false, `Parent directory not present: ${dirname(args.name)} (set makedirs: True to create it)`);
  const plan = await planFile(rt, args.name, path, wanted.content, {
    replace: args.replace,
    showChanges: args.show_changes,
    attributes: attributesOf(args),
  });
  if (call.test) {
    if (Object.keys(plan.predicted).length === 0) return outcome(true, `The file ${args.name} is in the correct state`);
    return outcome(null, `The file ${args.name} is set to be changed${TEST_NOTE}`, plan.predicted);
  }
  if (Object.keys(plan.changes).length === 0) return outcome(true, `File ${args.name} is in the correct state`);
  await applyFile(rt, args.name, plan, { makedirs: args.makedirs, dirMode: args.dir_mode, backup: args.backup });
  return outcome(true, `File ${args.name} updated`, plan.changes);
}

async function absent(args: z.output<typeof Absent>, call: StateCallContext): Promise<StateOutcome> {
  if (hostPath('/', args.name) === '/') return outcome(false, 'Refusing to make "/" absent');
  const path = hostPath(call.rt.root, args.name);
  const current = await statOrUndefined(path, false);
  if (!current) return outcome(true, `File ${args.name} is not present`);
  const kind = current.isDirectory() ? 'Directory' : 'File';
  if (call.test) return outcome(null, `${kind} ${args.name} is set for removal`, { removed: args.name });
  await rm(path, { recursive: true, force: true });
  return outcome(true, `Removed ${kind.toLowerCase()} ${args.name}`, { removed: args.name });
}

async function symlinkState(args: z.output<typeof Symlink>, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  const path = hostPath(rt.root, args.name);
  const current = await statOrUndefined(path, false);
  const owner = async (): Promise<StateOutcome> => {
    const attrs = await attributeChanges(rt.commands, await statOrUndefined(path, false), attributesOf(args));
    const { mode: _mode, ...ownerChanges } = attrs.changes;
    const who = `${args.user ?? process.getuid?.() ?? ''}:${args.group ?? process.getgid?.() ?? ''}`;
    if (Object.keys(ownerChanges).length === 0)
      return outcome(true, `Symlink ${args.name} is present and owned by ${who}`);
    if (call.test)
      return outcome(null, `Ownership of symlink ${args.name} is set to be changed to ${who}`, ownerChanges);
    const { lchown } = await import('node:fs/promises');
    await lchown(path, attrs.uid ?? -1, attrs.gid ?? -1);
    return outcome(true, `Symlink ${args.name} is present and owned by ${who}`, { ownership: who });
  };
  if (current?.isSymbolicLink()) {
    const existing = await readlink(path);
    if (existing === args.target || join(existing) === join(args.target)) return owner();
    if (call.test)
      return outcome(null, `Link ${args.name} target is set to be changed to ${args.target}`, { change: args.name });
    await rm(path, { force: true });
    await symlink(args.target, path);
    return outcome(true, `Set symlink ${args.name} to point to ${args.target}`, { change: args.name });
  }
  if (current) {
    const kind = current.isDirectory() ? 'Directory' : 'File';
    if (!args.force && args.backupname === undefined)
      return outcome(false, `${kind} exists where the symlink ${args.name} should be (set force: True to replace it)`);
    if (call.test)
      return outcome(null, `${kind} ${args.name} is set to be replaced by a symlink to ${args.target}`, {
        new: args.name,
      });
    if (args.backupname !== undefined) {
      const backup = hostPath(
        rt.root,
        args.backupname.startsWith('/') ? args.backupname : join(dirname(args.name), args.backupname),
      );
      if ((await statOrUndefined(backup, false)) && !args.force)
        return outcome(false, `Backupname ${args.backupname} exists and force is False`);
      await rm(backup, { recursive: true, force: true });
      await rename(path, backup);
    } else await rm(path, { recursive: true, force: true });
  } else if (!(await parentExists(path))) {
    if (!args.makedirs && !call.test)
      return outcome(false, `Directory ${dirname(args.name)} for symlink is not present (set makedirs: True)`);
  }
  if (call.test) return outcome(null, `Symlink ${args.name} to ${args.target} is set for creation`, { new: args.name });
  if (args.makedirs) await mkdir(dirname(path), { recursive: true });
  await symlink(args.target, path);
  const attrs = await attributeChanges(rt.commands, await statOrUndefined(path, false), attributesOf(args));
  if (attrs.uid !== undefined || attrs.gid !== undefined) {
    const { lchown } = await import('node:fs/promises');
    await lchown(path, attrs.uid ?? -1, attrs.gid ?? -1);
  }
  return outcome(true, `Created new symlink ${args.name} -> ${args.target}`, { new: args.name });
}

async function touch(args: z.output<typeof Touch>, call: StateCallContext): Promise<StateOutcome> {
  const path = hostPath(call.rt.root, args.name);
  const current = await statOrUndefined(path);
  if (call.test) {
    return current
      ? outcome(null, `File ${args.name} is set to be updated`, { touched: args.name })
      : outcome(null, `File ${args.name} is set to be created`, { new: args.name });
  }
  if (!current && !(await parentExists(path))) {
    if (!args.makedirs) return outcome(false, `Directory not present to touch file ${args.name}`);
    await mkdir(dirname(path), { recursive: true });
  }
  if (!current) await writeFile(path, '', { flag: 'a' });
  const now = call.rt.now() / 1000;
  await utimes(path, args.atime ?? now, args.mtime ?? now);
  return current
    ? outcome(true, `Updated times on file ${args.name}`, { touched: args.name })
    : outcome(true, `Created empty file ${args.name}`, { new: args.name });
}

async function copy(args: z.output<typeof Copy>, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  const source = hostPath(rt.root, args.source);
  const sourceInfo = await statOrUndefined(source);
  if (!sourceInfo) return outcome(false, `Source file "${args.source}" is not present`);
  let name = args.name;
  const existing = await statOrUndefined(hostPath(rt.root, name));
  if (existing?.isDirectory() && (sourceInfo.isFile() || args.subdir)) name = join(name, basename(args.source));
  const dest = hostPath(rt.root, name);
  const target = await statOrUndefined(dest);
  let changed = true;
  if (target) {
    if (!args.force) changed = false;
    else if (target.isFile() && sourceInfo.isFile()) changed = !(await readFile(dest)).equals(await readFile(source));
  }
  const perms = async (): Promise<Record<string, unknown>> => {
    const attrs = await attributeChanges(rt.commands, await statOrUndefined(dest), attributesOf(args));
    if (!call.test) await applyAttributes(dest, attrs);
    return attrs.changes;
  };
  if (!changed) {
    if (!target) return outcome(true, `The target file "${name}" exists and will not be overwritten`);
    const changes = await perms();
    if (Object.keys(changes).length === 0)
      return outcome(true, `The target file "${name}" exists and will not be overwritten`);
    return outcome(
      call.test ? null : true,
      `Permissions of "${name}" ${call.test ? 'are set to be' : 'were'} updated`,
      changes,
    );
  }
  if (call.test)
    return outcome(null, `File "${args.source}" is set to be copied to "${name}"`, { [name]: args.source });
  if (!(await parentExists(dest))) {
    if (!args.makedirs) return outcome(false, `The target directory ${dirname(name)} is not present`);
    await mkdir(dirname(dest), { recursive: true });
  }
  if (target && !target.isDirectory()) await rm(dest, { force: true });
  await cp(source, dest, { recursive: true, preserveTimestamps: args.preserve, force: true });
  const changes: Record<string, unknown> = { [name]: args.source };
  if (!args.preserve) Object.assign(changes, await perms());
  return outcome(true, `Copied "${args.source}" to "${name}"`, changes);
}

async function renameState(args: z.output<typeof Rename>, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  const source = hostPath(rt.root, args.source);
  const dest = hostPath(rt.root, args.name);
  if (!(await statOrUndefined(source, false)))
    return outcome(true, `Source file "${args.source}" has already been moved out of place`);
  const target = await statOrUndefined(dest, false);
  if (target && !args.force) return outcome(true, `The target file "${args.name}" exists and will not be overwritten`);
  if (call.test)
    return outcome(null, `File "${args.source}" is set to be moved to "${args.name}"`, { [args.name]: args.source });
  if (target) await rm(dest, { recursive: true, force: true });
  if (!(await parentExists(dest))) {
    if (!args.makedirs) return outcome(false, `The target directory ${dirname(args.name)} is not present`);
    await mkdir(dirname(dest), { recursive: true });
  }
  await rename(source, dest);
  return outcome(true, `Moved "${args.source}" to "${args.name}"`, { [args.name]: args.source });
}

async function serialize(args: z.output<typeof Serialize>, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  if ((args.dataset === undefined) === (args.dataset_pillar === undefined))
    return outcome(false, "Exactly one of 'dataset' or 'dataset_pillar' must be given");
  if (args.serializer !== undefined && args.formatter !== undefined && args.serializer !== args.formatter)
    return outcome(false, "Only one of 'serializer' and 'formatter' is allowed");
  const format = args.serializer ?? args.formatter ?? 'yaml';
  let dataset: unknown =
    args.dataset_pillar !== undefined ? traverse(rt.pillar, args.dataset_pillar, undefined) : args.dataset;
  if (dataset === undefined) return outcome(false, `Pillar ${args.dataset_pillar} does not exist`);
  const path = hostPath(rt.root, args.name);
  const current = await statOrUndefined(path);
  if (current?.isDirectory()) return outcome(false, `Specified target ${args.name} is a directory`);
  if (!current && !args.create) return outcome(true, `File ${args.name} is not present and is not set for creation`);
  if (args.merge_if_exists && current) {
    const text = await readFile(path, 'utf8');
    let existing: unknown;
    try {
      existing = format === 'json' ? JSON.parse(text) : parseYaml(text, args.name).value;
    } catch (err) {
      return outcome(false, `Failed to deserialize existing data: ${(err as Error).message}`);
    }
    if (isMapping(existing) && isMapping(dataset)) dataset = deepMerge(existing, dataset);
    else if (existing !== null && existing !== undefined)
      return outcome(false, `Existing data in ${args.name} is not a mapping and cannot be merged`);
  }
  const options = Object.assign({}, ...(args.serializer_opts ?? [])) as Record<string, unknown>;
  const contents = serializeData(dataset, format, options);
  if (!current && !args.makedirs && !(await parentExists(path)) && !call.test)
    return outcome(false, `Parent directory not present: ${dirname(args.name)} (set makedirs: True to create it)`);
  const plan = await planFile(rt, args.name, path, Buffer.from(contents), {
    replace: true,
    showChanges: args.show_changes,
    attributes: attributesOf(args),
  });
  if (call.test) {
    if (Object.keys(plan.predicted).length === 0) return outcome(true, `The file ${args.name} is in the correct state`);
    const predicted = current
      ? plan.changes
      : { ...plan.predicted, diff: contentDiff(Buffer.alloc(0), Buffer.from(contents), args.show_changes) };
    return outcome(null, `Dataset will be serialized and stored into ${args.name}`, predicted);
  }
  if (Object.keys(plan.changes).length === 0) return outcome(true, `File ${args.name} is in the correct state`);
  await applyFile(rt, args.name, plan, { makedirs: args.makedirs, backup: args.backup });
  return outcome(true, `File ${args.name} updated`, plan.changes);
}

/**
 * Salt's serializers as file.serialize calls them: Python's json (indent 2, sorted keys, non-ASCII
 * escaped) and PyYAML's safe_dump in block style (sorted keys, PyYAML's quoting), then a newline.
 */
export function serializeData(data: unknown, format: 'yaml' | 'json', options: Record<string, unknown> = {}): string {
  if (format === 'json') {
    const indent = typeof options.indent === 'number' ? options.indent : 2;
    const sorted = options.sort_keys !== false;
    return `${pythonJsonDump(data, { sortKeys: sorted, indent, ensureAscii: options.ensure_ascii !== false })}\n`;
  }
  return `${pyyamlDump(data, options.default_flow_style === true)}\n`;
}
