import type { Stats } from 'node:fs';
import { chmod, chown, lstat, mkdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { z } from 'zod';
import type { Commands } from './commands.js';
import { resolveGid, resolveUid } from './accounts.js';

/** An absolute path as written in an SLS. */
export const AbsolutePath = z
  .string()
  .min(1)
  .refine((path) => isAbsolute(path) && !path.includes('\0'), 'must be an absolute path');

/** A file mode: '0644', '644', or 644 (YAML without quotes: read as the octal digits it shows). */
export const ModeArg = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (!/^0?[0-7]{3,4}$/.test(text)) {
    ctx.addIssue({ code: 'custom', message: `'${text}' is not an octal file mode such as '0644'` });
    return z.NEVER;
  }
  return parseInt(text, 8);
});

/** A mode, or `keep` (file.managed: leave the mode as it is). */
export const ModeOrKeep = z.union([z.string(), z.number()]).transform((value, ctx): number | 'keep' => {
  if (value === 'keep') return 'keep';
  const text = typeof value === 'number' ? String(value) : value.trim();
  if (!/^0?[0-7]{3,4}$/.test(text)) {
    ctx.addIssue({ code: 'custom', message: `'${text}' is not an octal file mode such as '0644'` });
    return z.NEVER;
  }
  return parseInt(text, 8);
});

export const OwnerArg = z.union([z.string().min(1), z.number().int().min(0)]);

/** Where a path of the SLS lives on this host: under the runtime's root. */
export function hostPath(root: string, path: string): string {
  const clean = normalize(path);
  return root === '/' ? clean : join(root, clean);
}

export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

export async function statOrUndefined(path: string, follow = true): Promise<Stats | undefined> {
  try {
    return follow ? await stat(path) : await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** The ownership and mode changes a path needs (Salt's change keys: user, group, mode). */
export interface Attributes {
  readonly user?: string | number;
  readonly group?: string | number;
  readonly mode?: number;
}

export interface AttributeChanges {
  readonly changes: Record<string, unknown>;
  readonly uid?: number;
  readonly gid?: number;
  readonly mode?: number;
}

export async function attributeChanges(
  commands: Commands,
  current: Stats | undefined,
  wanted: Attributes,
): Promise<AttributeChanges> {
  const changes: Record<string, unknown> = {};
  const result: { uid?: number; gid?: number; mode?: number } = {};
  // A path about to be created gets the minion's own uid and gid: only a different owner is a change.
  const owner = current ?? { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 };
  if (wanted.user !== undefined) {
    const uid = await resolveUid(commands, wanted.user);
    if (owner.uid !== uid) {
      changes.user = wanted.user;
      result.uid = uid;
    }
  }
  if (wanted.group !== undefined) {
    const gid = await resolveGid(commands, wanted.group);
    if (owner.gid !== gid) {
      changes.group = wanted.group;
      result.gid = gid;
    }
  }
  if (wanted.mode !== undefined && (current === undefined || (current.mode & 0o7777) !== wanted.mode)) {
    changes.mode = formatMode(wanted.mode);
    result.mode = wanted.mode;
  }
  return { changes, ...result };
}

export async function applyAttributes(path: string, attrs: AttributeChanges): Promise<void> {
  if (attrs.uid !== undefined || attrs.gid !== undefined) await chown(path, attrs.uid ?? -1, attrs.gid ?? -1);
  // chown may clear setuid bits: the mode goes last.
  if (attrs.mode !== undefined) await chmod(path, attrs.mode);
}

export async function makeParents(path: string, mode: number | undefined): Promise<void> {
  await mkdir(dirname(path), { recursive: true, ...(mode === undefined ? {} : { mode }) });
}
