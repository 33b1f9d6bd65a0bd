import { randomBytes } from 'node:crypto';
import { link, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** The file's mode, exactly (whatever the umask). Default 0644. */
  mode?: number;
  /** Never replace an existing file: the write fails with EEXIST, even if the file appeared a moment ago. */
  exclusive?: boolean;
  /**
   * Flush the file and its directory entry to disk (default). A cache that can be fetched again
   * turns it off: a power loss then costs a download, never a torn file.
   */
  durable?: boolean;
}

/**
 * Replaces `path` with `contents` so that a reader (or a crash) sees either the old file or the new
 * one, never half of it: write a temp file in the same directory (rename is atomic only within a
 * file system), flush it to disk, rename it over the target (or link it, when `exclusive`: link(2)
 * fails when the name exists), then flush the directory entry. The one way Phoenix writes a file
 * that others read.
 */
export async function writeFileAtomic(
  path: string,
  contents: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o644;
  const durable = options.durable ?? true;
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(contents);
      await handle.chmod(mode); // open's mode is filtered by the umask
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.exclusive) await link(temp, path);
    else await rename(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
  if (durable) await syncDirectory(dirname(path));
}

/** Best effort: some file systems refuse fsync on a directory, and the rename has already happened. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // the data is in place; only its durability across a power loss is less certain
  }
}
