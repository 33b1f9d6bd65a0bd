import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import type { Commands } from '../../modules/commands.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule, StateRuntime } from './types.js';

/** The line above the entries Salt manages in a crontab (Salt writes the same one). */
const SALT_HEADER = '# Lines below here are managed by Salt, do not edit';
const IDENTIFIER = 'SALT_CRON_IDENTIFIER:';

const Field = z.union([z.string(), z.number()]).transform(String).default('*');
const User = z
  .string()
  .regex(/^[a-z_][a-z0-9_.-]*$/i, 'is not a user name')
  .default('root');

const Present = z.strictObject({
  name: z.string().min(1),
  user: User,
  minute: Field,
  hour: Field,
  daymonth: Field,
  month: Field,
  dayweek: Field,
  comment: z.string().optional(),
  commented: z.boolean().default(false),
  identifier: z.union([z.string(), z.literal(false)]).optional(),
  special: z
    .string()
    .regex(/^@\w+$/)
    .optional(),
});
const Absent = z.strictObject({
  name: z.string().min(1),
  user: User,
  identifier: z.union([z.string(), z.literal(false)]).optional(),
  special: z.string().optional(),
});
const EnvPresent = z.strictObject({
  name: z.string().regex(/^[A-Za-z_]\w*$/),
  value: z.union([z.string(), z.number()]).transform(String),
  user: User,
});
const EnvAbsent = z.strictObject({ name: z.string().regex(/^[A-Za-z_]\w*$/), user: User });

interface CronEntry {
  kind: 'cron' | 'env' | 'other';
  lines: string[];
  cmd?: string;
  identifier?: string;
  envName?: string;
}

