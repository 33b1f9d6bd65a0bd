import { createCommands, processEnvironment } from './commands.js';
import type { Commands } from './commands.js';
import { pathOnHost } from '@phoenix/state';
import type { JobContext } from './types.js';

/**
 * What the modules that act on the host (file, pkg, service, cp...) share: the file system root
 * they act under (the minion's `state.root`, `/` on a host) and the environment of the programs
 * they run (its PATH decides which systemctl or apt-get). Per minion, never process-wide.
 */
export interface HostOptions {
  readonly root: string;
  readonly commandEnv?: Readonly<Record<string, string>>;
  /**
   * The minion's own directories (file_roots, pillar_roots, cache: `ownDirectories(opts)`), which
   * are on this host even when `root` is not `/`.
   */
  readonly hostDirs?: readonly string[];
}

export function hostCommands(options: HostOptions, ctx: JobContext): Commands {
  return createCommands({
    env: options.commandEnv ?? processEnvironment(),
    signal: ctx.signal,
    trackChild: (pid) => ctx.trackChild(pid),
  });
}

/**
 * A path as the operator wrote it (`/etc/hosts`), where it lives on this host: under the root, as
 * templates see it (pathOnHost).
 */
export function rooted(options: HostOptions, path: string): string {
  return pathOnHost(path, options.root, options.hostDirs ?? []);
}

/** The inverse of `rooted`, for paths a module returns. */
export function unrooted(options: HostOptions, path: string): string {
  if (options.root === '/') return path;
  const root = options.root.replace(/\/+$/, '');
  return path === root ? '/' : path.startsWith(`${root}/`) ? path.slice(root.length) : path;
}
