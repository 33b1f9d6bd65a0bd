import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import yauzl from 'yauzl';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import { ExecutionError } from '../../modules/errors.js';
import { checkSourceHash, Owner, readSource } from './file-common.js';
import {
  AbsolutePath,
  applyAttributes,
  attributeChanges,
  hostPath,
  statOrUndefined,
} from '../../modules/host-paths.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

/** An archive with more members than this is refused rather than listed into memory. */
const MAX_MEMBERS = 200_000;

const Extracted = z.strictObject({
  name: AbsolutePath,
  source: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  source_hash: z.string().optional(),
  source_hash_name: z.string().optional(),
  source_hash_update: z.boolean().default(false),
  skip_verify: z.boolean().default(false),
  archive_format: z.enum(['tar', 'zip']).optional(),
  options: z.string().optional(),
  list_options: z.string().optional(),
  force: z.boolean().default(false),
  overwrite: z.boolean().default(false),
  clean: z.boolean().default(false),
  user: Owner,
  group: Owner,
  if_missing: AbsolutePath.optional(),
  trim_output: z.union([z.boolean(), z.number()]).default(false),
  use_cmd_unzip: z.boolean().optional(),
  extract_perms: z.boolean().default(true),
  enforce_toplevel: z.boolean().default(true),
  enforce_ownership_on: AbsolutePath.optional(),
  keep_source: z.boolean().default(true),
  keep: z.boolean().optional(),
  saltenv: z.string().optional(),
});
type Extracted = z.output<typeof Extracted>;

type Format = 'tar' | 'zip';

function formatOf(args: Extracted, url: string): Format | undefined {
  if (args.archive_format !== undefined) return args.archive_format;
  const path = url.split('?')[0]?.toLowerCase() ?? '';
  if (path.endsWith('.zip') || path.endsWith('.jar') || path.endsWith('.whl')) return 'zip';
  if (/\.(tar|tgz|tar\.gz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst)$/.test(path)) return 'tar';
  return undefined;
}

/** A member path that would land outside the destination (absolute, or through `..`). */
function unsafe(member: string): boolean {
  const clean = posix.normalize(member);
  return member.startsWith('/') || clean === '..' || clean.startsWith('../');
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zip) => (err || !zip ? reject(err) : resolve(zip))),
  );
}

function readStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) =>
    zip.openReadStream(entry, (err, stream) => (err || !stream ? reject(err) : resolve(stream))),
  );
}

async function zipMembers(file: string): Promise<string[]> {
  const zip = await openZip(file);
  const names: string[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      names.push(entry.fileName);
      if (names.length > MAX_MEMBERS) {
        zip.close();
        reject(new ExecutionError(`more than ${MAX_MEMBERS} members`));
        return;
      }
      zip.readEntry();
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
  return names;
}

async function zipExtract(file: string, dest: string): Promise<void> {
  const zip = await openZip(file);
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      const path = join(dest, entry.fileName);
      const mode = (entry.externalFileAttributes >>> 16) & 0o7777;
      if (entry.fileName.endsWith('/')) {
        mkdir(path, { recursive: true }).then(() => zip.readEntry(), reject);
        return;
      }
      void (async () => {
        await mkdir(posix.dirname(path), { recursive: true });
        const stream = await readStream(zip, entry);
        await pipeline(stream, createWriteStream(path));
        if (mode !== 0) await chmod(path, mode);
        zip.readEntry();
      })().catch(reject);
    });
    zip.on('end', () => resolve());
    zip.on('error', reject);
    zip.readEntry();
  });
}

async function tarMembers(file: string): Promise<string[]> {
  const names: string[] = [];
  await tar.t({
    file,
    onReadEntry: (entry) => {
      if (names.length <= MAX_MEMBERS) names.push(entry.path);
    },
  });
  if (names.length > MAX_MEMBERS) throw new ExecutionError(`more than ${MAX_MEMBERS} members`);
  return names;
}

