import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { MasterRecord } from '@phoenix/store';
import type { RenderIsolation, RootsConfig } from '@phoenix/state';
import { PhoenixError, type AwsSettings } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';
import type { ClusterEvents } from '../events.js';
import type { ServedTree } from '../file-server/file-server.js';
import { GitAuth } from './auth.js';
import { Git } from './git.js';
import { gitSources, isGitRoot, mirrorId, type GitSource, type RootEntry, type TreeKind } from './git-root.js';
import { GitMirror, type CheckedOutTree } from './mirror.js';
import { decodeRevision, encodeRevision, MAX_REVISION_CHARS, standing, type Commits } from './revision.js';
import { SecretReader } from './secrets.js';
import { ServedPillarFiles, ServedStateTree, TopFileCheck, type Refusals } from './served-tree.js';

export interface GitTreesOptions {
  readonly fileRoots: Readonly<Record<string, readonly RootEntry[]>>;
  readonly pillarRoots: Readonly<Record<string, readonly RootEntry[]>>;
  /** Mirrors and checked-out commits live here. */
  readonly cacheDir: string;
  readonly fetchIntervalMs: number;
  readonly maxFileBytes: number;
  readonly gitTimeoutMs: number;
  readonly renderTimeoutMs: number;
  /** Where a fetched commit's top file is rendered to check it: the master's render process. */
  readonly isolation?: RenderIsolation;
  readonly aws: AwsSettings;
  readonly events: ClusterEvents;
  readonly log: Logger;
  /** Draws the jitter of the fetch interval, so masters started together do not fetch together. */
  readonly random?: () => number;
  readonly git?: Git;
}

/** One git root's state on this master, as `phoenix masters` and the API show it. */
export interface GitRootStatus {
  readonly key: string;
  readonly url: string;
  readonly ref: string;
  /** The commit served; undefined until one was fetched and checked. */
  readonly commit: string | undefined;
  readonly error: string | undefined;
  readonly fetchedAt: number | undefined;
}

interface Serving {
  readonly commit: string;
  readonly tree: CheckedOutTree;
}

interface RootState {
  readonly source: GitSource;
  readonly mirror: GitMirror;
  serving: Serving | undefined;
  error: string | undefined;
  fetchedAt: number | undefined;
  /** Commits served before, newest last: their checkouts are kept for runs pinned to them. */
  readonly history: string[];
}

/** Checkouts kept per root for runs that started on an older commit. */
const KEPT_COMMITS = 4;
/** Trees built for revisions, kept for the runs that ask for them. */
const KEPT_TREES = 16;

/**
 * The master's file_roots and pillar_roots when some of them are git remotes (Salt's gitfs and
 * git_pillar, made cluster-wide). It fetches on start, every `fetchIntervalMs` and on demand; a
 * fetched commit is checked out and its top file rendered before it is served; a failure of any
 * kind keeps the last good commit. It reads the other masters' commits from the masters table
 * (`noteCluster`): one that serves a commit this master does not have makes it fetch at once, and
 * this master is ready (may take minions) once it serves, of every root, the newest commit any live
 * master serves. Directory roots are served as they are, beside the git ones, in configured order.
 */
export class GitTrees {
  readonly #o: GitTreesOptions;
  readonly #git: Git;
  readonly #secrets: SecretReader;
  readonly #auth: GitAuth;
  readonly #topFile: TopFileCheck;
  readonly #roots: RootState[] = [];
  readonly #trees = new Map<string, ServedTree>();
  readonly #readyListeners = new Set<() => void>();
  /** Ends the git commands still running when the master stops. */
  readonly #stopping = new AbortController();
  #static: ServedTree | undefined;
  #updating: Promise<void> | undefined;
  #again = false;
  #lastFetchStartedAt = 0;
  /** Updates in a row that failed while this master was starting: its retries back off by them. */
  #failedStarts = 0;
  /** A peer's commit → when this master first saw it in the table. */
  readonly #seen = new Map<string, number>();
  readonly #triedByCommit = new Set<string>();
  #ready = false;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #cluster: { rows: readonly MasterRecord[]; selfId: string; isLive: (row: MasterRecord) => boolean } | undefined;

