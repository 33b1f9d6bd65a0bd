import { mkdir, readFile } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import { writeFileAtomic } from '@phoenix/protocol';
import { aptPackages } from '../../modules/apt.js';
import { readSource } from './file-common.js';
import { AbsolutePath, hostPath, statOrUndefined } from '../../modules/host-paths.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

const Managed = z.strictObject({
  name: z.string().regex(/^(deb|deb-src)\s+\S/, "must be an APT source line ('deb http://... dist comps')"),
  humanname: z.string().optional(),
  file: AbsolutePath.default('/etc/apt/sources.list'),
  dist: z.string().optional(),
  comps: z.union([z.string(), z.array(z.string())]).optional(),
  architectures: z.union([z.string(), z.array(z.string())]).optional(),
  disabled: z.boolean().optional(),
  enabled: z.boolean().optional(),
  key_url: z.string().optional(),
  keyid: z.string().optional(),
  keyserver: z.string().optional(),
  signedby: z.string().optional(),
  aptkey: z.boolean().optional(),
  refresh: z.boolean().optional(),
  refresh_db: z.boolean().optional(),
  clean_file: z.boolean().default(false),
  consolidate: z.boolean().optional(),
});
const Absent = z.strictObject({
  name: z.string().min(1),
  file: AbsolutePath.default('/etc/apt/sources.list'),
  keyid: z.string().optional(),
});

const squash = (line: string) => line.trim().replace(/\s+/g, ' ');
const uncommented = (line: string) => squash(line.replace(/^\s*#\s*/, ''));

async function readLines(path: string): Promise<string[]> {
  if (!(await statOrUndefined(path))) return [];
  const text = await readFile(path, 'utf8');
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Salt's pkgrepo.managed for APT: the source line in its file, an optional key from the file server, then apt-get update. */
async function managed(args: z.output<typeof Managed>, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  if (args.keyid !== undefined || args.keyserver !== undefined)
    return outcome(
      false,
      'keyid/keyserver need a key server, which Phoenix does not reach: serve the key from the file server with key_url: salt://...',
    );
  const disabled = args.disabled ?? (args.enabled === undefined ? false : !args.enabled);
  const line = `${disabled ? '# ' : ''}${squash(args.name)}`;
  const path = hostPath(rt.root, args.file);
  const lines = await readLines(path);
  const at = lines.findIndex((l) => uncommented(l) === squash(args.name));
  const next = args.clean_file ? [line] : [...lines];
  if (!args.clean_file) {
    if (at === -1) next.push(line);
    else next[at] = line;
  }
  const changes: Record<string, unknown> = {};
  if (next.join('\n') !== lines.join('\n')) changes.repo = args.name;
  let key: { path: string; content: Buffer } | undefined;
  if (args.key_url !== undefined) {
    if (!args.key_url.startsWith('salt://') && !args.key_url.startsWith('/'))
      return outcome(
        false,
        `key_url ${args.key_url}: Phoenix fetches no URLs; serve the key from the file server (salt://)`,
      );
    const found = await readSource(rt, [args.key_url]);
    if ('error' in found) return outcome(false, found.error);
    const keyPath = hostPath(rt.root, args.signedby ?? posix.join('/etc/apt/keyrings', posix.basename(args.key_url)));
    const existing = (await statOrUndefined(keyPath)) ? await readFile(keyPath) : undefined;
    if (!existing?.equals(found.content)) {
      key = { path: keyPath, content: found.content };
      changes.key_url = args.key_url;
    }
  }
  if (Object.keys(changes).length === 0) return outcome(true, `Package repo '${args.name}' already configured`);
  if (call.test)
    return outcome(
      null,
      `Package repo '${args.name}' would be configured. This may cause pkg states to behave differently than stated if this action is repeated without test=True, due to the differences in the configured repositories.`,
      changes,
    );
  if (key) {
    await mkdir(dirname(key.path), { recursive: true });
    await writeFileAtomic(key.path, key.content, { mode: 0o644 });
  }
  if (changes.repo !== undefined) {
    await mkdir(dirname(path), { recursive: true });
    const current = await statOrUndefined(path);
    await writeFileAtomic(path, Buffer.from(`${next.join('\n')}\n`), { mode: current ? current.mode & 0o7777 : 0o644 });
  }
  if (args.refresh ?? args.refresh_db ?? true) {
    const pm = aptPackages(rt.commands);
    if ((await pm.missing()) === undefined) {
      const out = await pm.refresh();
      if (out.retcode !== 0)
        return outcome(
          false,
          `Configured package repo '${args.name}', but apt-get update failed: ${out.stderr.trim()}`,
          changes,
        );
    }
  }
  return outcome(true, `Configured package repo '${args.name}'`, changes);
}

async function absent(args: z.output<typeof Absent>, call: StateCallContext): Promise<StateOutcome> {
  const path = hostPath(call.rt.root, args.file);
  const lines = await readLines(path);
  const next = lines.filter((l) => uncommented(l) !== squash(args.name));
  if (next.length === lines.length) return outcome(true, `Package repo ${args.name} is absent`);
  if (call.test) return outcome(null, `Package repo ${args.name} is set to be removed`, { repo: args.name });
  await writeFileAtomic(path, Buffer.from(next.length === 0 ? '' : `${next.join('\n')}\n`), { mode: 0o644 });
  return outcome(true, `Removed repository ${args.name}`, { repo: args.name });
}

/** Salt's pkgrepo states for APT sources. */
export const pkgrepoStates: StateModule = Object.freeze({
  name: 'pkgrepo',
  functions: Object.freeze({
    managed: defineState({ schema: Managed, run: managed }),
    absent: defineState({ schema: Absent, run: absent }),
  }),
});
