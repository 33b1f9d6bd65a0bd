import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { z } from 'zod';

/**
 * Where a secret comes from: a file on the master, an AWS Secrets Manager secret (its whole string,
 * or one key of its JSON) or an SSM Parameter Store parameter (decrypted). Never the value itself:
 * a config file is read by more people and tools than a secret should be.
 */
export const SecretSourceSchema = z.union([
  z.strictObject({ file: z.string().min(1) }),
  z.strictObject({
    secretsManager: z.string().min(1).max(2048),
    /** The secret holds JSON: use this key of it. */
    key: z.string().min(1).max(256).optional(),
  }),
  z.strictObject({ ssm: z.string().min(1).max(2048) }),
]);
export type SecretSource = z.output<typeof SecretSourceSchema>;

/** What transports git may use: never `ext::` (it runs a command) nor the unauthenticated `git://`. */
const SCHEMES = ['https:', 'http:', 'ssh:', 'file:'];
/** scp-like `user@host:path`, as `git clone` takes it. */
const SCP_LIKE = /^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:(?!\/\/)[^\s]+$/;
/** A branch, tag or commit name: what `git check-ref-format` allows, and never an option. */
const REF = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)[A-Za-z0-9._/+-]{1,200}(?<![./])$/;
/** A name for the remote in `phoenix masters` and the masters table. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type RemoteKind = 'https' | 'ssh' | 'file';

/** The transport of a remote URL; undefined when git should not be handed it. */
export function remoteKind(url: string): RemoteKind | undefined {
  if (url.startsWith('-') || /\s/.test(url)) return undefined;
  if (SCP_LIKE.test(url)) return 'ssh';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (!SCHEMES.includes(parsed.protocol)) return undefined;
  if (parsed.protocol === 'file:') return parsed.host === '' && parsed.pathname.length > 1 ? 'file' : undefined;
  if (parsed.hostname === '') return undefined;
  return parsed.protocol === 'ssh:' ? 'ssh' : 'https';
}

/**
 * One git remote among the directories of an environment in `fileRoots` or `pillarRoots`. It serves
 * `ref` in that environment: by default, in `base` the remote's `main` branch (else `master`), in any
 * other environment the branch named like it, so `dev` gets the `dev` branch (Salt's gitfs mapping).
 */
export const GitRootSchema = z
  .strictObject({
    git: z.string().min(1).max(2048),
    /** A branch, a tag or a full commit id; default: see above. */
    ref: z.string().regex(REF, 'a branch, tag or commit name').optional(),
    /** Serve this directory of the repository instead of its top (Salt's gitfs `root`). */
    root: z.string().min(1).max(1024).optional(),
    /** Shown by `phoenix masters`; default: the repository's name from the URL. */
    name: z.string().regex(NAME, 'letters, digits, ".", "_" or "-"').optional(),
    auth: z
      .strictObject({
        /** HTTPS: a token, sent as the password when the server asks. */
        token: SecretSourceSchema.optional(),
        /** HTTPS: the user name sent with the token (GitHub takes any; GitLab wants `oauth2`). */
        username: z.string().min(1).max(256).default('x-access-token'),
        /** SSH: a private deploy key (OpenSSH format). */
        sshKey: SecretSourceSchema.optional(),
        /** SSH: the server's host keys (a known_hosts file's lines); without them the first key seen is kept. */
        knownHosts: SecretSourceSchema.optional(),
      })
      .optional(),
  })
  .superRefine((entry, ctx) => {
    const kind = remoteKind(entry.git);
    if (kind === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['git'],
        message: 'not a git remote Phoenix fetches: https://, http://, ssh://, user@host:path or file:///path',
      });
      return;
    }
    if (kind !== 'ssh' && /^[a-z]+:\/\/[^/]*@/i.test(entry.git)) {
      ctx.addIssue({
        code: 'custom',
        path: ['git'],
        message: 'a URL must not carry credentials (they would be logged): put the token in auth.token',
      });
    }
    if (entry.auth?.token !== undefined && kind !== 'https') {
      ctx.addIssue({ code: 'custom', path: ['auth', 'token'], message: 'a token is for an https:// remote' });
    }
    if ((entry.auth?.sshKey !== undefined || entry.auth?.knownHosts !== undefined) && kind !== 'ssh') {
      ctx.addIssue({ code: 'custom', path: ['auth'], message: 'sshKey and knownHosts are for an SSH remote' });
    }
    if (entry.root !== undefined) {
      const normalized = posix.normalize(entry.root);
      if (
        entry.root.startsWith('/') ||
        normalized === '..' ||
        normalized.startsWith('../') ||
        entry.root.includes('\0')
      ) {
        ctx.addIssue({ code: 'custom', path: ['root'], message: 'a directory inside the repository' });
      }
    }
    if (entry.name === undefined && !NAME.test(repositoryName(entry.git))) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'the URL gives no usable name: set one' });
    }
  });