  constructor(options: GitTreesOptions) {
    this.#o = options;
    this.#git = options.git ?? new Git({ timeoutMs: options.gitTimeoutMs, signal: this.#stopping.signal });
    this.#secrets = new SecretReader(options.aws);
    this.#auth = new GitAuth(options.cacheDir, this.#secrets);
    this.#topFile = new TopFileCheck({
      timeoutMs: options.renderTimeoutMs,
      ...(options.isolation === undefined ? {} : { isolation: options.isolation }),
    });
    const { sources, problems } = gitSources(options.fileRoots, options.pillarRoots);
    if (problems.length > 0) throw new PhoenixError(MasterErrors.PHX_MASTER_START_FAILED, problems.join('; '));
    const mirrors = new Map<string, GitMirror>();
    for (const source of sources) {
      let mirror = mirrors.get(source.url);
      if (mirror === undefined) {
        mirror = new GitMirror({ git: this.#git, dir: join(options.cacheDir, mirrorId(source.url)), url: source.url });
        mirrors.set(source.url, mirror);
      }
      this.#roots.push({ source, mirror, serving: undefined, error: undefined, fetchedAt: undefined, history: [] });
    }
    this.#ready = this.#roots.length === 0;
  }

  /** Whether any root is a git remote. */
  get enabled(): boolean {
    return this.#roots.length > 0;
  }

  /** Serves, of every git root, a commit at least as new as any other live master's. Sticky. */
  get ready(): boolean {
    return this.#ready;
  }

  onReady(listener: () => void): void {
    if (this.#ready) listener();
    else this.#readyListeners.add(listener);
  }

  /** Checks that git runs, then fetches in the background and every fetchIntervalMs after. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    this.#o.log.info({ git: await this.#git.version(), roots: this.#roots.map((r) => r.source.key) }, 'git roots');
    await mkdir(this.#o.cacheDir, { recursive: true, mode: 0o700 });
    // The next fetch is timed from the end of this one: sooner if it left this master starting.
    void this.update('start').finally(() => this.#schedule());
  }

  /** Stops fetching: the timer, and any git command still running; resolves once the update in progress has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#stopping.abort();
    await this.#updating?.catch(() => undefined);
    await this.#topFile.close();
    this.#secrets.close();
  }

  /**
   * Fetches every git root now and serves what is new and good (`phoenix fileserver update`). An
   * update asked for while one runs is run once more after it, so a push just made is never missed.
   */
  async update(reason: string): Promise<GitRootStatus[]> {
    if (!this.enabled) return [];
    if (this.#updating !== undefined) {
      this.#again = true;
      await this.#updating;
      if (this.#updating !== undefined) await this.#updating;
      return this.status();
    }
    this.#updating = (async () => {
      do {
        this.#again = false;
        await this.#updateAll(reason).catch((err: unknown) =>
          this.#o.log.error({ err }, 'the git roots could not be updated'),
        );
      } while (this.#again && !this.#stopped);
    })().finally(() => {
      this.#updating = undefined;
    });
    await this.#updating;
    // Ready may follow from this fetch: judge it against the table as last read, now.
    const cluster = this.#cluster;
    if (!this.#ready && cluster !== undefined) await this.noteCluster(cluster.rows, cluster.selfId, cluster.isLive);
    return this.status();
  }

  status(): GitRootStatus[] {
    return this.#roots.map((r) => ({
      key: r.source.key,
      url: r.source.url,
      ref: refName(r.source),
      commit: r.serving?.commit,
      error: r.error,
      fetchedAt: r.fetchedAt,
    }));
  }

  /** The commit served of each git root, for the masters table. */
  commits(): Record<string, string> {
    return Object.fromEntries(
      this.#roots.filter((r) => r.serving !== undefined).map((r) => [r.source.key, r.serving?.commit as string]),
    );
  }

  /** `key: why`, one per failing root, for the masters table. */
  errors(): string[] {
    return this.#roots.filter((r) => r.error !== undefined).map((r) => `${r.source.key}: ${r.error as string}`);
  }

  /**
   * The tree to answer from: the current commits, or those of `revision` (a run's first answer)
   * for the roots it names. PHX_GIT_REVISION_UNKNOWN when a commit it names is not on this master
   * and cannot be fetched.
   */
  async at(revision?: string): Promise<ServedTree> {
    if (!this.enabled) {
      this.#static ??= this.#build({}, new Map());
      return this.#static;
    }
    const current = this.commits();
    const pinned = revision === undefined ? {} : decodeRevision(revision);
    if (pinned === undefined) {
      throw new PhoenixError(MasterErrors.PHX_GIT_REVISION_UNKNOWN, 'the revision this run started with is malformed');
    }
    const commits: Record<string, string> = { ...current };
    for (const root of this.#roots) {
      const commit = pinned[root.source.key];
      if (commit !== undefined) commits[root.source.key] = commit;
    }
    const key = encodeRevision(commits);
    const known = this.#trees.get(key);
    if (known !== undefined) return known;
    const checkouts = new Map<string, CheckedOutTree>();
    for (const root of this.#roots) {
      const commit = commits[root.source.key];
      if (commit === undefined) continue;
      if (root.serving?.commit === commit) {
        checkouts.set(root.source.key, root.serving.tree);
        continue;
      }
      if (!(await root.mirror.hasCommit(commit)) && !(await root.mirror.fetchCommit(commit, () => this.#scope(root)))) {
        throw new PhoenixError(
          MasterErrors.PHX_GIT_REVISION_UNKNOWN,
          `this state run started on commit ${commit.slice(0, 12)} of ${root.source.key}, which this master does not have and cannot fetch; run it again`,
        );
      }
      checkouts.set(root.source.key, await root.mirror.checkout(commit, root.source.root, this.#o.maxFileBytes));
    }
    const tree = this.#build(commits, checkouts);
    this.#trees.set(key, tree);
    while (this.#trees.size > KEPT_TREES) this.#trees.delete(this.#trees.keys().next().value as string);
    return tree;
  }

  /**
   * The masters table as of this heartbeat: another live master serving a commit this master does
   * not know, or a newer one, makes it fetch now (once per such commit); and a master that serves
   * the newest commit of every root becomes ready.
   */
  async noteCluster(
    rows: readonly MasterRecord[],
    selfId: string,
    isLive: (row: MasterRecord) => boolean,
  ): Promise<void> {
    if (!this.enabled || this.#stopped) return;
    this.#cluster = { rows, selfId, isLive };
    const now = Date.now();
    const peers = rows.filter((row) => row.masterId !== selfId && isLive(row) && row.gitCommits !== undefined);
    let fetch = false;
    let ready = true;
    for (const root of this.#roots) {
      const commits = [
        ...new Set(peers.map((p) => p.gitCommits?.[root.source.key]).filter((c): c is string => c !== undefined)),
      ];
      const own = root.serving?.commit;
      const relations = new Map<string, 'same' | 'older' | 'newer' | 'unknown'>();
      for (const commit of commits) {
        if (commit === own) continue;
        if (!this.#seen.has(commit)) this.#seen.set(commit, now);
        if (!(await root.mirror.hasCommit(commit))) relations.set(commit, 'unknown');
        else if (own !== undefined && (await root.mirror.isAncestor(commit, own))) relations.set(commit, 'older');
        else relations.set(commit, 'newer');
      }
      const where = standing(own, commits, (c) => relations.get(c) ?? 'unknown');
      if (own === undefined || where === 'behind' || where === 'unknown') ready = false;
      for (const [commit, relation] of relations) {
        if (relation === 'older') continue;
        if ((this.#seen.get(commit) ?? now) >= this.#lastFetchStartedAt) fetch = true;
        else if (relation === 'unknown' && !this.#triedByCommit.has(commit)) {
          // Fetched since it was first seen and still not here: the branch no longer holds it.
          this.#triedByCommit.add(commit);
          void root.mirror.fetchCommit(commit, () => this.#scope(root));
        }
      }
    }
    if (fetch && this.#updating === undefined) void this.update('a peer serves a newer commit');
    if (ready && !this.#ready) {
      this.#ready = true;
      this.#o.log.info({ commits: this.commits() }, "serving the cluster's commit of every git root");
      for (const listener of this.#readyListeners) listener();
      this.#readyListeners.clear();
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = nextFetchDelay({
      intervalMs: this.#o.fetchIntervalMs,
      ready: this.#ready,
      failedStarts: this.#failedStarts,
      random: this.#o.random ?? Math.random,
    });
    this.#timer = setTimeout(() => {
      void this.update(!this.#ready && this.#failedStarts > 0 ? 'retry while starting' : 'interval').finally(() =>
        this.#schedule(),
      );
    }, delay);
    this.#timer.unref();
  }

  #scope(root: RootState) {
    return this.#auth.scope(root.source.auth, root.source.name);
  }

  /**
   * Every mirror is fetched at once (one fetch per remote, however many roots share it), and every
   * root is judged as soon as its remote's fetch ends; the checkouts no root keeps are removed after.
   */
  async #updateAll(reason: string): Promise<void> {
    this.#lastFetchStartedAt = Date.now();
    const fetched = new Map<GitMirror, Promise<string | undefined>>();
    for (const root of this.#roots) {
      if (fetched.has(root.mirror)) continue;
      fetched.set(
        root.mirror,
        root.mirror
          .fetch(() => this.#scope(root))
          .then(
            () => undefined,
            (err: unknown) => `fetching ${root.source.url} failed: ${err instanceof Error ? err.message : String(err)}`,
          ),
      );
    }
    await Promise.all(
      this.#roots.map(async (root) => {
        const failed = await (fetched.get(root.mirror) as Promise<string | undefined>);
        root.fetchedAt = Date.now();
        if (failed !== undefined) {
          this.#fail(root, failed, reason);
          return;
        }
        await this.#consider(root, reason).catch((err: unknown) =>
          this.#fail(
            root,
            err instanceof Error ? err.message : String(err),
            reason,
            err instanceof PhoenixError ? err.code : undefined,
          ),
        );
      }),
    );
    this.#failedStarts = !this.#ready && this.#roots.some((r) => r.error !== undefined) ? this.#failedStarts + 1 : 0;
    for (const mirror of fetched.keys()) {
      await mirror.prune(new Set(this.#roots.filter((r) => r.mirror === mirror).flatMap((r) => r.history)));
    }
  }

  /** The fetched head of a root's ref: served if it is new and good, else the reason why not. */
  async #consider(root: RootState, reason: string): Promise<void> {
    const { source, mirror } = root;
    const head = await mirror.resolve(source.ref, source.ref === undefined ? defaultBranches(source.env) : []);
    if (head === undefined) {
      this.#fail(root, `the remote has no ${describeRef(source)}`, reason);
      return;
    }
    const own = root.serving?.commit;
    if (head === own) {
      this.#clear(root);
      return;
    }
    if (own !== undefined && (await mirror.isAncestor(head, own))) {
      this.#fail(
        root,
        `${refName(source)} moved back to ${head.slice(0, 12)}, an ancestor of the commit served (a forced push to an older commit): push a new commit to roll back`,
        reason,
        MasterErrors.PHX_GIT_REF_MOVED_BACK.code,
      );
      return;
    }
    const tree = await mirror.checkout(head, source.root, this.#o.maxFileBytes);
    const problem = await this.#topFile.problem(tree.dir, source.env);
    if (problem !== undefined) {
      this.#fail(
        root,
        `commit ${head.slice(0, 12)} is not served: ${problem}`,
        reason,
        MasterErrors.PHX_GIT_TREE_INVALID.code,
      );
      return;
    }
    root.serving = { commit: head, tree };
    root.history.push(head);
    if (root.history.length > KEPT_COMMITS) root.history.splice(0, root.history.length - KEPT_COMMITS);
    this.#clear(root);
    this.#o.events.emit('fileserver/updated', {
      root: source.key,
      commit: head,
      ...(own === undefined ? {} : { previous: own }),
      reason,
    });
  }

  #fail(root: RootState, message: string, reason: string, code: string = MasterErrors.PHX_GIT_FAILED.code): void {
    const error = message;
    const changed = root.error !== error;
    root.error = error;
    // One event per new error, not one per interval while a remote stays down.
    if (changed) {
      this.#o.events.emit('fileserver/update-failed', {
        root: root.source.key,
        code,
        error,
        reason,
        ...(root.serving === undefined ? {} : { serving: root.serving.commit }),
      });
    }
  }

  #clear(root: RootState): void {
    root.error = undefined;
  }

  #build(commits: Commits, checkouts: ReadonlyMap<string, CheckedOutTree>): ServedTree {
    const refusals: Record<TreeKind, Record<string, Array<Readonly<Record<string, string>>>>> = {
      file: {},
      pillar: {},
    };
    const roots = (kind: TreeKind, config: Readonly<Record<string, readonly RootEntry[]>>): RootsConfig =>
      Object.fromEntries(
        Object.entries(config).map(([env, entries]) => [
          env,
          entries.flatMap((entry, index) => {
            if (!isGitRoot(entry)) return [entry];
            const source = this.#roots.find(
              (r) => r.source.where === `${kind === 'file' ? 'fileRoots' : 'pillarRoots'}.${env}.${index}`,
            );
            const checkout = source === undefined ? undefined : checkouts.get(source.source.key);
            if (checkout === undefined) return [];
            (refusals[kind][env] ??= []).push(checkout.refused);
            return [checkout.dir];
          }),
        ]),
      );
    const fileRoots = roots('file', this.#o.fileRoots);
    const pillarRoots = roots('pillar', this.#o.pillarRoots);
    const tree = new ServedStateTree(fileRoots, pillarRoots, refusals.file as Refusals);
    const revision = encodeRevision(commits);
    return {
      revision: this.enabled && revision !== '' && revision.length <= MAX_REVISION_CHARS ? revision : undefined,
      tree,
      pillar: new ServedPillarFiles(tree.pillar, refusals.pillar as Refusals),
    };
  }
}

