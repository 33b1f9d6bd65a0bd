import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import {
  Context,
  desiredContent,
  fileNotFound,
  finishEdit,
  Owner,
  parentExists,
  readTextFile,
  SuffixBackup,
  Text,
  TextOrLines,
} from './file-common.js';
import {
  AbsolutePath,
  applyAttributes,
  attributeChanges,
  hostPath,
  ModeArg,
  statOrUndefined,
} from '../../modules/host-paths.js';
import { escapeRegex, PythonFlags, pythonRegex, pythonReplacement } from '../../modules/python-regex.js';
import { contentDiff } from '../../modules/text-diff.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateFunction } from './types.js';

const Replace = z.strictObject({
  name: AbsolutePath,
  pattern: Text,
  repl: Text,
  count: z.number().int().min(0).default(0),
  flags: PythonFlags.default(8),
  bufsize: z.union([z.number(), z.string()]).optional(),
  append_if_not_found: z.boolean().default(false),
  prepend_if_not_found: z.boolean().default(false),
  not_found_content: Text.optional(),
  backup: SuffixBackup.default('.bak'),
  show_changes: z.boolean().default(true),
  ignore_if_missing: z.boolean().default(false),
  backslash_literal: z.boolean().default(false),
});

const Line = z.strictObject({
  name: AbsolutePath,
  content: Text.optional(),
  match: Text.optional(),
  mode: z.enum(['ensure', 'replace', 'delete', 'insert']),
  location: z.enum(['start', 'end']).optional(),
  before: Text.optional(),
  after: Text.optional(),
  show_changes: z.boolean().default(true),
  backup: SuffixBackup.default(''),
  quiet: z.boolean().default(false),
  indent: z.boolean().default(true),
  create: z.boolean().default(false),
  user: Owner,
  group: Owner,
  file_mode: ModeArg.optional(),
});

const BlockReplace = z.strictObject({
  name: AbsolutePath,
  marker_start: Text.default('#-- start managed zone --'),
  marker_end: Text.default('#-- end managed zone --'),
  content: TextOrLines.default(''),
  source: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  source_hash: z.string().optional(),
  sources: z.array(z.string()).optional(),
  source_hashes: z.array(z.string()).optional(),
  template: z.enum(['jinja']).optional(),
  context: Context.optional(),
  defaults: Context.optional(),
  append_if_not_found: z.boolean().default(false),
  prepend_if_not_found: z.boolean().default(false),
  insert_before_match: Text.optional(),
  insert_after_match: Text.optional(),
  backup: SuffixBackup.default('.bak'),
  show_changes: z.boolean().default(true),
  append_newline: z.boolean().nullable().default(null),
});

const AppendText = z.strictObject({
  name: AbsolutePath,
  text: TextOrLines.optional(),
  makedirs: z.boolean().default(false),
  source: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  source_hash: z.string().optional(),
  sources: z.array(z.string()).optional(),
  source_hashes: z.array(z.string()).optional(),
  template: z.enum(['jinja']).optional(),
  context: Context.optional(),
  defaults: Context.optional(),
  ignore_whitespace: z.boolean().default(true),
  header: z.boolean().optional(),
});

const Comment = z.strictObject({
  name: AbsolutePath,
  regex: Text,
  char: z.string().min(1).default('#'),
  backup: SuffixBackup.default('.bak'),
  ignore_missing: z.boolean().default(false),
});

const Uncomment = z.strictObject({
  name: AbsolutePath,
  regex: Text,
  char: z.string().min(1).default('#'),
  backup: SuffixBackup.default('.bak'),
});

const KeyValue = z.strictObject({
  name: AbsolutePath,
  key: Text.optional(),
  value: Text.optional(),
  key_values: z.record(z.string(), Text).optional(),
  separator: z.string().min(1).default('='),
  append_if_not_found: z.boolean().default(false),
  show_changes: z.boolean().default(true),
  ignore_if_missing: z.boolean().default(false),
  count: z.number().int().min(0).default(1),
  uncomment: z.string().min(1).optional(),
  key_ignore_case: z.boolean().default(false),
  value_ignore_case: z.boolean().default(false),
  create_if_missing: z.boolean().default(false),
});

