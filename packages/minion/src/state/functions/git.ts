import { mkdir, readdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import type { CommandOutput } from '../../modules/commands.js';
import { AbsolutePath, hostPath, statOrUndefined } from '../../modules/host-paths.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule, StateRuntime } from './types.js';

const Latest = z.strictObject({
  name: z.string().min(1),
  target: AbsolutePath,
  rev: z.union([z.string(), z.number()]).transform(String).default('HEAD'),
  branch: z.string().min(1).optional(),
  user: z.string().optional(),
  remote: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/)
    .default('origin'),
  force_clone: z.boolean().default(false),
  force_checkout: z.boolean().default(false),
  force_fetch: z.boolean().default(false),
  force_reset: z.union([z.boolean(), z.literal('remote-changes')]).default(false),
  submodules: z.boolean().default(false),
  bare: z.boolean().default(false),
  mirror: z.boolean().default(false),
  fetch_tags: z.boolean().default(true),
  sync_tags: z.boolean().optional(),
  depth: z.number().int().positive().optional(),
  identity: z.union([z.string(), z.array(z.string())]).optional(),
  https_user: z.string().optional(),
  https_pass: z.string().optional(),
  update_head: z.boolean().default(true),
  refspec_branch: z.string().optional(),
  refspec_tag: z.string().optional(),
  output_encoding: z.string().optional(),
});
type Latest = z.output<typeof Latest>;

function gitError(what: string, out: CommandOutput): string {
  return `${what}: ${(out.stderr.trim() || out.stdout.trim() || `exit ${out.retcode}`).split('\n').slice(-3).join('\n')}`;
}

/** What `rev` names on the remote: a branch, a tag or a commit; its commit. */
async function resolveRemote(
  git: (args: string[], cwd?: string) => Promise<CommandOutput>,
  url: string,
  rev: string,
): Promise<{ sha: string; branch?: string } | string> {
  if (/^[0-9a-f]{40}$/i.test(rev)) return { sha: rev.toLowerCase() };
  const out = await git([
    'ls-remote',
    '--symref',
    url,
    ...(rev === 'HEAD' ? ['HEAD'] : [rev, `refs/heads/${rev}`, `refs/tags/${rev}`, `refs/tags/${rev}^{}`]),
  ]);
  if (out.retcode !== 0) return gitError(`Failed to check remote ${url}`, out);
  let sha: string | undefined;
  let branch: string | undefined;
  let tagSha: string | undefined;
  for (const line of out.stdout.split('\n')) {
    const symref = /^ref: refs\/heads\/(\S+)\s+HEAD$/.exec(line);
    if (symref) branch = symref[1];
    const [hash, ref] = line.split('\t');
    if (!hash || !ref || hash.startsWith('ref:')) continue;
    if (ref === 'HEAD' || ref === `refs/heads/${rev}`) {
      sha = hash;
      if (ref !== 'HEAD') branch = rev;
    } else if (ref === `refs/tags/${rev}^{}`) tagSha = hash;
    else if (ref === `refs/tags/${rev}` && tagSha === undefined) tagSha = hash;
  }
  sha = sha ?? tagSha;
  if (sha === undefined) return `No revision matching '${rev}' exists in the remote repository`;
  return { sha, ...(branch === undefined ? {} : { branch }) };
}

