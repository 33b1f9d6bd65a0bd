import { ExecutionError } from './errors.js';
import type { Commands } from './commands.js';

/** A passwd entry as `getent passwd` prints it. */
export interface UserEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** The comment field (full name, room, phones). */
  readonly gecos: string;
  readonly home: string;
  readonly shell: string;
}

/** A group entry as `getent group` prints it. */
export interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** Why the account tools are missing on this host, or undefined when they are there. */
export async function accountToolsMissing(commands: Commands, tools: readonly string[]): Promise<string | undefined> {
  for (const tool of tools) {
    if ((await commands.which(tool)) === undefined)
      return `${tool} not found on PATH (user and group states need getent and the shadow utilities)`;
  }
  return undefined;
}

/** `getent passwd NAME` (a name or a number); undefined when there is no such user. */
export async function lookupUser(commands: Commands, user: string | number): Promise<UserEntry | undefined> {
  const out = await commands.run({ argv: ['getent', 'passwd', String(user)] });
  if (out.retcode === 2) return undefined;
  if (out.retcode !== 0)
    throw new ExecutionError(`getent passwd ${user} failed (exit ${out.retcode}): ${out.stderr.trim()}`);
  const fields = (out.stdout.split('\n')[0] ?? '').split(':');
  if (fields.length < 7)
    throw new ExecutionError(`getent passwd ${user} printed an entry it cannot be read from: ${out.stdout.trim()}`);
  return {
    name: fields[0] ?? '',
    uid: Number(fields[2]),
    gid: Number(fields[3]),
    gecos: fields[4] ?? '',
    home: fields[5] ?? '',
    shell: fields[6] ?? '',
  };
}

/** `getent group NAME`; undefined when there is no such group. */
export async function lookupGroup(commands: Commands, group: string | number): Promise<GroupEntry | undefined> {
  const out = await commands.run({ argv: ['getent', 'group', String(group)] });
  if (out.retcode === 2) return undefined;
  if (out.retcode !== 0)
    throw new ExecutionError(`getent group ${group} failed (exit ${out.retcode}): ${out.stderr.trim()}`);
  const fields = (out.stdout.split('\n')[0] ?? '').split(':');
  if (fields.length < 4)
    throw new ExecutionError(`getent group ${group} printed an entry it cannot be read from: ${out.stdout.trim()}`);
  return { name: fields[0] ?? '', gid: Number(fields[2]), members: (fields[3] ?? '').split(',').filter(Boolean) };
}

/** The uid of a user given by name or number; numbers need no lookup. */
export async function resolveUid(commands: Commands, user: string | number): Promise<number> {
  if (typeof user === 'number' || /^\d+$/.test(user)) return Number(user);
  const entry = await lookupUser(commands, user);
  if (!entry) throw new ExecutionError(`User ${user} is not available`);
  return entry.uid;
}

export async function resolveGid(commands: Commands, group: string | number): Promise<number> {
  if (typeof group === 'number' || /^\d+$/.test(group)) return Number(group);
  const entry = await lookupGroup(commands, group);
  if (!entry) throw new ExecutionError(`Group ${group} is not available`);
  return entry.gid;
}
