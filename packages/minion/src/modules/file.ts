import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Stats } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { ExecutionError } from './errors.js';
import { lookupGroup, lookupUser, resolveGid, resolveUid } from './accounts.js';
import { writeFileAtomic } from '@phoenix/protocol';
import { formatMode, ModeArg } from './host-paths.js';
import { PythonFlags, pythonRegex, pythonReplacement } from './python-regex.js';
import { unifiedDiff } from './text-diff.js';
import { defineFunction } from './define-function.js';
import { globMatcher } from './glob.js';
import { hostCommands, rooted, unrooted } from './host-context.js';
import type { HostOptions } from './host-context.js';
import type { ExecutionModule } from './types.js';

const Path = z
  .string()
  .min(1)
  .refine((path) => isAbsolute(path) && !path.includes('\0'), 'must be an absolute path');
const Owner = z.union([z.string().min(1), z.number().int().min(0)]).nullish();

async function info(path: string, follow = true): Promise<Stats | undefined> {
  try {
    return follow ? await stat(path) : await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function mustExist(options: HostOptions, path: string, follow = true): Promise<{ real: string; stats: Stats }> {
  const real = rooted(options, path);
  const stats = await info(real, follow);
  if (!stats) throw new ExecutionError(`File path ${path} does not exist`, { details: { path } });
  return { real, stats };
}

function typeOf(stats: Stats): string {
  if (stats.isSymbolicLink()) return 'link';
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  if (stats.isFIFO()) return 'pipe';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  return 'socket';
}

async function hashFile(path: string, form: string): Promise<string> {
  const hash = (() => {
    try {
      return createHash(form);
    } catch {
      throw new ExecutionError(`'${form}' is not a hash type (md5, sha1, sha256, sha512...)`);
    }
  })();
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Salt's `find` options that Phoenix supports: name/iname (glob), regex, type, maxdepth, mindepth. */
const FindOptions = z.strictObject({
  name: z.string().optional(),
  iname: z.string().optional(),
  regex: z.string().optional(),
  type: z
    .string()
    .regex(/^[bcdpflsx]+$/, 'is a combination of b c d p f l s')
    .optional(),
  maxdepth: z.coerce.number().int().min(0).optional(),
  mindepth: z.coerce.number().int().min(0).optional(),
  print: z.string().optional(),
});

const MAX_FOUND = 100_000;

/** Salt's file execution module (the functions operators call every day), under the minion's root. */
export function createFileModule(options: HostOptions): ExecutionModule {
  const chownPath = async (
    ctx: Parameters<typeof hostCommands>[1],
    real: string,
    user: unknown,
    group: unknown,
    follow = true,
  ) => {
    const commands = hostCommands(options, ctx);
    const uid =
      user === undefined || user === null || user === '' ? -1 : await resolveUid(commands, user as string | number);
    const gid =
      group === undefined || group === null || group === '' ? -1 : await resolveGid(commands, group as string | number);
    if (follow) await chown(real, uid, gid);
    else {
      const { lchown } = await import('node:fs/promises');
      await lchown(real, uid, gid);
    }
  };
  return Object.freeze({
    name: 'file',
    functions: Object.freeze({
      file_exists: defineFunction({
        doc: "Returns True when the path exists and is a file.\n\nCLI Example: phoenix run '*' file.file_exists /etc/hosts",
        schema: z.strictObject({ path: Path }),
        run: async ({ path }) => (await info(rooted(options, path)))?.isFile() === true,
      }),
      exists: defineFunction({
        doc: "Returns True when the path exists (a file, a directory or anything else).\n\nCLI Example: phoenix run '*' file.exists /etc/hosts",
        schema: z.strictObject({ path: Path }),
        run: async ({ path }) => (await info(rooted(options, path))) !== undefined,
      }),
      directory_exists: defineFunction({
        doc: "Returns True when the path exists and is a directory.\n\nCLI Example: phoenix run '*' file.directory_exists /etc",
        schema: z.strictObject({ path: Path }),
        run: async ({ path }) => (await info(rooted(options, path)))?.isDirectory() === true,
      }),
      access: defineFunction({
        doc: "Returns True when the path exists (mode f), or is readable/writable/executable (r, w, x).\n\nCLI Example: phoenix run '*' file.access /etc/hosts f",
        schema: z.strictObject({ path: Path, mode: z.enum(['f', 'r', 'w', 'x']) }),
        run: async ({ path, mode }) => {
          const { access, constants } = await import('node:fs');
          const flag = { f: constants.F_OK, r: constants.R_OK, w: constants.W_OK, x: constants.X_OK }[mode];
          return new Promise<boolean>((resolve) => access(rooted(options, path), flag, (err) => resolve(!err)));
        },
      }),
      read: defineFunction({
        doc: "Returns the contents of a file.\n\npath: the file\nbinary: return base64 of the bytes instead of text\n\nCLI Example: phoenix run '*' file.read /etc/hostname",
        schema: z.strictObject({ path: Path, binary: z.boolean().default(false) }),
        run: async ({ path, binary }) => {
          const { real } = await mustExist(options, path);
          const content = await readFile(real);
          return binary ? content.toString('base64') : content.toString('utf8');
        },
      }),
      write: defineFunction({
        doc: "Writes the arguments to a file, one line each, replacing what it held.\n\nCLI Example: phoenix run '*' file.write /etc/motd 'hello' 'world'",
        schema: z.strictObject({ path: Path, args: z.array(z.union([z.string(), z.number(), z.boolean()])) }),
        varargs: 'args',
        run: async ({ path, args }) => {
          const real = rooted(options, path);
          const current = await info(real);
          await writeFileAtomic(real, Buffer.from(`${args.map(String).join('\n')}\n`), {
            mode: current ? current.mode & 0o7777 : 0o644,
          });
          return `Wrote ${args.length} lines to "${path}"`;
        },
      }),
      touch: defineFunction({
        doc: "Creates an empty file or updates its times. Returns True.\n\nname: the file\natime, mtime: seconds since the epoch (default now)\n\nCLI Example: phoenix run '*' file.touch /var/run/ready",
        schema: z.strictObject({ name: Path, atime: z.number().optional(), mtime: z.number().optional() }),
        run: async ({ name, atime, mtime }, ctx) => {
          const real = rooted(options, name);
          if (!(await info(dirname(real)))?.isDirectory())
            throw new ExecutionError(`Directory not present to touch file ${name}`);
          if (!(await info(real))) await writeFile(real, '', { flag: 'a' });
          const now = ctx.clock.now() / 1000;
          await utimes(real, atime ?? now, mtime ?? now);
          return true;
        },
      }),
      remove: defineFunction({
        doc: "Removes a file or a directory tree. Returns True (also when it was not there).\n\nCLI Example: phoenix run '*' file.remove /tmp/foo",
        schema: z.strictObject({ path: Path }),
        run: async ({ path }) => {
          if (rooted({ root: '/' }, path) === '/') throw new ExecutionError('Refusing to remove /');
          await rm(rooted(options, path), { recursive: true, force: true });
          return true;
        },
      }),
      stats: defineFunction({
        doc: "Returns a file's inode, uid, gid, user, group, atime, mtime, ctime, size, mode, type and target; {} when it does not exist.\n\npath: the file\nhash_type: add its sum (sha256, md5...)\nfollow_symlinks: report the link's target (default True)\n\nCLI Example: phoenix run '*' file.stats /etc/passwd",
        schema: z.strictObject({
          path: Path,
          hash_type: z.string().nullish(),
          follow_symlinks: z.boolean().default(true),
        }),
        run: async ({ path, hash_type, follow_symlinks }, ctx) => {
          const real = rooted(options, path);
          const stats = await info(real, follow_symlinks);
          if (!stats) return {};
          const commands = hostCommands(options, ctx);
          const user = await lookupUser(commands, stats.uid).catch(() => undefined);
          const group = await lookupGroup(commands, stats.gid).catch(() => undefined);
          const ret: Record<string, unknown> = {
            inode: stats.ino,
            uid: stats.uid,
            gid: stats.gid,
            user: user?.name ?? String(stats.uid),
            group: group?.name ?? String(stats.gid),
            atime: stats.atimeMs / 1000,
            mtime: stats.mtimeMs / 1000,
            ctime: stats.ctimeMs / 1000,
            size: stats.size,
            mode: formatMode(stats.mode),
            type: typeOf(stats),
            target: unrooted(options, await realpath(real).catch(() => real)),
          };
          if (hash_type && stats.isFile()) ret.sum = await hashFile(real, hash_type);
          return ret;
        },
      }),
      get_hash: defineFunction({
        doc: "Returns the hash of a file.\n\npath: the file\nform: md5, sha1, sha256 (default), sha512...\n\nCLI Example: phoenix run '*' file.get_hash /etc/hosts sha256",
        schema: z.strictObject({ path: Path, form: z.string().default('sha256'), chunk_size: z.number().optional() }),
        run: async ({ path, form }) => hashFile((await mustExist(options, path)).real, form),
      }),
      get_mode: defineFunction({
        doc: "Returns a file's mode ('0644'), '' when it does not exist.\n\nCLI Example: phoenix run '*' file.get_mode /etc/passwd",
        schema: z.strictObject({ path: Path, follow_symlinks: z.boolean().default(true) }),
        run: async ({ path, follow_symlinks }) => {
          const stats = await info(rooted(options, path), follow_symlinks);
          return stats ? formatMode(stats.mode) : '';
        },
      }),
      contains: defineFunction({
        doc: "Returns True when the file contains the text.\n\nCLI Example: phoenix run '*' file.contains /etc/crontab 'mymaintenance.sh'",
        schema: z.strictObject({ path: Path, text: z.string() }),
        run: async ({ path, text }) => {
          const stats = await info(rooted(options, path));
          if (!stats?.isFile()) return false;
          return (await readFile(rooted(options, path), 'utf8')).includes(text);
        },
      }),
      search: defineFunction({
        doc: "Returns True when a Python regex matches somewhere in the file (multiline).\n\nCLI Example: phoenix run '*' file.search /etc/crontab 'mymaintenance.sh'",
        schema: z.strictObject({
          path: Path,
          pattern: z.string(),
          flags: PythonFlags.default(8),
          multiline: z.boolean().default(false),
          ignore_if_missing: z.boolean().default(false),
        }),
        run: async ({ path, pattern, flags, multiline, ignore_if_missing }) => {
          const real = rooted(options, path);
          if (!(await info(real))) {
            if (ignore_if_missing) return false;
            throw new ExecutionError(`File path ${path} does not exist`);
          }
          return pythonRegex(pattern, flags | (multiline ? 8 | 16 : 0), false).test(await readFile(real, 'utf8'));
        },
      }),
      replace: defineFunction({
        doc: "Replaces a Python regex in a file (Salt's file.replace). Returns the diff (or True/False with show_changes=False).\n\npath, pattern, repl: as Salt's\ncount: 0 replaces every match\nflags: re flags, names or number (default 8, MULTILINE)\nappend_if_not_found, prepend_if_not_found, not_found_content\nbackup: suffix of the backup copy (default .bak; False for none)\ndry_run, search_only, show_changes, ignore_if_missing, backslash_literal\n\nCLI Example: phoenix run '*' file.replace /etc/httpd/httpd.conf pattern='LogLevel warn' repl='LogLevel info'",
        schema: z.strictObject({
          path: Path,
          pattern: z.string(),
          repl: z.string(),
          count: z.number().int().min(0).default(0),
          flags: PythonFlags.default(8),
          bufsize: z.union([z.number(), z.string()]).optional(),
          append_if_not_found: z.boolean().default(false),
          prepend_if_not_found: z.boolean().default(false),
          not_found_content: z.string().optional(),
          backup: z.union([z.string(), z.boolean()]).default('.bak'),
          dry_run: z.boolean().default(false),
          search_only: z.boolean().default(false),
          show_changes: z.boolean().default(true),
          ignore_if_missing: z.boolean().default(false),
          preserve_inode: z.boolean().default(true),
          backslash_literal: z.boolean().default(false),
        }),
        run: async (args) => {
          const real = rooted(options, args.path);
          const stats = await info(real);
          if (!stats) {
            if (args.ignore_if_missing) return false;
            throw new ExecutionError(`File not found: ${args.path}`);
          }
          const before = await readFile(real, 'utf8');
          const regex = pythonRegex(args.pattern, args.flags);
          if (args.search_only) return regex.test(before);
          let n = 0;
          const replacer = pythonReplacement(args.repl, args.backslash_literal);
          let after = before.replace(regex, (match: string, ...rest: unknown[]) => {
            if (args.count > 0 && n >= args.count) return match;
            n++;
            return replacer(match, ...rest);
          });
          if (n === 0 && (args.append_if_not_found || args.prepend_if_not_found)) {
            const content = args.not_found_content ?? args.repl;
            const line = content.endsWith('\n') ? content : `${content}\n`;
            if (!before.split('\n').includes(content.replace(/\n$/, '')))
              after = args.prepend_if_not_found
                ? `${line}${before}`
                : `${before}${before === '' || before.endsWith('\n') ? '' : '\n'}${line}`;
          }
          const changed = after !== before;
          if (changed && !args.dry_run) {
            if (typeof args.backup === 'string' && args.backup !== '') await writeFile(`${real}${args.backup}`, before);
            await writeFileAtomic(real, Buffer.from(after), { mode: stats.mode & 0o7777 });
          }
          if (!args.show_changes) return changed;
          return changed ? unifiedDiff(before, after) : '';
        },
      }),
      find: defineFunction({
        doc: "Returns the paths under a directory that match: name/iname (glob), regex, type (f d l...), maxdepth, mindepth.\n\nCLI Example: phoenix run '*' file.find /etc name='*.conf' type=f maxdepth=1",
        schema: z.strictObject({ path: Path, args: z.array(z.string()) }),
        varargs: 'args',
        extraKeywords: true,
        run: async ({ path }, _ctx, extra) => {
          const criteria = FindOptions.safeParse(
            Object.fromEntries(Object.entries(extra).filter(([key]) => !key.startsWith('__'))),
          );
          if (!criteria.success)
            throw new ExecutionError(`file.find: ${criteria.error.issues[0]?.message ?? 'bad options'}`);
          const { name, iname, regex, type, maxdepth = Number.POSITIVE_INFINITY, mindepth = 0 } = criteria.data;
          const byName = name === undefined ? undefined : globMatcher(name);
          const byIname = iname === undefined ? undefined : globMatcher(iname.toLowerCase());
          const byRegex = regex === undefined ? undefined : pythonRegex(regex, 0, false);
          const found: string[] = [];
          const matches = async (real: string, depth: number): Promise<boolean> => {
            if (depth < mindepth) return false;
            const base = basename(real);
            if (byName && !byName(base)) return false;
            if (byIname && !byIname(base.toLowerCase())) return false;
            if (byRegex && !byRegex.test(unrooted(options, real))) return false;
            if (type !== undefined) {
              const stats = await lstat(real);
              const letter = stats.isSymbolicLink()
                ? 'l'
                : stats.isDirectory()
                  ? 'd'
                  : stats.isFile()
                    ? 'f'
                    : stats.isFIFO()
                      ? 'p'
                      : stats.isBlockDevice()
                        ? 'b'
                        : stats.isCharacterDevice()
                          ? 'c'
                          : 's';
              if (!type.includes(letter)) return false;
            }
            return true;
          };
          const walk = async (real: string, depth: number): Promise<void> => {
            if (found.length >= MAX_FOUND) return;
            if (await matches(real, depth)) found.push(unrooted(options, real));
            if (depth >= maxdepth) return;
            const stats = await lstat(real).catch(() => undefined);
            if (!stats?.isDirectory()) return;
            for (const entry of (await readdir(real).catch(() => [])).sort()) await walk(join(real, entry), depth + 1);
          };
          await walk(rooted(options, path), 0);
          return found;
        },
      }),
      mkdir: defineFunction({
        doc: "Creates a directory and its parents. Returns True.\n\ndir_path: the directory\nuser, group, mode: for the directory\n\nCLI Example: phoenix run '*' file.mkdir /opt/app/logs mode=0750",
        schema: z.strictObject({ dir_path: Path, user: Owner, group: Owner, mode: ModeArg.optional() }),
        run: async ({ dir_path, user, group, mode }, ctx) => {
          const real = rooted(options, dir_path);
          await mkdir(real, { recursive: true });
          if (user != null || group != null) await chownPath(ctx, real, user, group);
          if (mode !== undefined) await chmod(real, mode);
          return true;
        },
      }),
      makedirs: defineFunction({
        doc: "Creates the parent directories of a path (a path ending in / is itself created). Returns True.\n\nCLI Example: phoenix run '*' file.makedirs /opt/app/logs/",
        schema: z.strictObject({ path: Path, user: Owner, group: Owner, mode: ModeArg.optional() }),
        run: async ({ path, user, group, mode }, ctx) => {
          const real = rooted(options, path.endsWith('/') ? path : dirname(path));
          await mkdir(real, { recursive: true, ...(mode === undefined ? {} : { mode }) });
          if (user != null || group != null) await chownPath(ctx, real, user, group);
          return true;
        },
      }),
      symlink: defineFunction({
        doc: "Creates a symbolic link path -> src. Returns True.\n\nsrc: what the link points to\npath: the link\nforce: replace whatever is at path\n\nCLI Example: phoenix run '*' file.symlink /etc/nginx/sites-available/app /etc/nginx/sites-enabled/app",
        schema: z.strictObject({ src: z.string().min(1), path: Path, force: z.boolean().default(false) }),
        run: async ({ src, path, force }) => {
          const real = rooted(options, path);
          const existing = await info(real, false);
          if (existing) {
            if (existing.isSymbolicLink() && (await readlink(real)) === src) return true;
            if (!force) throw new ExecutionError(`File exists: ${path}`);
            await rm(real, { recursive: true, force: true });
          }
          await symlink(src, real);
          return true;
        },
      }),
      is_link: defineFunction({
        doc: "Returns True when the path is a symbolic link.\n\nCLI Example: phoenix run '*' file.is_link /etc/localtime",
        schema: z.strictObject({ path: Path }),
        run: async ({ path }) => (await info(rooted(options, path), false))?.isSymbolicLink() === true,
      }),
      readlink: defineFunction({
        doc: "Returns the target of a symbolic link.\n\npath: the link\ncanonicalize: follow every link to the final path\n\nCLI Example: phoenix run '*' file.readlink /etc/localtime",
        schema: z.strictObject({ path: Path, canonicalize: z.boolean().default(false) }),
        run: async ({ path, canonicalize }) => {
          const real = rooted(options, path);
          const stats = await info(real, false);
          if (!stats?.isSymbolicLink()) throw new ExecutionError(`A valid link was not specified: ${path}`);
          return canonicalize ? unrooted(options, await realpath(real)) : readlink(real);
        },
      }),
      copy: defineFunction({
        doc: "Copies a file (or, with recurse, a directory). Returns True.\n\nsrc, dst: absolute paths\nrecurse: copy a directory tree\nremove_existing: with recurse, empty dst first\n\nCLI Example: phoenix run '*' file.copy /etc/hosts /tmp/hosts",
        schema: z.strictObject({
          src: Path,
          dst: Path,
          recurse: z.boolean().default(false),
          remove_existing: z.boolean().default(false),
        }),
        run: async ({ src, dst, recurse, remove_existing }) => {
          const { real, stats } = await mustExist(options, src);
          if (stats.isDirectory() && !recurse)
            throw new ExecutionError(`${src} is a directory: set recurse=True to copy it`);
          const target = rooted(options, dst);
          if (remove_existing) await rm(target, { recursive: true, force: true });
          const into =
            (await info(target))?.isDirectory() && !stats.isDirectory() ? join(target, basename(real)) : target;
          await cp(real, into, { recursive: recurse, force: true });
          return true;
        },
      }),
      move: defineFunction({
        doc: "Moves a file or directory. Returns {result, comment}.\n\nCLI Example: phoenix run '*' file.move /tmp/a /tmp/b",
        schema: z.strictObject({ src: Path, dst: Path }),
        run: async ({ src, dst }) => {
          const { real } = await mustExist(options, src, false);
          let target = rooted(options, dst);
          if ((await info(target))?.isDirectory()) target = join(target, basename(real));
          await rename(real, target);
          return { result: true, comment: `'${src}' moved to '${dst}'` };
        },
      }),
      rename: defineFunction({
        doc: "Renames a file or directory. Returns True.\n\nCLI Example: phoenix run '*' file.rename /tmp/a /tmp/b",
        schema: z.strictObject({ src: Path, dst: Path }),
        run: async ({ src, dst }) => {
          const { real } = await mustExist(options, src, false);
          await rename(real, rooted(options, dst));
          return true;
        },
      }),
      chown: defineFunction({
        doc: "Sets a file's owner and group (names or ids). Returns True.\n\nCLI Example: phoenix run '*' file.chown /etc/passwd root root",
        schema: z.strictObject({ path: Path, user: Owner, group: Owner }),
        run: async ({ path, user, group }, ctx) => {
          const { real } = await mustExist(options, path, false);
          await chownPath(ctx, real, user, group, false);
          return true;
        },
      }),
      set_mode: defineFunction({
        doc: "Sets a file's mode. Returns the mode now ('0644').\n\nCLI Example: phoenix run '*' file.set_mode /etc/passwd 0644",
        schema: z.strictObject({ path: Path, mode: ModeArg }),
        run: async ({ path, mode }) => {
          const { real } = await mustExist(options, path);
          await chmod(real, mode);
          return formatMode((await stat(real)).mode);
        },
      }),
      get_user: defineFunction({
        doc: "Returns the name of a file's owner.\n\nCLI Example: phoenix run '*' file.get_user /etc/passwd",
        schema: z.strictObject({ path: Path, follow_symlinks: z.boolean().default(true) }),
        run: async ({ path, follow_symlinks }, ctx) => {
          const { stats } = await mustExist(options, path, follow_symlinks);
          return (
            (await lookupUser(hostCommands(options, ctx), stats.uid).catch(() => undefined))?.name ?? String(stats.uid)
          );
        },
      }),
      get_group: defineFunction({
        doc: "Returns the name of a file's group.\n\nCLI Example: phoenix run '*' file.get_group /etc/passwd",
        schema: z.strictObject({ path: Path, follow_symlinks: z.boolean().default(true) }),
        run: async ({ path, follow_symlinks }, ctx) => {
          const { stats } = await mustExist(options, path, follow_symlinks);
          return (
            (await lookupGroup(hostCommands(options, ctx), stats.gid).catch(() => undefined))?.name ?? String(stats.gid)
          );
        },
      }),
    }),
  });
}