/**
 * When to fetch next. A master that serves every root's commit fetches every interval (±10 %, so
 * masters started together spread their fetches). One that is still starting because a fetch
 * failed (a remote not yet reachable from a new instance, say) tries again after 1 s, 2 s, 4 s …
 * up to the interval: a transient failure must not keep it out of service for a whole interval.
 */
export function nextFetchDelay(options: {
  readonly intervalMs: number;
  readonly ready: boolean;
  readonly failedStarts: number;
  readonly random: () => number;
}): number {
  const jitter = 0.9 + 0.2 * options.random();
  if (options.ready || options.failedStarts === 0) return options.intervalMs * jitter;
  const backoff = Math.min(options.intervalMs, 1_000 * 2 ** Math.min(options.failedStarts - 1, 20));
  return backoff * jitter;
}

/** With no ref: `main` (else `master`) in base, the branch named like the environment elsewhere. */
function defaultBranches(env: string): string[] {
  return env === 'base' ? ['main', 'master'] : [env];
}

function refName(source: GitSource): string {
  return source.ref ?? (source.env === 'base' ? 'main|master' : source.env);
}

function describeRef(source: GitSource): string {
  return source.ref === undefined
    ? source.env === 'base'
      ? 'branch main or master (for base)'
      : `branch ${source.env} (for the ${source.env} environment)`
    : `branch, tag or commit ${source.ref}`;
}
