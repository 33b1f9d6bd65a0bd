import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';
import type { GitAuthScope } from './auth.js';
import type { Git } from './git.js';

/** A tree holds at most this many files: a state tree, not a monorepo. */
const MAX_TREE_FILES = 50_000;
const COMMIT = /^[0-9a-f]{40}$/;

/** A commit's tree checked out on disk, and the files of it that are not served (and why). */
export interface CheckedOutTree {
  readonly dir: string;
  /** Path in the tree → why it is not served (over the size limit, a submodule). */
  readonly refused: Readonly<Record<string, string>>;
}

/**
 * One remote's bare mirror on this master's disk: fetched whole (branches and tags, objects checked
 * as they arrive), and commits checked out, read-only, one directory per commit and root. A fetch
 * in progress is shared by whoever asks for one meanwhile.
 */
export class GitMirror {
  readonly #git: Git;
  readonly #dir: string;
  readonly #trees: string;
  readonly #url: string;
  #fetching: Promise<void> | undefined;
  #ready: Promise<void> | undefined;
  readonly #checkouts = new Map<string, Promise<CheckedOutTree>>();

  constructor(options: { git: Git; dir: string; url: string }) {
    this.#git = options.git;
    this.#dir = join(options.dir, 'repo.git');
    this.#trees = join(options.dir, 'trees');
    this.#url = options.url;
  }

