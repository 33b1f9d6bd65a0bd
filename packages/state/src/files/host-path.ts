import { posix } from 'node:path';

/**
 * Where a path that a template or an execution module names lives on this host, when the minion
 * manages a file system under `root` (its `state.root`, `/` on a real host): under `root`, as the
 * states' paths are, except inside the minion's own directories (its file_roots, pillar_roots and
 * cache, see `ownDirectories`), which are where they are. So `file.file_exists('/etc/motd')` sees
 * what `file.managed` manages, and `opts['pillar_roots']` still names real directories.
 */
export function pathOnHost(path: string, root: string, ownDirs: readonly string[]): string {
  const clean = posix.normalize(path);
  if (root === '/' || root === '') return clean;
  if (posix.isAbsolute(clean)) {
    for (const dir of ownDirs) {
      const own = posix.normalize(dir).replace(/\/+$/, '');
      if (own !== '' && (clean === own || clean.startsWith(`${own}/`))) return clean;
    }
  }
  return posix.join(root, clean);
}

/** The minion's own directories that Salt's `opts` names: file_roots, pillar_roots, cachedir. */
export function ownDirectories(opts: Readonly<Record<string, unknown>> | undefined): string[] {
  const dirs: string[] = [];
  const add = (value: unknown) => {
    if (typeof value === 'string' && posix.isAbsolute(value)) dirs.push(value);
  };
  for (const key of ['file_roots', 'pillar_roots']) {
    const roots = opts?.[key];
    if (roots === null || typeof roots !== 'object' || Array.isArray(roots)) continue;
    for (const list of Object.values(roots as Record<string, unknown>)) {
      if (Array.isArray(list)) list.forEach(add);
    }
  }
  add(opts?.cachedir);
  return dirs;
}
