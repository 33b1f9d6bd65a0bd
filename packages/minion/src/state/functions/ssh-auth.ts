import { chmod, chown, mkdir, readFile } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import { writeFileAtomic } from '@phoenix/protocol';
import { lookupUser } from '../../modules/accounts.js';
import { readSource } from './file-common.js';
import { hostPath, statOrUndefined } from '../../modules/host-paths.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

const KEY_TYPES =
  /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

const Args = z.strictObject({
  name: z.string().min(1),
  user: z.string().min(1),
  enc: z.string().default('ssh-rsa'),
  comment: z.string().default(''),
  source: z.string().default(''),
  options: z.array(z.string()).default([]),
  config: z.string().default('.ssh/authorized_keys'),
  fingerprint_hash_type: z.string().optional(),
  saltenv: z.string().optional(),
});
type Args = z.output<typeof Args>;

interface Key {
  readonly options: string[];
  readonly enc: string;
  readonly key: string;
  readonly comment: string;
}

/** One authorized_keys line: `[options] type key [comment]` (options may quote spaces). */
export function parseKeyLine(line: string): Key | undefined {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (/\s/.test(ch) && !quoted) {
      if (current !== '') fields.push(current);
      current = '';
    } else current += ch;
  }
  if (current !== '') fields.push(current);
  const typeAt = fields.findIndex((field) => KEY_TYPES.test(field));
  if (typeAt === -1 || fields[typeAt + 1] === undefined) return undefined;
  return {
    options:
      typeAt === 0
        ? []
        : (fields
            .slice(0, typeAt)
            .join(' ')
            .match(/(?:[^,"]|"[^"]*")+/g) ?? []),
    enc: fields[typeAt] as string,
    key: fields[typeAt + 1] as string,
    comment: fields.slice(typeAt + 2).join(' '),
  };
}

function formatKey(key: Key): string {
  return `${key.options.length > 0 ? `${key.options.join(',')} ` : ''}${key.enc} ${key.key}${key.comment ? ` ${key.comment}` : ''}`;
}

/** The keys this state is about: `name` (a bare key, or a whole line), or every key in `source`. */
async function wantedKeys(args: Args, call: StateCallContext): Promise<Key[] | string> {
  if (args.source !== '') {
    const found = await readSource(call.rt, [args.source]);
    if ('error' in found) return found.error;
    const keys = found.content
      .toString('utf8')
      .split('\n')
      .map(parseKeyLine)
      .filter((key): key is Key => key !== undefined);
    if (keys.length === 0) return `No valid keys found in ${args.source}`;
    return keys;
  }
  const line = parseKeyLine(args.name);
  if (line)
    return [
      {
        ...line,
        options: args.options.length > 0 ? args.options : line.options,
        comment: line.comment || args.comment,
      },
    ];
  if (/\s/.test(args.name.trim())) return `Invalid public ssh key: ${args.name}`;
  return [{ options: args.options, enc: args.enc, key: args.name.trim(), comment: args.comment }];
}

async function keyFile(
  args: Args,
  call: StateCallContext,
): Promise<{ path: string; uid: number; gid: number } | string> {
  const user = await lookupUser(call.rt.commands, args.user).catch(() => undefined);
  if (!user) return `User ${args.user} does not exist`;
  const config = args.config.replace(/%h/g, user.home).replace(/%u/g, args.user);
  const name = config.startsWith('/') ? config : posix.join(user.home, config);
  return { path: hostPath(call.rt.root, name), uid: user.uid, gid: user.gid };
}

async function readKeys(path: string): Promise<string[]> {
  if (!(await statOrUndefined(path))) return [];
  const text = await readFile(path, 'utf8');
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

async function writeKeys(file: { path: string; uid: number; gid: number }, lines: readonly string[]): Promise<void> {
  const dir = dirname(file.path);
  if (!(await statOrUndefined(dir))) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chown(dir, file.uid, file.gid).catch(() => undefined);
  }
  await writeFileAtomic(file.path, Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`), { mode: 0o600 });
  await chmod(file.path, 0o600);
  await chown(file.path, file.uid, file.gid).catch(() => undefined);
}

async function present(args: Args, call: StateCallContext): Promise<StateOutcome> {
  const keys = await wantedKeys(args, call);
  if (typeof keys === 'string') return outcome(false, keys);
  const file = await keyFile(args, call);
  if (typeof file === 'string') return outcome(false, file);
  const lines = await readKeys(file.path);
  const changes: Record<string, string> = {};
  const next = [...lines];
  for (const key of keys) {
    const at = next.findIndex((line) => parseKeyLine(line)?.key === key.key);
    const wanted = formatKey(key);
    if (at === -1) {
      next.push(wanted);
      changes[key.key] = 'New';
    } else if (next[at] !== wanted) {
      const existing = parseKeyLine(next[at] as string) as Key;
      if (
        existing.enc !== key.enc ||
        existing.options.join(',') !== key.options.join(',') ||
        existing.comment !== key.comment
      ) {
        next[at] = wanted;
        changes[key.key] = 'Updated';
      }
    }
  }
  const label = keys.length === 1 ? keys[0]?.key : args.source;
  if (Object.keys(changes).length === 0)
    return outcome(true, `The authorized host key ${label} is already present for user ${args.user}`);
  if (call.test) {
    const verb = Object.values(changes).includes('New') ? 'added' : 'updated';
    return outcome(null, `Key ${label} for user ${args.user} is set to be ${verb}`, changes);
  }
  await writeKeys(file, next);
  const verb = Object.values(changes).includes('New') ? 'added' : 'updated';
  return outcome(true, `The authorized host key ${label} for user ${args.user} was ${verb}`, changes);
}

async function absent(args: Args, call: StateCallContext): Promise<StateOutcome> {
  const keys = await wantedKeys(args, call);
  if (typeof keys === 'string') return outcome(false, keys);
  const file = await keyFile(args, call);
  if (typeof file === 'string') return outcome(false, file);
  const lines = await readKeys(file.path);
  const gone = new Set(keys.map((key) => key.key));
  const next = lines.filter((line) => !gone.has(parseKeyLine(line)?.key ?? '\0'));
  if (next.length === lines.length) return outcome(true, 'Key not present');
  const changes = Object.fromEntries(
    keys.filter((key) => lines.some((l) => parseKeyLine(l)?.key === key.key)).map((key) => [key.key, 'Removed']),
  );
  if (call.test)
    return outcome(null, `Key ${keys[0]?.key ?? args.name} for user ${args.user} is set for removal`, changes);
  await writeKeys(file, next);
  return outcome(true, 'Key removed', changes);
}

/** Salt's ssh_auth states: keys in a user's authorized_keys (home from getent, under the runtime's root). */
export const sshAuthStates: StateModule = Object.freeze({
  name: 'ssh_auth',
  functions: Object.freeze({
    present: defineState({ schema: Args, run: present }),
    absent: defineState({ schema: Args, run: absent }),
  }),
});