export type GitRoot = z.output<typeof GitRootSchema>;

/** A root of an environment: a directory, or a git remote. */
export const RootEntrySchema = z.union([z.string().min(1), GitRootSchema]);
export type RootEntry = z.output<typeof RootEntrySchema>;

export function isGitRoot(entry: RootEntry): entry is GitRoot {
  return typeof entry !== 'string';
}

/** `states` for `https://host/ops/states.git` or `git@host:ops/states.git`. */
export function repositoryName(url: string): string {
  const path = url.replace(/[?#].*$/, '').replace(/\/+$/, '');
  const last = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf(':')) + 1);
  return last.replace(/\.git$/, '');
}

export type TreeKind = 'file' | 'pillar';

/**
 * One git root as configured in one environment: the unit whose commit the cluster agrees on.
 * `key` (`file:base:states`) names it in the masters table, in revisions and in `phoenix masters`.
 */
export interface GitSource {
  readonly key: string;
  readonly kind: TreeKind;
  readonly env: string;
  readonly name: string;
  readonly url: string;
  /** The configured ref; undefined: the environment's default branch. */
  readonly ref: string | undefined;
  readonly root: string;
  readonly auth: GitRoot['auth'];
  /** Where in the config: `fileRoots.base.1`, for messages. */
  readonly where: string;
}

/** The git roots of both trees, in configured order; a duplicate key is a config error naming it. */
export function gitSources(
  fileRoots: Readonly<Record<string, readonly RootEntry[]>>,
  pillarRoots: Readonly<Record<string, readonly RootEntry[]>>,
): { sources: GitSource[]; problems: string[] } {
  const sources: GitSource[] = [];
  const problems: string[] = [];
  for (const [kind, roots, label] of [
    ['file', fileRoots, 'fileRoots'],
    ['pillar', pillarRoots, 'pillarRoots'],
  ] as const) {
    for (const [env, entries] of Object.entries(roots)) {
      entries.forEach((entry, index) => {
        if (!isGitRoot(entry)) return;
        const name = entry.name ?? repositoryName(entry.git);
        const key = `${kind}:${env}:${name}`;
        const where = `${label}.${env}.${index}`;
        if (sources.some((s) => s.key === key)) {
          problems.push(`"${where}": a second git remote named "${name}" in ${label}.${env}: give one a name`);
          return;
        }
        sources.push({
          key,
          kind,
          env,
          name,
          url: entry.git,
          ref: entry.ref,
          root:
            entry.root === undefined
              ? ''
              : posix
                  .normalize(entry.root)
                  .replace(/^\.\/?$/, '')
                  .replace(/\/$/, ''),
          auth: entry.auth,
          where,
        });
      });
    }
  }
  return { sources, problems };
}

/** A short stable name for a remote URL on disk (its mirror's directory). */
export function mirrorId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16);
}