/** A crontab split into the part Salt does not own and its own entries (each with its comment line). */
function parseCrontab(text: string): { pre: string[]; entries: CronEntry[] } {
  const all = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const at = all.indexOf(SALT_HEADER);
  const pre = at === -1 ? all : all.slice(0, at);
  const entries: CronEntry[] = [];
  let pending: string[] = [];
  for (const line of at === -1 ? [] : all.slice(at + 1)) {
    if (line.startsWith('#') && !/^#DISABLED#/.test(line)) {
      pending.push(line);
      continue;
    }
    const body = line.replace(/^#DISABLED#/, '');
    const env = /^([A-Za-z_]\w*)=(.*)$/.exec(body);
    const identifier = pending
      .map((c) => c.split(IDENTIFIER)[1])
      .find((id) => id !== undefined)
      ?.trim();
    if (env) entries.push({ kind: 'env', lines: [...pending, line], envName: env[1] as string });
    else {
      const cmd = body.startsWith('@') ? body.split(/\s+/).slice(1).join(' ') : body.split(/\s+/).slice(5).join(' ');
      entries.push({
        kind: 'cron',
        lines: [...pending, line],
        cmd,
        ...(identifier === undefined ? {} : { identifier }),
      });
    }
    pending = [];
  }
  if (pending.length > 0) entries.push({ kind: 'other', lines: pending });
  return { pre, entries };
}

function renderCrontab(pre: readonly string[], entries: readonly CronEntry[]): string {
  const lines = [...pre, ...(entries.length > 0 ? [SALT_HEADER, ...entries.flatMap((e) => e.lines)] : [])];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

async function readCrontab(commands: Commands, user: string): Promise<string> {
  const out = await commands.run({ argv: ['crontab', '-l', '-u', user] });
  // "no crontab for USER" is an empty crontab.
  return out.retcode === 0 ? out.stdout : '';
}

async function writeCrontab(commands: Commands, user: string, text: string): Promise<string | undefined> {
  const out = await commands.run({ argv: ['crontab', '-u', user, '-'], input: text });
  return out.retcode === 0 ? undefined : `crontab -u ${user} failed: ${out.stderr.trim() || `exit ${out.retcode}`}`;
}

function cronLines(args: z.output<typeof Present>, identifier: string | undefined): string[] {
  const when = args.special ?? [args.minute, args.hour, args.daymonth, args.month, args.dayweek].join(' ');
  const comment = [args.comment, identifier === undefined ? undefined : `${IDENTIFIER}${identifier}`]
    .filter(Boolean)
    .join(' ');
  return [...(comment === '' ? [] : [`# ${comment}`]), `${args.commented ? '#DISABLED#' : ''}${when} ${args.name}`];
}

async function edit(
  call: StateCallContext,
  user: string,
  change: (entries: CronEntry[]) => { entries: CronEntry[]; verdict: 'unchanged' | 'added' | 'updated' | 'removed' },
  messages: Record<'unchanged' | 'added' | 'updated' | 'removed' | 'test', string>,
  changeValue: unknown,
): Promise<StateOutcome> {
  const { pre, entries } = parseCrontab(await readCrontab(call.rt.commands, user));
  const { entries: next, verdict } = change(entries);
  if (verdict === 'unchanged') return outcome(true, messages.unchanged);
  if (call.test)
    return outcome(
      null,
      messages.test.replace('{verdict}', verdict === 'removed' ? 'removed' : verdict === 'added' ? 'added' : 'updated'),
      { [user]: changeValue },
    );
  const error = await writeCrontab(call.rt.commands, user, renderCrontab(pre, next));
  if (error) return outcome(false, error);
  return outcome(true, messages[verdict], { [user]: changeValue });
}

/** Salt's cron states over `crontab -l/-u` (entries below Salt's header line, identified as Salt does). */
export const cronStates: StateModule = Object.freeze({
  name: 'cron',
  available: async (rt: StateRuntime) =>
    (await rt.commands.which('crontab')) === undefined
      ? 'crontab not found on PATH (cron states edit crontabs with it)'
      : undefined,
  functions: Object.freeze({
    present: defineState({
      schema: Present,
      run: (args, call) => {
        const identifier = args.identifier === false ? undefined : (args.identifier ?? args.name);
        const lines = cronLines(args, args.identifier === undefined ? args.name : identifier);
        return edit(
          call,
          args.user,
          (entries) => {
            const at = entries.findIndex(
              (e) =>
                e.kind === 'cron' &&
                (identifier !== undefined && e.identifier !== undefined
                  ? e.identifier === identifier
                  : e.cmd === args.name),
            );
            if (at === -1) return { entries: [...entries, { kind: 'cron', lines, cmd: args.name }], verdict: 'added' };
            if ((entries[at] as CronEntry).lines.join('\n') === lines.join('\n'))
              return { entries, verdict: 'unchanged' };
            const next = [...entries];
            next[at] = { kind: 'cron', lines, cmd: args.name };
            return { entries: next, verdict: 'updated' };
          },
          {
            unchanged: `Cron ${args.name} already present`,
            added: `Cron ${args.name} added to ${args.user}'s crontab`,
            updated: `Cron ${args.name} updated`,
            removed: '',
            test: `Cron ${args.name} is set to be {verdict}`,
          },
          args.name,
        );
      },
    }),
    absent: defineState({
      schema: Absent,
      run: (args, call) => {
        const identifier = args.identifier === false ? undefined : args.identifier;
        return edit(
          call,
          args.user,
          (entries) => {
            const next = entries.filter(
              (e) =>
                !(
                  e.kind === 'cron' &&
                  (identifier !== undefined
                    ? e.identifier === identifier
                    : e.cmd === args.name || e.identifier === args.name)
                ),
            );
            return { entries: next, verdict: next.length === entries.length ? 'unchanged' : 'removed' };
          },
          {
            unchanged: `Cron ${args.name} already absent from ${args.user}'s crontab`,
            added: '',
            updated: '',
            removed: `Cron ${args.name} removed from ${args.user}'s crontab`,
            test: `Cron ${args.name} is set to be removed`,
          },
          args.name,
        );
      },
    }),
    env_present: defineState({
      schema: EnvPresent,
      run: (args, call) => {
        const line = `${args.name}=${args.value}`;
        return edit(
          call,
          args.user,
          (entries) => {
            const at = entries.findIndex((e) => e.kind === 'env' && e.envName === args.name);
            if (at === -1)
              return { entries: [{ kind: 'env', lines: [line], envName: args.name }, ...entries], verdict: 'added' };
            if ((entries[at] as CronEntry).lines.at(-1) === line) return { entries, verdict: 'unchanged' };
            const next = [...entries];
            next[at] = { kind: 'env', lines: [line], envName: args.name };
            return { entries: next, verdict: 'updated' };
          },
          {
            unchanged: `Cron env ${args.name} already present`,
            added: `Cron env ${args.name} added to ${args.user}'s crontab`,
            updated: `Cron env ${args.name} updated`,
            removed: '',
            test: `Cron env ${args.name} is set to be {verdict}`,
          },
          args.name,
        );
      },
    }),
    env_absent: defineState({
      schema: EnvAbsent,
      run: (args, call) =>
        edit(
          call,
          args.user,
          (entries) => {
            const next = entries.filter((e) => !(e.kind === 'env' && e.envName === args.name));
            return { entries: next, verdict: next.length === entries.length ? 'unchanged' : 'removed' };
          },
          {
            unchanged: `Cron env ${args.name} already absent from ${args.user}'s crontab`,
            added: '',
            updated: '',
            removed: `Cron env ${args.name} removed from ${args.user}'s crontab`,
            test: `Cron env ${args.name} is set to be removed`,
          },
          args.name,
        ),
    }),
  }),
});
