import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '@phoenix/protocol';
import { ExecutionError } from './errors.js';
import { parseFileUrl } from '@phoenix/state';
import type { StateFiles } from '@phoenix/state';
import { defineFunction } from './define-function.js';
import { rooted } from './host-context.js';
import type { HostOptions } from './host-context.js';
import type { ExecutionModule } from './types.js';

const Env = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/)
  .default('base');
const SaltUrl = z.string().startsWith('salt://', 'must be a salt:// path');

/**
 * Salt's cp module: files from the masters' file server (through the minion's file client, which
 * caches them by content hash), or from local file_roots on a masterless minion.
 */
export function createCpModule(options: HostOptions & { files: StateFiles }): ExecutionModule {
  const fetch = async (url: string, saltenv: string) => {
    const { path, env } = parseFileUrl(url, saltenv);
    const file = await options.files.read(path, env);
    return file === undefined ? undefined : { file, path, env };
  };
  return Object.freeze({
    name: 'cp',
    functions: Object.freeze({
      get_file: defineFunction({
        doc: "Copies a file from the file server to the minion. Returns the destination, or '' when the file server has no such file.\n\npath: salt://...\ndest: where to write it (a directory keeps the file's name)\nsaltenv: the environment (default base)\nmakedirs: create dest's parent directories\n\nCLI Example: phoenix run '*' cp.get_file salt://vimrc /etc/vimrc",
        schema: z.strictObject({
          path: SaltUrl,
          dest: z.string().min(1).startsWith('/', 'must be an absolute path'),
          saltenv: Env,
          makedirs: z.boolean().default(false),
          template: z.string().optional(),
          gzip: z.number().optional(),
        }),
        run: async ({ path, dest, saltenv, makedirs, template }) => {
          if (template !== undefined)
            throw new ExecutionError('cp.get_file with template is not supported: use cp.get_template or file.managed');
          const found = await fetch(path, saltenv);
          if (!found) return '';
          let target = rooted(options, dest);
          const existing = await stat(target).catch(() => undefined);
          if (existing?.isDirectory() || dest.endsWith('/'))
            target = join(target, found.path.split('/').pop() ?? 'file');
          const parent = await stat(dirname(target)).catch(() => undefined);
          if (!parent) {
            if (!makedirs)
              throw new ExecutionError(`The directory ${dirname(dest)} does not exist (set makedirs=True)`);
            await mkdir(dirname(target), { recursive: true });
          }
          await writeFileAtomic(target, found.file.content, {
            mode: existing?.isFile() ? existing.mode & 0o7777 : 0o644,
          });
          return options.root === '/' ? target : target.slice(options.root.replace(/\/+$/, '').length);
        },
      }),
      cache_file: defineFunction({
        doc: "Caches a file from the file server in the minion's cache directory. Returns the cached path, or '' when there is no such file.\n\nCLI Example: phoenix run '*' cp.cache_file salt://foo/bar.conf saltenv=base",
        schema: z.strictObject({ path: SaltUrl, saltenv: Env, source_hash: z.string().optional() }),
        run: async ({ path, saltenv }, ctx) => {
          const found = await fetch(path, saltenv);
          if (!found) return '';
          const target = join(ctx.cacheDir, 'files', found.env, found.path);
          await mkdir(dirname(target), { recursive: true, mode: 0o700 });
          await writeFileAtomic(target, found.file.content, { mode: 0o600 });
          return target;
        },
      }),
      list_master: defineFunction({
        doc: "Returns the files the file server has (under prefix).\n\nCLI Example: phoenix run '*' cp.list_master saltenv=base prefix=web",
        schema: z.strictObject({ saltenv: Env, prefix: z.string().default('') }),
        run: async ({ saltenv, prefix }) => options.files.list(prefix.replace(/^salt:\/\//, ''), saltenv),
      }),
      hash_file: defineFunction({
        doc: "Returns {hash_type, hsum} of a file on the file server ({} when missing).\n\nCLI Example: phoenix run '*' cp.hash_file salt://path/to/file",
        schema: z.strictObject({ path: SaltUrl, saltenv: Env }),
        run: async ({ path, saltenv }) => {
          const found = await fetch(path, saltenv);
          return found ? { hash_type: 'sha256', hsum: found.file.hash } : {};
        },
      }),
    }),
  });
}