/** Salt's archive.extracted: tar (gzip too) and zip, read with libraries; the source from the file server. */
async function extracted(args: Extracted, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  const sources = typeof args.source === 'string' ? [args.source] : args.source;
  const dest = hostPath(rt.root, args.name);
  if (args.if_missing !== undefined && (await statOrUndefined(hostPath(rt.root, args.if_missing))))
    return outcome(true, `Path ${args.if_missing} exists`);
  const found = await readSource(rt, sources);
  if ('error' in found) return outcome(false, found.error);
  const format = formatOf(args, found.url);
  if (format === undefined)
    return outcome(false, `Could not guess the archive format of ${found.url}: set archive_format to tar or zip`);
  if (args.source_hash !== undefined && !args.skip_verify) {
    const mismatch = await checkSourceHash(rt, args.source_hash, found);
    if (mismatch) return outcome(false, mismatch);
  }
  const cacheDir = join(rt.cacheDir, 'extrn_files', 'archive');
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  const cached = join(cacheDir, `${posix.basename(found.url.split('?')[0] ?? 'archive')}`);
  await writeFile(cached, found.content);
  let members: string[];
  try {
    members = format === 'zip' ? await zipMembers(cached) : await tarMembers(cached);
  } catch (err) {
    return outcome(false, `Unable to list the contents of ${found.url}: ${(err as Error).message}`);
  }
  const bad = members.find(unsafe);
  if (bad !== undefined)
    return outcome(false, `Archive member '${bad}' would be extracted outside ${args.name}; refusing`);
  const tops = [
    ...new Set(
      members.map((m) => m.replace(/^\.\//, '').split('/')[0]).filter((m): m is string => m !== undefined && m !== ''),
    ),
  ];
  if (args.enforce_toplevel && tops.length !== 1)
    return outcome(
      false,
      `Archive does not have a single top-level directory. To allow this archive to be extracted, set "enforce_toplevel" to False. To avoid a "tar-bomb" it may also be advisable to set a top-level directory by adding it to the "name" value (for example, setting "name" to ${posix.join(args.name, 'some_dir')} instead of ${args.name}).`,
    );
  const missing: string[] = [];
  for (const member of members) {
    const path = join(dest, member);
    if (!(await statOrUndefined(path, false))) missing.push(member);
  }
  if (missing.length === 0 && !args.overwrite && !args.force) {
    const ownership = await fixOwnership(args, call, dest, tops);
    if (Object.keys(ownership).length === 0) return outcome(true, 'All files in archive are already present');
    return outcome(
      call.test ? null : true,
      call.test ? 'Ownership would be updated on extracted files' : 'Ownership updated on extracted files',
      ownership,
    );
  }
  const changes: Record<string, unknown> = {
    extracted_files:
      args.trim_output === false ? members : members.slice(0, Number(args.trim_output) || members.length),
  };
  const destInfo = await statOrUndefined(dest);
  if (!destInfo) changes.directories_created = [args.name];
  if (call.test) return outcome(null, `Archive ${found.url} would be extracted to ${args.name}`, changes);
  if (args.clean) for (const top of tops) await rm(join(dest, top), { recursive: true, force: true });
  await mkdir(dest, { recursive: true });
  try {
    if (format === 'zip') await zipExtract(cached, dest);
    else
      await tar.x({ file: cached, cwd: dest, preserveOwner: false, ...(args.extract_perms ? {} : { noChmod: true }) });
  } catch (err) {
    return outcome(false, `Failed to extract ${found.url}: ${(err as Error).message}`);
  } finally {
    if (!args.keep_source || args.keep === false) await rm(cached, { force: true });
  }
  Object.assign(changes, await fixOwnership(args, call, dest, tops));
  return outcome(true, `${found.url} extracted to ${args.name}`, changes);
}

/** `user`/`group`: the extracted tree is owned by them (Salt's enforce_ownership_on narrows where). */
async function fixOwnership(
  args: Extracted,
  call: StateCallContext,
  dest: string,
  tops: readonly string[],
): Promise<Record<string, unknown>> {
  if (args.user === undefined && args.group === undefined) return {};
  const wanted = {
    ...(args.user === undefined ? {} : { user: args.user }),
    ...(args.group === undefined ? {} : { group: args.group }),
  };
  const roots =
    args.enforce_ownership_on !== undefined
      ? [hostPath(call.rt.root, args.enforce_ownership_on)]
      : tops.map((top) => join(dest, top));
  const changed: string[] = [];
  const visit = async (path: string): Promise<void> => {
    const info = await statOrUndefined(path, false);
    if (!info || info.isSymbolicLink()) return;
    const attrs = await attributeChanges(call.rt.commands, info, wanted);
    if (Object.keys(attrs.changes).length > 0) {
      changed.push(path);
      if (!call.test) await applyAttributes(path, attrs);
    }
    if (info.isDirectory()) {
      const { readdir } = await import('node:fs/promises');
      for (const entry of await readdir(path)) await visit(join(path, entry));
    }
  };
  for (const root of roots) await visit(root);
  return changed.length === 0 ? {} : { updated_ownership: true };
}

export const archiveStates: StateModule = Object.freeze({
  name: 'archive',
  functions: Object.freeze({ extracted: defineState({ schema: Extracted, run: extracted }) }),
});