/** Splits text into lines that keep their line endings (Python's readlines). */
function lines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function withNewline(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`;
}

async function replaceState(args: z.output<typeof Replace>, call: StateCallContext): Promise<StateOutcome> {
  const path = hostPath(call.rt.root, args.name);
  const before = await readTextFile(path);
  if (before === undefined)
    return args.ignore_if_missing ? outcome(true, 'No changes needed to be made') : fileNotFound(args.name);
  const regex = pythonRegex(args.pattern, args.flags);
  let replaced = 0;
  const replacer = pythonReplacement(args.repl, args.backslash_literal);
  let after = before.replace(regex, (match: string, ...rest: unknown[]) => {
    if (args.count > 0 && replaced >= args.count) return match;
    replaced++;
    return replacer(match, ...rest);
  });
  regex.lastIndex = 0;
  const found = regex.test(before);
  if (!found && (args.append_if_not_found || args.prepend_if_not_found)) {
    const content = args.not_found_content ?? args.repl;
    if (!lines(before).some((line) => line.replace(/\n$/, '') === content)) {
      after = args.prepend_if_not_found
        ? `${withNewline(content)}${before}`
        : `${withNewline(before)}${withNewline(content)}`;
    }
  }
  return finishEdit(call, path, before, after, {
    showChanges: args.show_changes,
    backup: args.backup,
  });
}

/** Salt's file.line: one line ensured, replaced, inserted or deleted. */
async function lineState(args: z.output<typeof Line>, call: StateCallContext): Promise<StateOutcome> {
  const path = hostPath(call.rt.root, args.name);
  let before = await readTextFile(path);
  if (before === undefined) {
    if (!args.create) return fileNotFound(args.name);
    before = '';
  }
  if (args.mode !== 'delete' && args.content === undefined)
    return outcome(false, `Content can only be empty if mode is "delete"`);
  if (
    args.mode !== 'delete' &&
    args.mode !== 'insert' &&
    args.mode !== 'ensure' &&
    args.match === undefined &&
    args.content === undefined
  )
    return outcome(false, 'Neither match nor content given');
  const content = args.content ?? '';
  const body = lines(before).map((line) => line.replace(/\n$/, ''));
  const trailingNewline = before === '' || before.endsWith('\n');
  const matchRegex = (text: string | undefined) => (text === undefined ? undefined : pythonRegex(text, 0, false));
  const match = matchRegex(args.match ?? (args.mode === 'delete' || args.mode === 'replace' ? content : undefined));
  const beforeRe = matchRegex(args.before);
  const afterRe = matchRegex(args.after);
  const indentOf = (line: string | undefined) => (args.indent && line ? (/^\s*/.exec(line)?.[0] ?? '') : '');
  const present = (line: string) => line.trim() === content.trim();
  let out = [...body];
  switch (args.mode) {
    case 'delete':
      out = body.filter((line) => !(match ?? /(?!)/).test(line));
      break;
    case 'replace':
      out = body.map((line) => (match?.test(line) && !present(line) ? `${indentOf(line)}${content.trim()}` : line));
      break;
    case 'insert':
    case 'ensure': {
      if (args.mode === 'ensure' && match && !body.some(present)) {
        // ensure with a match: replace the matching line (Salt ensures the content replaces it).
        const at = body.findIndex((line) => match.test(line));
        if (at !== -1) {
          out[at] = `${indentOf(body[at])}${content.trim()}`;
          break;
        }
      }
      if (afterRe && beforeRe) {
        const a = body.findIndex((line) => afterRe.test(line));
        const b = body.findIndex((line, i) => i > a && beforeRe.test(line));
        if (a === -1 || b === -1) return outcome(false, 'Found no lines matching before and after');
        const between = body.slice(a + 1, b);
        if (between.length === 1 && present(between[0] as string)) break;
        if (args.mode === 'insert' && between.some(present)) break;
        out = [
          ...body.slice(0, a + 1),
          `${indentOf(body[a])}${content.trim()}`,
          ...body.slice(args.mode === 'ensure' ? b : a + 1),
        ];
        break;
      }
      if (afterRe) {
        const a = body.findIndex((line) => afterRe.test(line));
        if (a === -1) return outcome(false, `Found no line matching after: ${args.after}`);
        if (present(body[a + 1] ?? '\0')) break;
        if (args.mode === 'insert' && body.some(present)) break;
        out.splice(a + 1, 0, `${indentOf(body[a])}${content.trim()}`);
        break;
      }
      if (beforeRe) {
        const b = body.findIndex((line) => beforeRe.test(line));
        if (b === -1) return outcome(false, `Found no line matching before: ${args.before}`);
        if (b > 0 && present(body[b - 1] as string)) break;
        if (args.mode === 'insert' && body.some(present)) break;
        out.splice(b, 0, `${indentOf(body[b])}${content.trim()}`);
        break;
      }
      if (body.some(present)) break;
      if (args.location === undefined && args.mode === 'ensure')
        return outcome(
          false,
          'Wrong conditions? Unable to ensure line without knowing where to put it before and/or after.',
        );
      if (args.location === 'start') out.unshift(content);
      else out.push(content);
      break;
    }
  }
  const after = out.length === 0 ? '' : `${out.join('\n')}${trailingNewline || out.length > body.length ? '\n' : ''}`;
  const result = await finishEdit(call, path, before, after, {
    showChanges: args.show_changes,
    backup: args.backup,
    predicted: 'Changes would be made',
  });
  if (
    !call.test &&
    result.result === true &&
    (args.user !== undefined || args.group !== undefined || args.file_mode !== undefined)
  ) {
    const attrs = await attributeChanges(call.rt.commands, await statOrUndefined(path), {
      ...(args.user === undefined ? {} : { user: args.user }),
      ...(args.group === undefined ? {} : { group: args.group }),
      ...(args.file_mode === undefined ? {} : { mode: args.file_mode }),
    });
    await applyAttributes(path, attrs);
    if (Object.keys(attrs.changes).length > 0)
      return outcome(true, result.comment === 'No changes needed to be made' ? 'Changes were made' : result.comment, {
        ...result.changes,
        ...attrs.changes,
      });
  }
  return result;
}

async function blockReplace(args: z.output<typeof BlockReplace>, call: StateCallContext): Promise<StateOutcome> {
  const path = hostPath(call.rt.root, args.name);
  const before = await readTextFile(path);
  if (before === undefined) return fileNotFound(args.name);
  const source = args.source ?? args.sources;
  let content: string;
  if (source !== undefined) {
    const wanted = await desiredContent(
      {
        name: args.name,
        source,
        source_hash: args.source_hash,
        template: args.template,
        context: args.context,
        defaults: args.defaults,
      },
      call,
    );
    if ('error' in wanted) return outcome(false, wanted.error);
    content = wanted.content?.toString('utf8') ?? '';
  } else {
    content = Array.isArray(args.content) ? args.content.join('\n') : (args.content as string);
    if (args.template !== undefined)
      content = await call.rt.renderTemplate(content, args.name.replace(/^\/+/, ''), {
        ...args.defaults,
        ...args.context,
      });
  }
  const block = content === '' ? '' : withNewline(content);
  const fileLines = lines(before);
  const start = fileLines.findIndex((line) => line.includes(args.marker_start));
  const end = start === -1 ? -1 : fileLines.findIndex((line, i) => i > start && line.includes(args.marker_end));
  let after: string;
  if (start !== -1 && end !== -1) {
    after = [
      ...fileLines.slice(0, start + 1).map((line, i) => (i === start ? withNewline(line) : line)),
      block,
      ...fileLines.slice(end),
    ].join('');
  } else if (start !== -1 || end !== -1) {
    return outcome(false, 'Unterminated marked block: marker_start found without marker_end');
  } else {
    const whole = `${args.marker_start}\n${block}${args.marker_end}\n`;
    const insertRe = (text: string | undefined) => (text === undefined ? undefined : pythonRegex(text, 0, false));
    const beforeRe = insertRe(args.insert_before_match);
    const afterRe = insertRe(args.insert_after_match);
    const at = beforeRe
      ? fileLines.findIndex((line) => beforeRe.test(line))
      : afterRe
        ? fileLines.findIndex((line) => afterRe.test(line))
        : -1;
    if ((beforeRe || afterRe) && at !== -1) {
      const cut = beforeRe ? at : at + 1;
      after = [...fileLines.slice(0, cut).map(withNewline), whole, ...fileLines.slice(cut)].join('');
    } else if (args.prepend_if_not_found) after = `${whole}${before}`;
    else if (args.append_if_not_found) after = `${withNewline(before)}${whole}`;
    else return outcome(false, 'Cannot edit marked block. Markers were not found in file.');
  }
  return finishEdit(call, path, before, after, {
    showChanges: args.show_changes,
    backup: args.backup,
    predicted: 'Changes would be made',
  });
}

/** file.append / file.prepend: each text chunk not already in the file (whitespace-insensitive). */
function appendOrPrepend(where: 'append' | 'prepend'): StateFunction {
  return defineState({
    schema: AppendText,
    run: async (args, call) => {
      const path = hostPath(call.rt.root, args.name);
      const current = await statOrUndefined(path);
      if (current?.isDirectory()) return outcome(false, `${args.name} is a directory`);
      let chunks: string[];
      const source = args.source ?? args.sources;
      if (source !== undefined) {
        const wanted = await desiredContent(
          {
            name: args.name,
            source,
            source_hash: args.source_hash,
            template: args.template,
            context: args.context,
            defaults: args.defaults,
          },
          call,
        );
        if ('error' in wanted) return outcome(false, wanted.error);
        chunks = [wanted.content?.toString('utf8') ?? ''];
      } else if (args.text !== undefined) {
        chunks = Array.isArray(args.text) ? args.text : [args.text as string];
        if (args.template !== undefined) {
          const rendered: string[] = [];
          for (const chunk of chunks)
            rendered.push(
              await call.rt.renderTemplate(chunk, args.name.replace(/^\/+/, ''), { ...args.defaults, ...args.context }),
            );
          chunks = rendered;
        }
      } else return outcome(false, 'No text or source given');
      if (!current && !(await parentExists(path))) {
        if (!args.makedirs && !call.test)
          return outcome(
            false,
            `Parent directory not present: ${dirname(args.name)} (set makedirs: True to create it)`,
          );
      }
      const before = current ? ((await readTextFile(path)) ?? '') : '';
      const squash = (text: string) => (args.ignore_whitespace ? text.replace(/\s+/g, ' ').trim() : text);
      const missing = chunks.filter((chunk) => !squash(before).includes(squash(chunk)));
      if (missing.length === 0) return outcome(true, `File ${args.name} is in correct state`);
      const addition = missing.map(withNewline).join('');
      const after = where === 'append' ? `${withNewline(before)}${addition}` : `${addition}${before}`;
      const changes = { diff: contentDiff(Buffer.from(before), Buffer.from(after), true) };
      if (call.test) return outcome(null, `File ${args.name} is set to be updated`, changes);
      if (!current && args.makedirs) await mkdir(dirname(path), { recursive: true });
      await writeFile(path, after, current ? {} : { mode: 0o644 });
      const count = missing.reduce((n, chunk) => n + lines(chunk).length, 0);
      return outcome(true, `${where === 'append' ? 'Appended' : 'Prepended'} ${count} lines`, changes);
    },
  });
}

/** The pattern of file.comment/uncomment without its anchors, as Salt strips them. */
function unanchor(regex: string): string {
  return regex.replace(/^(\(\?[iLmsux]\))?\^?/, '').replace(/\$$/, '');
}

async function commentState(args: z.output<typeof Comment>, call: StateCallContext): Promise<StateOutcome> {
  const path = hostPath(call.rt.root, args.name);
  const before = await readTextFile(path);
  if (before === undefined) return fileNotFound(args.name);
  const bare = unanchor(args.regex);
  const anchored = args.regex.startsWith('^');
  const target = pythonRegex(`${anchored ? '^' : ''}(${bare})${args.regex.endsWith('$') ? '$' : ''}`, 0, false);
  const isComment = (line: string) => line.trimStart().startsWith(args.char);
  const body = lines(before);
  const hits = body.filter((line) => !isComment(line) && target.test(line.replace(/\n$/, '')));
  if (hits.length === 0) {
    const commented = pythonRegex(`${escapeRegex(args.char)}\\s*${bare}`, 8);
    if (commented.test(before)) return outcome(true, 'Pattern already commented');
    if (args.ignore_missing) return outcome(true, 'Pattern not found and ignore_missing set to True');
    return outcome(false, `${bare}: Pattern not found`);
  }
  if (call.test) return outcome(null, `File ${args.name} is set to be updated`, { [args.name]: 'updated' });
  const after = body
    .map((line) => (!isComment(line) && target.test(line.replace(/\n$/, '')) ? `${args.char}${line}` : line))
    .join('');
  const result = await finishEdit(call, path, before, after, { backup: args.backup });
  return outcome(true, 'Commented lines successfully', result.changes);
}

async function uncommentState(args: z.output<typeof Uncomment>, call: StateCallContext): Promise<StateOutcome> {
  const path = hostPath(call.rt.root, args.name);
  const before = await readTextFile(path);
  if (before === undefined) return fileNotFound(args.name);
  const bare = args.regex.replace(/^\^/, '');
  const commented = pythonRegex(`^([ \\t]*)${escapeRegex(args.char)}[ \\t]*(${bare})`, 0, false);
  const body = lines(before);
  if (!body.some((line) => commented.test(line.replace(/\n$/, '')))) {
    if (pythonRegex(`^[ \\t]*${bare}`, 8).test(before)) return outcome(true, 'Pattern already uncommented');
    return outcome(false, `${args.regex}: Pattern not found`);
  }
  if (call.test) return outcome(null, `File ${args.name} is set to be updated`, { [args.name]: 'updated' });
  const after = body
    .map((line) => {
      const text = line.replace(/\n$/, '');
      if (!commented.test(text)) return line;
      const at = text.indexOf(args.char);
      return `${text.slice(0, at)}${text.slice(at + args.char.length)}${line.endsWith('\n') ? '\n' : ''}`;
    })
    .join('');
  const result = await finishEdit(call, path, before, after, { backup: args.backup });
  return outcome(true, 'Uncommented lines successfully', result.changes);
}

async function keyValue(args: z.output<typeof KeyValue>, call: StateCallContext): Promise<StateOutcome> {
  const path = hostPath(call.rt.root, args.name);
  let before = await readTextFile(path);
  if (before === undefined) {
    if (args.ignore_if_missing) return outcome(true, `${args.name} not found and ignore_if_missing set to True`);
    if (!args.create_if_missing) return fileNotFound(args.name);
    before = '';
  }
  let pairs: Record<string, string>;
  if (args.key_values !== undefined) {
    if (args.key !== undefined || args.value !== undefined)
      return outcome(false, "'key' and 'value' cannot be used together with 'key_values'");
    pairs = args.key_values;
  } else {
    if (args.key === undefined || args.value === undefined)
      return outcome(false, "Either 'key' and 'value' or 'key_values' must be given");
    pairs = { [args.key]: args.value };
  }
  const same = (a: string, b: string, ignoreCase: boolean) =>
    ignoreCase ? a.toLowerCase() === b.toLowerCase() : a === b;
  const seen = new Map<string, number>();
  let changed = 0;
  const out = lines(before).map((line) => {
    const ending = line.endsWith('\n') ? '\n' : '';
    let text = line.replace(/\n$/, '');
    let uncommented = false;
    if (args.uncomment !== undefined && text.trimStart().startsWith(args.uncomment)) {
      const probe = text.trimStart().slice(args.uncomment.length);
      if (
        Object.keys(pairs).some((key) => same(probe.split(args.separator)[0]?.trim() ?? '', key, args.key_ignore_case))
      ) {
        text = probe;
        uncommented = true;
      }
    }
    const at = text.indexOf(args.separator);
    if (at === -1) return line;
    const lineKey = text.slice(0, at).trim();
    const lineValue = text.slice(at + args.separator.length).trim();
    const key = Object.keys(pairs).find((k) => same(lineKey, k, args.key_ignore_case));
    if (key === undefined) return line;
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    if (args.count > 0 && n > args.count) return line;
    const value = pairs[key] as string;
    if (!uncommented && same(lineValue, value, args.value_ignore_case)) return line;
    changed++;
    return `${key}${args.separator}${value}${ending}`;
  });
  let after = out.join('');
  if (args.append_if_not_found) {
    const missing = Object.entries(pairs).filter(([key]) => !seen.has(key));
    if (missing.length > 0) {
      changed += missing.length;
      after = `${withNewline(after)}${missing.map(([key, value]) => `${key}${args.separator}${value}\n`).join('')}`;
    }
  }
  return finishEdit(call, path, before, after, {
    showChanges: args.show_changes,
    changed: `Changed ${changed} lines`,
    predicted: `File ${args.name} is set to be updated (${changed} lines would change)`,
  });
}

export const fileEditStates: Readonly<Record<string, StateFunction>> = Object.freeze({
  replace: defineState({ schema: Replace, run: replaceState }),
  line: defineState({ schema: Line, run: lineState }),
  blockreplace: defineState({ schema: BlockReplace, run: blockReplace }),
  append: appendOrPrepend('append'),
  prepend: appendOrPrepend('prepend'),
  comment: defineState({ schema: Comment, run: commentState }),
  uncomment: defineState({ schema: Uncomment, run: uncommentState }),
  keyvalue: defineState({ schema: KeyValue, run: keyValue }),
});