/** Salt's git.latest with the system git: clone, or fetch and move to `rev` (local changes refuse unless force_reset). */
async function latest(args: Latest, call: StateCallContext): Promise<StateOutcome> {
  const { rt } = call;
  const target = hostPath(rt.root, args.target);
  const git = (gitArgs: string[], cwd?: string) =>
    rt.commands.run({ argv: ['git', ...gitArgs], cwd: cwd ?? rt.root, env: { GIT_TERMINAL_PROMPT: '0' } });
  const remote = await resolveRemote(git, args.name, args.rev);
  if (typeof remote === 'string') return outcome(false, remote);
  const branch = args.branch ?? remote.branch;
  const info = await statOrUndefined(target);
  const isRepo = info?.isDirectory() === true && (await statOrUndefined(`${target}/.git`)) !== undefined;
  const empty = info === undefined || (info.isDirectory() && (await readdir(target)).length === 0);
  if (!isRepo && !empty && !args.force_clone)
    return outcome(
      false,
      `Target '${args.target}' exists, is non-empty and is not a git repository. Set the 'force_clone' option to True to remove this directory's contents and proceed with cloning the remote repository`,
    );
  if (!isRepo) {
    const changes = { new: `${args.name} => ${args.target}`, revision: { old: null, new: remote.sha } };
    if (call.test) return outcome(null, `${args.name} would be cloned to ${args.target}`, changes);
    if (!empty) {
      for (const entry of await readdir(target))
        await rt.commands.run({ argv: ['rm', '-rf', '--', `${target}/${entry}`] });
    }
    await mkdir(dirname(target), { recursive: true });
    const clone = await git([
      'clone',
      '--origin',
      args.remote,
      ...(args.depth === undefined ? [] : ['--depth', String(args.depth)]),
      ...(branch === undefined ? [] : ['--branch', branch]),
      ...(args.bare ? ['--bare'] : args.mirror ? ['--mirror'] : []),
      '--',
      args.name,
      target,
    ]);
    if (clone.retcode !== 0) return outcome(false, gitError(`Clone of ${args.name} failed`, clone));
    if (!args.bare && !args.mirror) {
      const checkout = await git(['checkout', '--quiet', branch ?? remote.sha], target);
      if (checkout.retcode !== 0) return outcome(false, gitError(`Checkout of ${args.rev} failed`, checkout));
      if (branch === undefined) await git(['checkout', '--quiet', '--detach', remote.sha], target);
      if (args.submodules) await git(['submodule', 'update', '--init', '--recursive'], target);
    }
    return outcome(true, `${args.name} cloned to ${args.target}`, changes);
  }
  const head = (await git(['rev-parse', 'HEAD'], target)).stdout.trim() || null;
  const url = (await git(['config', '--get', `remote.${args.remote}.url`], target)).stdout.trim();
  const changes: Record<string, unknown> = {};
  if (url !== args.name) changes.remotes = { old: url || null, new: args.name };
  if (head !== remote.sha) changes.revision = { old: head, new: remote.sha };
  if (Object.keys(changes).length === 0) return outcome(true, `Repository ${args.target} is up-to-date`);
  const dirty = (await git(['status', '--porcelain', '--untracked-files=no'], target)).stdout.trim() !== '';
  if (dirty && !args.force_reset && head !== remote.sha)
    return outcome(
      false,
      `Repository ${args.target} has local changes: set force_reset: True to discard them and move to ${args.rev}`,
    );
  if (call.test)
    return outcome(
      null,
      head === remote.sha
        ? `Remote '${args.remote}' would be changed to ${args.name}`
        : `Repository ${args.target} would be updated from ${head?.slice(0, 7)} to ${remote.sha.slice(0, 7)}`,
      changes,
    );
  if (changes.remotes !== undefined) await git(['remote', 'set-url', args.remote, args.name], target);
  if (changes.revision !== undefined) {
    const fetch = await git(
      [
        'fetch',
        ...(args.fetch_tags ? ['--tags'] : []),
        args.remote,
        ...(branch === undefined ? [] : [`+refs/heads/${branch}:refs/remotes/${args.remote}/${branch}`]),
      ],
      target,
    );
    if (fetch.retcode !== 0) return outcome(false, gitError(`Fetch from ${args.name} failed`, fetch));
    if (branch !== undefined) {
      const move = await git(
        [
          'checkout',
          '--quiet',
          ...(args.force_checkout || args.force_reset ? ['--force'] : []),
          '-B',
          branch,
          `${args.remote}/${branch}`,
        ],
        target,
      );
      if (move.retcode !== 0) return outcome(false, gitError(`Checkout of ${branch} failed`, move));
      if (args.force_reset) await git(['reset', '--hard', `${args.remote}/${branch}`], target);
    } else {
      const move = await git(['checkout', '--quiet', '--force', '--detach', remote.sha], target);
      if (move.retcode !== 0) return outcome(false, gitError(`Checkout of ${args.rev} failed`, move));
    }
    if (args.submodules) await git(['submodule', 'update', '--init', '--recursive'], target);
  }
  return outcome(true, `Repository ${args.target} updated`, changes);
}

/** Salt's git.latest (the system git on PATH). */
export const gitStates: StateModule = Object.freeze({
  name: 'git',
  available: async (rt: StateRuntime) =>
    (await rt.commands.which('git')) === undefined
      ? 'git not found on PATH (git states use the system git)'
      : undefined,
  functions: Object.freeze({ latest: defineState({ schema: Latest, run: latest }) }),
});
