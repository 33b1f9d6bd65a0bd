import { readFile, readlink, rm, symlink, mkdir, appendFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { traverse } from '@phoenix/state';
import type { StateOutcome } from '@phoenix/state';
import { unifiedDiff } from './text-diff.js';
import {
  AbsolutePath,
  applyAttributes,
  attributeChanges,
  hostPath,
  makeParents,
  ModeArg,
  OwnerArg,
  statOrUndefined,
  writeAtomic,
} from './paths.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

const Text = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const TextOrLines = z.union([Text, z.array(Text)]);

const Managed = z.strictObject({
  name: AbsolutePath,
  source: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  source_hash: z.string().optional(),
  contents: TextOrLines.optional(),
  contents_pillar: z.string().min(1).optional(),
  template: z.enum(['jinja']).optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  defaults: z.record(z.string(), z.unknown()).optional(),
  user: OwnerArg.optional(),
  group: OwnerArg.optional(),
  mode: ModeArg.optional(),
  dir_mode: ModeArg.optional(),
  makedirs: z.boolean().default(false),
  replace: z.boolean().default(true),
  create: z.boolean().default(true),
  show_changes: z.boolean().default(true),
});

const Directory = z.strictObject({
  name: AbsolutePath,
  user: OwnerArg.optional(),
  group: OwnerArg.optional(),
  mode: ModeArg.optional(),
  dir_mode: ModeArg.optional(),
  makedirs: z.boolean().default(false),
});

const Absent = z.strictObject({ name: AbsolutePath });

const Symlink = z.strictObject({
  name: AbsolutePath,
  target: z.string().min(1),
  force: z.boolean().default(false),
  makedirs: z.boolean().default(false),
});

const Append = z.strictObject({
  name: AbsolutePath,
  text: TextOrLines,
  makedirs: z.boolean().default(false),
});

/** Salt's file states, on the runtime's root. */
export const fileStates: StateModule = Object.freeze({
  name: 'file',
  functions: Object.freeze({
    managed: defineState({
      schema: Managed,
      run: async (args, call) => {
        const path = hostPath(call.rt.root, args.name);
        const wanted = await desiredContent(args, call);
        if ('error' in wanted) return outcome(false, wanted.error);
        const current = await statOrUndefined(path);
        if (current?.isDirectory()) return outcome(false, `Specified target ${args.name} is a directory`);
        if (!current && !args.create)
          return outcome(true, `File ${args.name} is not present and is not set for creation`);
        if (!current && !args.makedirs && !(await parentExists(path))) {
          return missingParent(
            call,
            `Parent directory not present: ${dirname(args.name)} (set makedirs: True to create it)`,
            { diff: 'New file' },
          );
        }
        const changes: Record<string, unknown> = {};
        const before = current ? await readFile(path) : undefined;
        const content = wanted.content ?? before ?? Buffer.alloc(0);
        const replace =
          before === undefined || (args.replace && wanted.content !== undefined && !before.equals(content));
        if (before === undefined) changes.diff = 'New file';
        else if (replace) changes.diff = describeDiff(before, content, args.show_changes);
        const attrs = await attributeChanges(call.rt.commands, current, {
          ...(args.user === undefined ? {} : { user: args.user }),
          ...(args.group === undefined ? {} : { group: args.group }),
          ...(args.mode === undefined ? {} : { mode: args.mode }),
        });
        Object.assign(changes, attrs.changes);
        if (Object.keys(changes).length === 0) return outcome(true, `File ${args.name} is in the correct state`);
        if (call.test) return outcome(null, `The file ${args.name} is set to be changed`, changes);
        if (!current && args.makedirs) await makeParents(path, args.dir_mode);
        if (replace) await writeAtomic(path, content, attrs.mode ?? (current ? current.mode & 0o7777 : 0o644));
        await applyAttributes(path, attrs);
        return outcome(true, before === undefined ? `File ${args.name} created` : `File ${args.name} updated`, changes);
      },
    }),
    directory: defineState({
      schema: Directory,
      run: async (args, call) => {
        const path = hostPath(call.rt.root, args.name);
        const current = await statOrUndefined(path);
        if (current && !current.isDirectory())
          return outcome(false, `Specified location ${args.name} exists and is a file`);
        if (!current && !args.makedirs && !(await parentExists(path))) {
          return missingParent(
            call,
            `No directory to create ${args.name} in (set makedirs: True to create its parents)`,
            { [args.name]: 'New Dir' },
          );
        }
        const mode = args.mode ?? args.dir_mode;
        const attrs = await attributeChanges(call.rt.commands, current, {
          ...(args.user === undefined ? {} : { user: args.user }),
          ...(args.group === undefined ? {} : { group: args.group }),
          ...(mode === undefined ? {} : { mode }),
        });
        const changes: Record<string, unknown> = current
          ? { ...attrs.changes }
          : { [args.name]: 'New Dir', ...attrs.changes };
        if (Object.keys(changes).length === 0)
          return outcome(true, `The directory ${args.name} is in the correct state`);
        if (call.test)
          return outcome(null, `The directory ${args.name} is set to be ${current ? 'updated' : 'created'}`, changes);
        if (!current) await mkdir(path, { recursive: args.makedirs, ...(mode === undefined ? {} : { mode }) });
        await applyAttributes(path, attrs);
        return outcome(true, current ? `Directory ${args.name} updated` : `Directory ${args.name} created`, changes);
      },
    }),
    absent: defineState({
      schema: Absent,
      run: async (args, call) => {
        const path = hostPath(call.rt.root, args.name);
        if (hostPath('/', args.name) === '/') return outcome(false, 'Refusing to remove the root directory');
        const current = await statOrUndefined(path, false);
        if (!current) return outcome(true, `File ${args.name} is not present`);
        const kind = current.isDirectory() ? 'directory' : 'file';
        if (call.test)
          return outcome(null, `${kind === 'file' ? 'File' : 'Directory'} ${args.name} is set for removal`, {
            removed: args.name,
          });
        await rm(path, { recursive: true, force: true });
        return outcome(true, `Removed ${kind} ${args.name}`, { removed: args.name });
      },
    }),
    symlink: defineState({
      schema: Symlink,
      run: async (args, call) => {
        const path = hostPath(call.rt.root, args.name);
        const current = await statOrUndefined(path, false);
        if (current?.isSymbolicLink() && (await readlink(path)) === args.target) {
          return outcome(true, `Symlink ${args.name} is present and points to ${args.target}`);
        }
        if (current && !current.isSymbolicLink() && !args.force) {
          return outcome(false, `File exists where the symlink ${args.name} should be (set force: True to replace it)`);
        }
        if (!current && !args.makedirs && !(await parentExists(path))) {
          return missingParent(
            call,
            `Directory ${dirname(args.name)} for symlink is not present (set makedirs: True)`,
            { new: args.name },
          );
        }
        const changes = current?.isSymbolicLink()
          ? { target: { old: await readlink(path), new: args.target } }
          : { new: args.name };
        if (call.test) return outcome(null, `Symlink ${args.name} to ${args.target} is set for creation`, changes);
        if (current) await rm(path, { recursive: true, force: true });
        else if (args.makedirs) await makeParents(path, undefined);
        await symlink(args.target, path);
        return outcome(true, `Created new symlink ${args.name} -> ${args.target}`, changes);
      },
    }),
    append: defineState({
      schema: Append,
      run: async (args, call) => {
        const path = hostPath(call.rt.root, args.name);
        const current = await statOrUndefined(path);
        if (current?.isDirectory()) return outcome(false, `${args.name} is a directory`);
        if (!current && !args.makedirs && !(await parentExists(path))) {
          return missingParent(
            call,
            `Parent directory not present: ${dirname(args.name)} (set makedirs: True to create it)`,
            { diff: 'New file' },
          );
        }
        const before = current ? await readFile(path, 'utf8') : '';
        const chunks = (Array.isArray(args.text) ? args.text : [args.text]).filter(
          (chunk) => !containsText(before, chunk),
        );
        if (chunks.length === 0) return outcome(true, 'File is in the correct state');
        const prefix = before === '' || before.endsWith('\n') ? '' : '\n';
        const addition = `${prefix}${chunks.map((chunk) => (chunk.endsWith('\n') ? chunk : `${chunk}\n`)).join('')}`;
        const changes = { diff: unifiedDiff(before, before + addition) };
        if (call.test) return outcome(null, `File ${args.name} is set to be updated`, changes);
        if (!current && args.makedirs) await makeParents(path, undefined);
        await appendFile(path, addition);
        const lines = chunks.reduce((n, chunk) => n + chunk.split('\n').filter(Boolean).length, 0);
        return outcome(true, `Appended ${lines} line${lines === 1 ? '' : 's'}`, changes);
      },
    }),
  }),
});

type ManagedArgs = z.output<typeof Managed>;

async function parentExists(path: string): Promise<boolean> {
  return (await statOrUndefined(dirname(path)))?.isDirectory() === true;
}

/**
 * A missing parent directory fails the state; with test=True an earlier state of the same run may
 * still create it, so the prediction is "would change" with the caveat in the comment.
 */
function missingParent(call: StateCallContext, message: string, changes: Record<string, unknown>): StateOutcome {
  return call.test
    ? outcome(null, `${message}; test=True: a state that runs before it may create it`, changes)
    : outcome(false, message);
}

/** The bytes the file should hold, or undefined to leave its content alone. */
async function desiredContent(
  args: ManagedArgs,
  call: StateCallContext,
): Promise<{ content: Buffer | undefined } | { error: string }> {
  const given = [args.source, args.contents, args.contents_pillar].filter((value) => value !== undefined).length;
  if (given > 1) return { error: 'Only one of source, contents and contents_pillar may be given' };
  let text: string | undefined;
  if (args.source !== undefined) {
    const sources = Array.isArray(args.source) ? args.source : [args.source];
    const bad = sources.find((source) => !source.startsWith('salt://'));
    if (bad) return { error: `Source '${bad}' is not supported: Phoenix serves salt:// sources from the file roots` };
    let found: { content: Buffer; url: string } | undefined;
    for (const url of sources) {
      const file = await call.rt.files.read(url, call.rt.saltenv);
      if (file) {
        found = { content: file.content, url };
        break;
      }
    }
    if (!found) return { error: `Source file ${sources.join(', ')} not found in saltenv '${call.rt.saltenv}'` };
    if (args.template === undefined) return { content: found.content };
    text = found.content.toString('utf8');
    const file = found.url.slice('salt://'.length).split('?')[0] ?? found.url;
    const rendered = await call.rt.renderTemplate(text, file, { ...args.defaults, ...args.context });
    return { content: Buffer.from(rendered) };
  }
  if (args.contents_pillar !== undefined) {
    const value = traverse(call.rt.pillar, args.contents_pillar, undefined);
    if (value === undefined) return { error: `Pillar ${args.contents_pillar} does not exist` };
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } else if (args.contents !== undefined) {
    text = Array.isArray(args.contents) ? args.contents.join('\n') : args.contents;
  } else {
    return { content: undefined };
  }
  if (!text.endsWith('\n') && text !== '') text += '\n';
  if (args.template === 'jinja')
    text = await call.rt.renderTemplate(text, args.name.replace(/^\/+/, ''), { ...args.defaults, ...args.context });
  return { content: Buffer.from(text) };
}

function describeDiff(before: Buffer, after: Buffer, show: boolean): string {
  if (!show) return '<show_changes=False>';
  if (before.includes(0) || after.includes(0)) return 'Replace binary file';
  return unifiedDiff(before.toString('utf8'), after.toString('utf8'));
}

/** file.append's check: is this text already in the file (ignoring differences in whitespace)? */
function containsText(haystack: string, needle: string): boolean {
  const squash = (text: string) => text.replace(/\s+/g, ' ').trim();
  return squash(haystack).includes(squash(needle));
}
