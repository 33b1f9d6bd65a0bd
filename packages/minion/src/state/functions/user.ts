import { ExecutionError } from '../../modules/errors.js';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import type { GroupEntry } from '../../modules/accounts.js';
import { accountToolsMissing, lookupGroup, lookupUser, resolveGid } from '../../modules/accounts.js';
import type { CommandOutput, Commands } from '../../modules/commands.js';
import { AbsolutePath } from '../../modules/host-paths.js';
import { defineState, outcome } from './types.js';
import type { StateModule, StateRuntime } from './types.js';

const AccountName = z
  .string()
  .regex(/^[a-z_][a-z0-9_.-]*\$?$/i, 'is not a user or group name')
  .max(32);
const Id = z.number().int().min(0);

const UserPresent = z.strictObject({
  name: AccountName,
  uid: Id.optional(),
  gid: z.union([Id, AccountName]).optional(),
  groups: z.array(AccountName).optional(),
  /** With `groups`: false keeps supplementary groups that are not listed. */
  remove_groups: z.boolean().default(true),
  home: AbsolutePath.optional(),
  shell: AbsolutePath.optional(),
  fullname: z
    .string()
    .refine((s) => !/[:\n]/.test(s), 'must not contain ":" or a newline')
    .optional(),
  system: z.boolean().default(false),
  createhome: z.boolean().default(true),
  /** A crypt(3) hash, as Salt takes it (hash_password: True hashes a plain one; not supported). */
  password: z.string().optional(),
  enforce_password: z.boolean().default(true),
  empty_password: z.boolean().default(false),
  optional_groups: z.array(AccountName).optional(),
  usergroup: z.boolean().optional(),
  gid_from_name: z.boolean().optional(),
  allow_uid_change: z.boolean().default(false),
  allow_gid_change: z.boolean().default(false),
  unique: z.boolean().optional(),
  nologinit: z.boolean().optional(),
  roomnumber: z.string().optional(),
  workphone: z.string().optional(),
  homephone: z.string().optional(),
  other: z.string().optional(),
  loginclass: z.string().optional(),
  expire: z.union([z.string(), z.number()]).optional(),
  mindays: z.number().optional(),
  maxdays: z.number().optional(),
  inactdays: z.number().optional(),
  warndays: z.number().optional(),
});

const UserAbsent = z.strictObject({
  name: AccountName,
  purge: z.boolean().default(false),
  force: z.boolean().default(false),
});

const GroupPresent = z.strictObject({
  name: AccountName,
  gid: Id.optional(),
  system: z.boolean().default(false),
  members: z.array(AccountName).optional(),
  addusers: z.array(AccountName).optional(),
  delusers: z.array(AccountName).optional(),
  local: z.boolean().optional(),
  non_unique: z.boolean().optional(),
});
const GroupAbsent = z.strictObject({ name: AccountName, local: z.boolean().optional() });

function failure(what: string, out: CommandOutput): string {
  const detail = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-3).join('\n');
  return detail === '' ? `${what} (exit ${out.retcode})` : `${what}: ${detail}`;
}

/** The supplementary groups `user` is a member of (`getent group` lists every group). */
async function memberOf(commands: Commands, user: string): Promise<string[]> {
  const out = await commands.run({ argv: ['getent', 'group'] });
  if (out.retcode !== 0) throw new ExecutionError(`getent group failed (exit ${out.retcode}): ${out.stderr.trim()}`);
  return out.stdout
    .split('\n')
    .map((line) => line.split(':'))
    .filter((fields) => (fields[3] ?? '').split(',').includes(user))
    .map((fields) => fields[0] ?? '')
    .sort();
}

