import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isMap, parseDocument, type Document } from 'yaml';
import { PhoenixError, writeFileAtomic } from '@phoenix/protocol';
import { MinionErrors } from '../errors.js';

/** A YAML config file as a document, so keys the manager does not own keep their values and comments. */
export interface YamlFile {
  doc: Document;
  /** False when the file does not exist yet (only a Salt drop-in may be created). */
  exists: boolean;
  /** The file's permission bits, kept on rewrite. */
  mode: number;
}

export async function readYamlFile(path: string): Promise<YamlFile> {
  let text: string;
  let mode = 0o644;
  try {
    [text, mode] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mode & 0o7777)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { doc: parseDocument(''), exists: false, mode };
    throw new PhoenixError(
      MinionErrors.PHX_MASTER_LIST_WRITE_FAILED,
      `cannot read ${path}: ${(err as Error).message}`,
      {
        cause: err,
        details: { path },
      },
    );
  }
  const doc = parseDocument(text);
  // Writing back a document that did not parse would destroy what the operator wrote: leave it.
  if (doc.errors.length > 0 || (doc.contents !== null && !isMap(doc.contents))) {
    const reason = doc.errors[0]?.message.split('\n')[0] ?? 'not a mapping';
    throw new PhoenixError(
      MinionErrors.PHX_MASTER_LIST_FILE_INVALID,
      `${path} is not a valid YAML mapping (${reason}); fix it, the master list was not written`,
      { details: { path } },
    );
  }
  return { doc, exists: true, mode };
}

/** Atomic: a reader (or a crash) sees the old file or the new one, never part of it. */
export async function writeYamlFile(path: string, file: YamlFile): Promise<void> {
  try {
    if (!file.exists) await mkdir(dirname(path), { recursive: true });
    await writeFileAtomic(path, String(file.doc), { mode: file.mode });
  } catch (err) {
    throw new PhoenixError(
      MinionErrors.PHX_MASTER_LIST_WRITE_FAILED,
      `cannot write ${path}: ${(err as Error).message}`,
      {
        cause: err,
        details: { path },
      },
    );
  }
}
