import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import { writeFileAtomic } from '@phoenix/protocol';
import { hostPath, statOrUndefined } from '../../modules/host-paths.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

const HOSTS = '/etc/hosts';
const HostName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'is not a host name');
const Ip = z.string().refine((ip) => isIP(ip) !== 0, 'is not an IP address');
const Ips = z.union([Ip, z.array(Ip).min(1)]).transform((value) => (Array.isArray(value) ? value : [value]));

const Present = z.strictObject({
  name: HostName,
  names: z.array(HostName).optional(),
  ip: Ips,
  clean: z.boolean().default(false),
  comment: z.string().optional(),
});
const Absent = z.strictObject({ name: HostName, names: z.array(HostName).optional(), ip: Ips });

interface HostLine {
  readonly text: string;
  readonly ip?: string;
  readonly names?: string[];
  readonly comment?: string;
}

function parse(text: string): HostLine[] {
  return text
    .split('\n')
    .slice(0, text.endsWith('\n') ? -1 : undefined)
    .map((line) => {
      const hash = line.indexOf('#');
      const body = (hash === -1 ? line : line.slice(0, hash)).trim();
      const fields = body.split(/\s+/).filter(Boolean);
      if (fields.length < 2 || isIP(fields[0] as string) === 0) return { text: line };
      return {
        text: line,
        ip: fields[0] as string,
        names: fields.slice(1),
        ...(hash === -1 ? {} : { comment: line.slice(hash + 1).trim() }),
      };
    });
}

function render(lines: readonly HostLine[]): string {
  return lines
    .map((line) =>
      line.ip === undefined || line.names === undefined || line.text !== ''
        ? line.text
        : `${line.ip}\t\t${line.names.join(' ')}${line.comment ? ` # ${line.comment}` : ''}`,
    )
    .map((line) => `${line}\n`)
    .join('');
}

async function load(call: StateCallContext): Promise<{ path: string; lines: HostLine[]; before: string }> {
  const path = hostPath(call.rt.root, HOSTS);
  const before = (await statOrUndefined(path)) ? await readFile(path, 'utf8') : '';
  return { path, lines: parse(before), before };
}

async function save(path: string, lines: readonly HostLine[]): Promise<void> {
  const current = await statOrUndefined(path);
  await writeFileAtomic(path, Buffer.from(render(lines)), { mode: current ? current.mode & 0o7777 : 0o644 });
}

/** Salt's host.present: each name on each ip in /etc/hosts (with clean, on no other ip). */
async function present(args: z.output<typeof Present>, call: StateCallContext): Promise<StateOutcome> {
  const names = args.names ?? [args.name];
  const { path, lines } = await load(call);
  const added: Record<string, string[]> = {};
  const removed: Record<string, string[]> = {};
  const comments: string[] = [];
  let next = [...lines];
  for (const name of names) {
    for (const ip of args.ip) {
      const hit = next.findIndex((line) => line.ip === ip && line.names?.includes(name));
      if (hit !== -1) {
        comments.push(`Host ${name} (${ip}) already present`);
        continue;
      }
      (added[ip] ??= []).push(name);
      comments.push(`${call.test ? `Host ${name} (${ip}) would be added` : `Added host ${name} (${ip})`}`);
      const same = next.findIndex((line) => line.ip === ip);
      if (same !== -1) {
        const line = next[same] as HostLine;
        next[same] = { ...line, text: '', names: [...(line.names ?? []), name] };
      } else
        next.push({ text: '', ip, names: [name], ...(args.comment === undefined ? {} : { comment: args.comment }) });
    }
    if (args.clean) {
      next = next
        .map((line) => {
          if (line.ip === undefined || args.ip.includes(line.ip) || !line.names?.includes(name)) return line;
          (removed[line.ip] ??= []).push(name);
          comments.push(
            `${call.test ? `Host ${name} (${line.ip}) would be removed` : `Removed host ${name} (${line.ip})`}`,
          );
          return { ...line, text: '', names: line.names.filter((n) => n !== name) };
        })
        .filter((line) => line.ip === undefined || (line.names?.length ?? 0) > 0);
    }
  }
  const changes: Record<string, unknown> = {};
  if (Object.keys(added).length > 0) changes.added = added;
  if (Object.keys(removed).length > 0) changes.removed = removed;
  if (Object.keys(changes).length === 0) return outcome(true, comments.join('\n'));
  if (call.test) return outcome(null, comments.join('\n'), changes);
  await save(path, next);
  return outcome(true, comments.join('\n'), changes);
}

async function absent(args: z.output<typeof Absent>, call: StateCallContext): Promise<StateOutcome> {
  const names = args.names ?? [args.name];
  const { path, lines } = await load(call);
  const removed: Record<string, string[]> = {};
  const comments: string[] = [];
  const next = lines
    .map((line) => {
      if (line.ip === undefined || !args.ip.includes(line.ip)) return line;
      const gone = (line.names ?? []).filter((n) => names.includes(n));
      if (gone.length === 0) return line;
      for (const name of gone) {
        (removed[line.ip] ??= []).push(name);
        comments.push(call.test ? `Host ${name} (${line.ip}) would be removed` : `Removed host ${name} (${line.ip})`);
      }
      return { ...line, text: '', names: (line.names ?? []).filter((n) => !names.includes(n)) };
    })
    .filter((line) => line.ip === undefined || (line.names?.length ?? 0) > 0);
  if (Object.keys(removed).length === 0) {
    return outcome(
      true,
      names.flatMap((name) => args.ip.map((ip) => `Host ${name} (${ip}) already absent`)).join('\n'),
    );
  }
  if (call.test) return outcome(null, comments.join('\n'), { removed });
  await save(path, next);
  return outcome(true, comments.join('\n'), { removed });
}

/** Salt's host states: entries of /etc/hosts (under the runtime's root). */
export const hostStates: StateModule = Object.freeze({
  name: 'host',
  functions: Object.freeze({
    present: defineState({ schema: Present, run: present }),
    absent: defineState({ schema: Absent, run: absent }),
  }),
});