/** Salt's user.present and group.present with getent and the shadow utilities (useradd, groupadd...). */
export const userStates: StateModule = Object.freeze({
  name: 'user',
  available: (rt: StateRuntime) => accountToolsMissing(rt.commands, ['getent', 'useradd', 'usermod']),
  functions: Object.freeze({
    present: defineState({
      schema: UserPresent,
      run: async (args, call): Promise<StateOutcome> => {
        const { commands } = call.rt;
        const missing: string[] = [];
        for (const group of args.groups ?? []) if (!(await lookupGroup(commands, group))) missing.push(group);
        // optional_groups: those that exist are wanted, the others are skipped quietly (Salt's rule).
        for (const group of args.optional_groups ?? []) {
          if (await lookupGroup(commands, group)) {
            args = { ...args, groups: [...(args.groups ?? []), group] };
          }
        }
        const gid = args.gid === undefined ? undefined : await resolveGid(commands, args.gid).catch(() => undefined);
        if (args.gid !== undefined && gid === undefined) missing.push(String(args.gid));
        const current = await lookupUser(commands, args.name);
        if (missing.length > 0) {
          const message = `The following group(s) are not present: ${[...new Set(missing)].join(', ')}`;
          // With test=True, a group.present before this state may be about to create them.
          if (!call.test) return outcome(false, message);
          return outcome(
            null,
            `${message}; test=True: a state before it may create them`,
            current ? {} : { name: args.name },
          );
        }
        if (!current) {
          const wanted = {
            ...(args.uid === undefined ? {} : { uid: args.uid }),
            ...(gid === undefined ? {} : { gid }),
            ...(args.home === undefined ? {} : { home: args.home }),
            ...(args.shell === undefined ? {} : { shell: args.shell }),
            ...(args.groups === undefined ? {} : { groups: [...args.groups].sort() }),
          };
          if (call.test) return outcome(null, `User ${args.name} set to be added`, { name: args.name, ...wanted });
          const argv = ['useradd'];
          if (args.uid !== undefined) argv.push('-u', String(args.uid));
          if (gid !== undefined) argv.push('-g', String(gid));
          if (args.groups !== undefined && args.groups.length > 0) argv.push('-G', args.groups.join(','));
          if (args.home !== undefined) argv.push('-d', args.home);
          if (args.shell !== undefined) argv.push('-s', args.shell);
          if (args.fullname !== undefined) argv.push('-c', args.fullname);
          if (args.system) argv.push('-r');
          if (args.password !== undefined) argv.push('-p', args.password);
          else if (args.empty_password) argv.push('-p', '');
          argv.push(args.createhome ? '-m' : '-M', '--', args.name);
          const out = await commands.run({ argv });
          if (out.retcode !== 0) return outcome(false, failure(`Failed to create new user ${args.name}`, out));
          const made = await lookupUser(commands, args.name);
          if (!made) return outcome(false, `useradd succeeded but user ${args.name} is not present`);
          const changes = {
            name: made.name,
            uid: made.uid,
            gid: made.gid,
            home: made.home,
            shell: made.shell,
            groups: await memberOf(commands, args.name),
          };
          return outcome(true, `New user ${args.name} created`, changes);
        }
        const changes: Record<string, unknown> = {};
        const argv = ['usermod'];
        if (args.uid !== undefined && current.uid !== args.uid) {
          if (!args.allow_uid_change)
            return outcome(
              false,
              `Changing the uid of user ${args.name} from ${current.uid} to ${args.uid} is not allowed (set allow_uid_change: True)`,
            );
          changes.uid = args.uid;
          argv.push('-u', String(args.uid));
        }
        if (gid !== undefined && current.gid !== gid) {
          if (!args.allow_gid_change)
            return outcome(
              false,
              `Changing the gid of user ${args.name} from ${current.gid} to ${gid} is not allowed (set allow_gid_change: True)`,
            );
          changes.gid = gid;
          argv.push('-g', String(gid));
        }
        if (args.home !== undefined && current.home !== args.home) {
          changes.home = args.home;
          argv.push('-d', args.home);
        }
        if (args.shell !== undefined && current.shell !== args.shell) {
          changes.shell = args.shell;
          argv.push('-s', args.shell);
        }
        if (args.groups !== undefined) {
          const have = await memberOf(commands, args.name);
          const want = args.remove_groups
            ? [...new Set(args.groups)].sort()
            : [...new Set([...have, ...args.groups])].sort();
          if (want.join(',') !== have.join(',')) {
            changes.groups = want;
            argv.push('-G', want.join(','));
          }
        }
        if (args.fullname !== undefined && current.gecos.split(',')[0] !== args.fullname) {
          changes.fullname = args.fullname;
          argv.push('-c', args.fullname);
        }
        if (args.password !== undefined && args.enforce_password) {
          const shadow = await lookupShadowHash(commands, args.name);
          if (shadow !== undefined && shadow !== args.password) {
            changes.passwd = 'XXX-REDACTED-XXX';
            argv.push('-p', args.password);
          }
        }
        if (Object.keys(changes).length === 0) return outcome(true, `User ${args.name} is present and up to date`);
        if (call.test)
          return outcome(
            null,
            `The following user attributes are set to be changed:\n${Object.entries(changes)
              .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(', ') : String(value)}\n`)
              .join('')}`,
            changes,
          );
        argv.push('--', args.name);
        const out = await commands.run({ argv });
        if (out.retcode !== 0) return outcome(false, failure(`Failed to update user ${args.name}`, out));
        return outcome(true, `Updated user ${args.name}`, changes);
      },
    }),
    absent: defineState({
      schema: UserAbsent,
      run: async (args, call): Promise<StateOutcome> => {
        const { commands } = call.rt;
        if (!(await lookupUser(commands, args.name))) return outcome(true, 'User not present');
        if (call.test) return outcome(null, `User ${args.name} set for removal`, { [args.name]: 'removed' });
        if (!(await commands.which('userdel'))) return outcome(false, 'userdel not found on PATH');
        const out = await commands.run({
          argv: ['userdel', ...(args.purge ? ['-r'] : []), ...(args.force ? ['-f'] : []), '--', args.name],
        });
        if (out.retcode !== 0) return outcome(false, failure(`Failed to remove user ${args.name}`, out));
        return outcome(true, `Removed user ${args.name}`, { [args.name]: 'removed' });
      },
    }),
  }),
});

/** The password hash `getent shadow` shows, or undefined when it cannot be read. */
async function lookupShadowHash(commands: Commands, user: string): Promise<string | undefined> {
  const out = await commands.run({ argv: ['getent', 'shadow', user] });
  if (out.retcode !== 0) return undefined;
  return out.stdout.split('\n')[0]?.split(':')[1];
}

export const groupStates: StateModule = Object.freeze({
  name: 'group',
  available: (rt: StateRuntime) => accountToolsMissing(rt.commands, ['getent', 'groupadd', 'groupmod']),
  functions: Object.freeze({
    present: defineState({
      schema: GroupPresent,
      run: async (args, call): Promise<StateOutcome> => {
        const { commands } = call.rt;
        const current: GroupEntry | undefined = await lookupGroup(commands, args.name);
        if (!current) {
          if (call.test)
            return outcome(null, `Group ${args.name} set to be added`, {
              name: args.name,
              ...(args.gid === undefined ? {} : { gid: args.gid }),
            });
          const argv = [
            'groupadd',
            ...(args.gid === undefined ? [] : ['-g', String(args.gid)]),
            ...(args.system ? ['-r'] : []),
            '--',
            args.name,
          ];
          const out = await commands.run({ argv });
          if (out.retcode !== 0) return outcome(false, failure(`Failed to create new group ${args.name}`, out));
          const members = wantedMembers([], args);
          if (members !== undefined && members.length > 0) {
            const error = await setMembers(commands, args.name, members);
            if (error) return outcome(false, error, { name: args.name });
          }
          const made = await lookupGroup(commands, args.name);
          return outcome(true, `New group ${args.name} created`, {
            name: args.name,
            gid: made?.gid ?? args.gid ?? null,
            members: made ? [...made.members] : [],
          });
        }
        const changes: Record<string, unknown> = {};
        if (args.gid !== undefined && current.gid !== args.gid) changes.gid = args.gid;
        const members = wantedMembers(current.members, args);
        if (members !== undefined) changes.members = members;
        if (Object.keys(changes).length === 0) return outcome(true, `Group ${args.name} is present and up to date`);
        if (call.test)
          return outcome(
            null,
            `The following group attributes are set to be changed:\n${Object.entries(changes)
              .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(',') : String(value)}\n`)
              .join('')}`,
            changes,
          );
        if (changes.gid !== undefined) {
          const out = await commands.run({ argv: ['groupmod', '-g', String(args.gid), '--', args.name] });
          if (out.retcode !== 0) return outcome(false, failure(`Failed to change the gid of group ${args.name}`, out));
        }
        if (members !== undefined) {
          const error = await setMembers(commands, args.name, members);
          if (error) return outcome(false, error, changes.gid === undefined ? {} : { gid: changes.gid });
        }
        return outcome(true, `Updated group ${args.name}`, changes);
      },
    }),
    absent: defineState({
      schema: GroupAbsent,
      run: async (args, call): Promise<StateOutcome> => {
        const { commands } = call.rt;
        if (!(await lookupGroup(commands, args.name))) return outcome(true, 'Group not present');
        if (call.test) return outcome(null, `Group ${args.name} is set for removal`, { [args.name]: '' });
        if (!(await commands.which('groupdel'))) return outcome(false, 'groupdel not found on PATH');
        const out = await commands.run({ argv: ['groupdel', '--', args.name] });
        if (out.retcode !== 0) return outcome(false, failure(`Failed to remove group ${args.name}`, out));
        return outcome(true, `Removed group ${args.name}`, { [args.name]: '' });
      },
    }),
  }),
});

/** The member list group.present wants (members replaces, addusers/delusers edit), or undefined: no change. */
function wantedMembers(
  current: readonly string[],
  args: { members?: string[] | undefined; addusers?: string[] | undefined; delusers?: string[] | undefined },
): string[] | undefined {
  const have = [...current].sort();
  let want: string[];
  if (args.members !== undefined) want = [...new Set(args.members)].sort();
  else if (args.addusers !== undefined || args.delusers !== undefined) {
    const set = new Set(have);
    for (const user of args.addusers ?? []) set.add(user);
    for (const user of args.delusers ?? []) set.delete(user);
    want = [...set].sort();
  } else return undefined;
  return want.join(',') === have.join(',') ? undefined : want;
}

async function setMembers(commands: Commands, group: string, members: readonly string[]): Promise<string | undefined> {
  if (!(await commands.which('gpasswd'))) return 'gpasswd not found on PATH (needed to set group members)';
  const out = await commands.run({ argv: ['gpasswd', '-M', members.join(','), group] });
  return out.retcode === 0 ? undefined : failure(`Failed to set the members of group ${group}`, out);
}
