import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import type { GroupEntry } from '../providers/accounts.js';
import { accountToolsMissing, lookupGroup, lookupUser, resolveGid } from '../providers/accounts.js';
import type { CommandOutput, Commands } from '../providers/commands.js';
import { AbsolutePath } from './paths.js';
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
});

const GroupPresent = z.strictObject({ name: AccountName, gid: Id.optional(), system: z.boolean().default(false) });

function failure(what: string, out: CommandOutput): string {
  const detail = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-3).join('\n');
  return detail === '' ? `${what} (exit ${out.retcode})` : `${what}: ${detail}`;
}

/** The supplementary groups `user` is a member of (`getent group` lists every group). */
async function memberOf(commands: Commands, user: string): Promise<string[]> {
  const out = await commands.run({ argv: ['getent', 'group'] });
  if (out.retcode !== 0) throw new Error(`getent group failed (exit ${out.retcode}): ${out.stderr.trim()}`);
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
        const gid = args.gid === undefined ? undefined : await resolveGid(commands, args.gid).catch(() => undefined);
        if (args.gid !== undefined && gid === undefined) missing.push(String(args.gid));
        const current = await lookupUser(commands, args.name);
        if (missing.length > 0) {
          const message = `The following group(s) are not present: ${missing.join(', ')}`;
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
          changes.uid = args.uid;
          argv.push('-u', String(args.uid));
        }
        if (gid !== undefined && current.gid !== gid) {
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
        if (Object.keys(changes).length === 0) return outcome(true, `User ${args.name} is present and up to date`);
        if (call.test)
          return outcome(
            null,
            `The following user attributes are set to be changed: ${Object.keys(changes).join(', ')}`,
            changes,
          );
        argv.push('--', args.name);
        const out = await commands.run({ argv });
        if (out.retcode !== 0) return outcome(false, failure(`Failed to update user ${args.name}`, out));
        return outcome(true, `Updated user ${args.name}`, changes);
      },
    }),
  }),
});

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
          const made = await lookupGroup(commands, args.name);
          return outcome(true, `New group ${args.name} created`, {
            name: args.name,
            gid: made?.gid ?? args.gid ?? null,
          });
        }
        if (args.gid === undefined || current.gid === args.gid)
          return outcome(true, `Group ${args.name} is present and up to date`);
        if (call.test)
          return outcome(null, `Group ${args.name} is set to change gid to ${args.gid}`, { gid: args.gid });
        const out = await commands.run({ argv: ['groupmod', '-g', String(args.gid), '--', args.name] });
        if (out.retcode !== 0) return outcome(false, failure(`Failed to change the gid of group ${args.name}`, out));
        return outcome(true, `Updated group ${args.name}`, { gid: args.gid });
      },
    }),
  }),
});