  /** Fetches every branch and tag (pruning the deleted ones), with `auth` for this one command. */
  fetch(auth: () => Promise<GitAuthScope>): Promise<void> {
    this.#fetching ??= this.#fetch(auth).finally(() => {
      this.#fetching = undefined;
    });
    return this.#fetching;
  }

  /** Fetches one commit by id (a server may allow it though no branch holds it any more). */
  async fetchCommit(commit: string, auth: () => Promise<GitAuthScope>): Promise<boolean> {
    if (!COMMIT.test(commit)) return false;
    await this.#init();
    const scope = await auth();
    try {
      await this.#git.run({
        args: [
          `--git-dir=${this.#dir}`,
          '-c',
          'transfer.fsckObjects=true',
          'fetch',
          '--no-tags',
          '--',
          this.#url,
          commit,
        ],
        env: scope.env,
        secrets: scope.secrets,
      });
    } catch {
      return false;
    } finally {
      await scope.close();
    }
    return this.hasCommit(commit);
  }

  /**
   * The commit `ref` names: a branch, else a tag, else a commit id. With no ref, `fallbacks` are
   * tried as branches in order (`main`, then `master`). Undefined when none exists.
   */
  async resolve(ref: string | undefined, fallbacks: readonly string[]): Promise<string | undefined> {
    await this.#init();
    const names =
      ref === undefined
        ? fallbacks.map((b) => `refs/heads/${b}`)
        : [`refs/heads/${ref}`, `refs/tags/${ref}`, ...(/^[0-9a-f]{7,40}$/.test(ref) ? [ref] : [])];
    for (const name of names) {
      const commit = await this.#revParse(`${name}^{commit}`);
      if (commit !== undefined) return commit;
    }
    return undefined;
  }

  async hasCommit(commit: string): Promise<boolean> {
    if (!COMMIT.test(commit)) return false;
    await this.#init();
    return (await this.#revParse(`${commit}^{commit}`)) === commit;
  }

  /** Whether `older` is an ancestor of `newer` (or the same commit). Both must be here. */
  async isAncestor(older: string, newer: string): Promise<boolean> {
    try {
      await this.#git.run({ args: [`--git-dir=${this.#dir}`, 'merge-base', '--is-ancestor', older, newer] });
      return true;
    } catch {
      return false;
    }
  }

  /** When `commit` was committed (ms), to order two commits neither of which descends from the other. */
  async committedAt(commit: string): Promise<number> {
    const out = await this.#git.run({ args: [`--git-dir=${this.#dir}`, 'show', '-s', '--format=%ct', commit] });
    return Number(out.toString('utf8').trim()) * 1000;
  }

  /**
   * `root` of `commit` as a directory (checked out once, then reused). Files over `maxFileBytes`
   * and submodules are left out and listed in `refused`; git itself refuses paths with `..` or
   * `.git` in them. A symbolic link is checked out as one: the file server refuses those that lead
   * out of the tree when they are read.
   */
  checkout(commit: string, root: string, maxFileBytes: number): Promise<CheckedOutTree> {
    const key = `${commit}:${root}`;
    let found = this.#checkouts.get(key);
    if (found === undefined) {
      found = this.#checkout(commit, root, maxFileBytes);
      this.#checkouts.set(key, found);
      found.catch(() => this.#checkouts.delete(key));
    }
    return found;
  }

  /** Removes the checked-out trees of every commit but `keep`. */
  async prune(keep: ReadonlySet<string>): Promise<void> {
    for (const [key, tree] of [...this.#checkouts]) {
      const commit = key.slice(0, key.indexOf(':'));
      if (keep.has(commit)) continue;
      this.#checkouts.delete(key);
      const dir = await tree.then((t) => t.dir).catch(() => undefined);
      if (dir !== undefined) await rm(join(dir, '..'), { recursive: true, force: true });
    }
  }

  async #fetch(auth: () => Promise<GitAuthScope>): Promise<void> {
    await this.#init();
    const scope = await auth();
    try {
      await this.#git.run({
        args: [
          `--git-dir=${this.#dir}`,
          '-c',
          'transfer.fsckObjects=true',
          'fetch',
          '--prune',
          '--prune-tags',
          '--no-write-fetch-head',
          '--',
          this.#url,
          '+refs/heads/*:refs/heads/*',
          '+refs/tags/*:refs/tags/*',
        ],
        env: scope.env,
        secrets: scope.secrets,
      });
    } finally {
      await scope.close();
    }
  }

  #init(): Promise<void> {
    this.#ready ??= (async () => {
      const exists = await access(join(this.#dir, 'HEAD')).then(
        () => true,
        () => false,
      );
      if (!exists) {
        await mkdir(this.#dir, { recursive: true, mode: 0o700 });
        await this.#git.run({ args: ['init', '--bare', '--quiet', this.#dir] });
      }
    })().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #revParse(name: string): Promise<string | undefined> {
    try {
      const out = await this.#git.run({
        args: [`--git-dir=${this.#dir}`, 'rev-parse', '--verify', '--quiet', '--end-of-options', name],
      });
      const commit = out.toString('utf8').trim();
      return COMMIT.test(commit) ? commit : undefined;
    } catch {
      return undefined;
    }
  }

  async #checkout(commit: string, root: string, maxFileBytes: number): Promise<CheckedOutTree> {
    const base = join(
      this.#trees,
      root === '' ? commit : `${commit}-${Buffer.from(root).toString('hex').slice(0, 32)}`,
    );
    const dir = join(base, 'tree');
    const done = await readFile(join(base, 'refused.json'), 'utf8').then(
      (text) => JSON.parse(text) as Record<string, string>,
      () => undefined,
    );
    if (done !== undefined) return { dir, refused: done };

    const treeish = root === '' ? `${commit}^{tree}` : `${commit}:${root}`;
    let listing: Buffer;
    try {
      listing = await this.#git.run({
        args: [`--git-dir=${this.#dir}`, 'ls-tree', '-r', '-l', '-z', '--end-of-options', treeish],
      });
    } catch {
      throw new PhoenixError(
        MasterErrors.PHX_GIT_TREE_INVALID,
        root === '' ? `commit ${commit} is not here` : `commit ${commit} has no directory ${root}`,
      );
    }
    const refused: Record<string, string> = {};
    const index: string[] = [];
    for (const record of listing.toString('utf8').split('\0')) {
      if (record === '') continue;
      const tab = record.indexOf('\t');
      const [mode, type, oid, size] = record.slice(0, tab).split(/ +/) as [string, string, string, string];
      const path = record.slice(tab + 1);
      if (type !== 'blob') {
        refused[path] = `a ${type === 'commit' ? 'submodule' : type}, which the file server does not serve`;
      } else if (Number(size) > maxFileBytes) {
        refused[path] =
          `${size} bytes, over the file server's limit of ${maxFileBytes} bytes (fileServer.maxFileBytes)`;
      } else if (mode === '100644' || mode === '100755' || mode === '120000') {
        index.push(`${mode} ${oid}\t${path}`);
      }
      if (index.length > MAX_TREE_FILES) {
        throw new PhoenixError(
          MasterErrors.PHX_GIT_TREE_INVALID,
          `commit ${commit} holds over ${MAX_TREE_FILES} files`,
        );
      }
    }
    const work = `${base}.${process.pid}.${Date.now()}.tmp`;
    await rm(work, { recursive: true, force: true });
    await mkdir(join(work, 'tree'), { recursive: true, mode: 0o700 });
    try {
      const env = { GIT_INDEX_FILE: join(work, 'index') };
      await this.#git.run({
        args: [`--git-dir=${this.#dir}`, 'update-index', '-z', '--index-info'],
        env,
        input: index.map((line) => `${line}\0`).join(''),
      });
      await this.#git.run({
        args: [`--git-dir=${this.#dir}`, `--work-tree=${join(work, 'tree')}`, 'checkout-index', '--all', '--force'],
        env,
      });
      await rm(join(work, 'index'), { force: true });
      await writeFile(join(work, 'refused.json'), JSON.stringify(refused));
      await rm(base, { recursive: true, force: true });
      await rename(work, base);
    } catch (err) {
      await rm(work, { recursive: true, force: true });
      throw err;
    }
    return { dir, refused };
  }
}
