import { z } from 'zod';
import { ExecutionError } from './errors.js';
import type { PackageManager } from './apt.js';
import { aptPackages, compareDebianVersions } from './apt.js';
import type { Commands } from './commands.js';
import { defineFunction } from './define-function.js';
import { hostCommands } from './host-context.js';
import type { HostOptions } from './host-context.js';
import type { ExecutionModule, JobContext } from './types.js';

const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+.:_-]*$/, 'is not a package name');
const Names = z.array(Name);
const Pkgs = z
  .union([z.array(z.union([Name, z.record(Name, z.union([z.string(), z.number()]).transform(String))])), z.string()])
  .transform((value, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed as (string | Record<string, string>)[];
    } catch {
      // reported below
    }
    ctx.addIssue({ code: 'custom', message: 'pkgs must be a list, e.g. pkgs=\'["vim", "curl"]\'' });
    return z.NEVER;
  });

/** Salt's pkg module on apt/dpkg: what is installed, and installing, removing and upgrading. */
export function createPkgModule(
  options: HostOptions,
  manager: (commands: Commands) => PackageManager = aptPackages,
): ExecutionModule {
  const pm = async (ctx: JobContext): Promise<PackageManager> => {
    const found = manager(hostCommands(options, ctx));
    const missing = await found.missing();
    if (missing !== undefined) throw new ExecutionError(missing);
    return found;
  };
  const diff = (before: Map<string, string>, after: Map<string, string>) => {
    const changes: Record<string, { old: string; new: string }> = {};
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      if (before.get(name) !== after.get(name))
        changes[name] = { old: before.get(name) ?? '', new: after.get(name) ?? '' };
    }
    return changes;
  };
  const failIf = (out: { retcode: number; stderr: string; stdout: string }, what: string, changes: unknown) => {
    if (out.retcode !== 0)
      throw new ExecutionError(
        `${what} failed: ${(out.stderr.trim() || out.stdout.trim()).split('\n').slice(-3).join('\n')}`,
        {
          details: { changes },
        },
      );
  };
  return Object.freeze({
    name: 'pkg',
    functions: Object.freeze({
      list_pkgs: defineFunction({
        doc: "Returns the installed packages as {name: version}.\n\nCLI Example: phoenix run '*' pkg.list_pkgs",
        schema: z.strictObject({ versions_as_list: z.boolean().default(false) }),
        run: async ({ versions_as_list }, ctx) => {
          const all = await (await pm(ctx)).installed();
          return Object.fromEntries(
            [...all.entries()].sort().map(([name, version]) => [name, versions_as_list ? [version] : version]),
          );
        },
      }),
      version: defineFunction({
        doc: "Returns the installed version of a package ('' when not installed); {name: version} for several.\n\nCLI Example: phoenix run '*' pkg.version vim curl",
        schema: z.strictObject({ names: Names.min(1) }),
        varargs: 'names',
        run: async ({ names }, ctx) => {
          const installed = await (await pm(ctx)).installed(names);
          if (names.length === 1) return installed.get(names[0] as string) ?? '';
          return Object.fromEntries(names.map((name) => [name, installed.get(name) ?? '']));
        },
      }),
      latest_version: defineFunction({
        doc: "Returns the newest version available to install or upgrade to ('' when the installed one is the newest); {name: version} for several.\n\nCLI Example: phoenix run '*' pkg.latest_version vim",
        schema: z.strictObject({
          names: Names.min(1),
          refresh: z.boolean().default(false),
          fromrepo: z.string().optional(),
        }),
        varargs: 'names',
        run: async ({ names, refresh, fromrepo }, ctx) => {
          const m = await pm(ctx);
          if (refresh) failIf(await m.refresh(), 'apt-get update', {});
          const installed = await m.installed(names);
          const result: Record<string, string> = {};
          for (const name of names) {
            const candidate = await m.candidate(name, fromrepo === undefined ? {} : { fromrepo });
            const have = installed.get(name);
            result[name] =
              candidate !== undefined && (have === undefined || compareDebianVersions(candidate, have) > 0)
                ? candidate
                : '';
          }
          return names.length === 1 ? result[names[0] as string] : result;
        },
      }),
      install: defineFunction({
        doc: "Installs packages; returns {name: {old, new}} for what changed.\n\nname: a package\npkgs: a list of packages (names, or {name: version})\nversion: the version of name\nrefresh: apt-get update first\nfromrepo: the release to install from\n\nCLI Example: phoenix run '*' pkg.install vim; phoenix run '*' pkg.install pkgs='[\"vim\", \"curl\"]'",
        schema: z.strictObject({
          name: Name.optional(),
          pkgs: Pkgs.optional(),
          version: z.union([z.string(), z.number()]).transform(String).optional(),
          refresh: z.boolean().default(false),
          fromrepo: z.string().optional(),
          reinstall: z.boolean().default(false),
        }),
        run: async (args, ctx) => {
          const targets: { name: string; version?: string }[] = [];
          if (args.pkgs !== undefined) {
            for (const entry of args.pkgs) {
              if (typeof entry === 'string') targets.push({ name: entry });
              else for (const [name, version] of Object.entries(entry)) targets.push({ name, version });
            }
          } else if (args.name !== undefined)
            targets.push({ name: args.name, ...(args.version === undefined ? {} : { version: args.version }) });
          else throw new ExecutionError('name or pkgs is required');
          const m = await pm(ctx);
          const before = await m.installed(targets.map((t) => t.name));
          const out = await m.install(targets, {
            refresh: args.refresh,
            reinstall: args.reinstall,
            ...(args.fromrepo === undefined ? {} : { fromrepo: args.fromrepo }),
          });
          const changes = diff(before, await m.installed(targets.map((t) => t.name)));
          failIf(out, 'apt-get install', changes);
          return changes;
        },
      }),
      remove: defineFunction({
        doc: "Removes packages; returns {name: {old, new: ''}}.\n\nCLI Example: phoenix run '*' pkg.remove vim",
        schema: z.strictObject({ name: z.string().optional(), pkgs: Pkgs.optional() }),
        run: async (args, ctx) => removeOrPurge(await pm(ctx), args, false),
      }),
      purge: defineFunction({
        doc: "Removes packages and their configuration files; returns {name: {old, new: ''}}.\n\nCLI Example: phoenix run '*' pkg.purge vim",
        schema: z.strictObject({ name: z.string().optional(), pkgs: Pkgs.optional() }),
        run: async (args, ctx) => removeOrPurge(await pm(ctx), args, true),
      }),
      upgrade: defineFunction({
        doc: "Upgrades every installed package; returns {name: {old, new}}.\n\nrefresh: apt-get update first (default True)\ndist_upgrade: apt-get dist-upgrade\n\nCLI Example: phoenix run '*' pkg.upgrade",
        schema: z.strictObject({ refresh: z.boolean().default(true), dist_upgrade: z.boolean().default(false) }),
        run: async ({ refresh, dist_upgrade }, ctx) => {
          const m = await pm(ctx);
          const before = await m.installed();
          const out = await m.upgrade({ refresh, dist: dist_upgrade });
          const changes = diff(before, await m.installed());
          failIf(out, 'apt-get upgrade', changes);
          return changes;
        },
      }),
      refresh_db: defineFunction({
        doc: "Updates the package lists (apt-get update). Returns True.\n\nCLI Example: phoenix run '*' pkg.refresh_db",
        schema: z.strictObject({}),
        run: async (_args, ctx) => {
          failIf(await (await pm(ctx)).refresh(), 'apt-get update', {});
          return true;
        },
      }),
    }),
  });

  async function removeOrPurge(
    m: PackageManager,
    args: { name?: string | undefined; pkgs?: (string | Record<string, string>)[] | undefined },
    purge: boolean,
  ) {
    const names =
      args.pkgs !== undefined
        ? args.pkgs.flatMap((entry) => (typeof entry === 'string' ? [entry] : Object.keys(entry)))
        : (args.name ?? '')
            .split(',')
            .map((n) => n.trim())
            .filter(Boolean);
    if (names.length === 0) throw new ExecutionError('name or pkgs is required');
    for (const name of names)
      if (!Name.safeParse(name).success) throw new ExecutionError(`'${name}' is not a package name`);
    const before = await m.installed(names);
    const present = names.filter((name) => before.has(name));
    if (present.length === 0) return {};
    const out = await m.remove(present, { purge });
    const changes = diff(before, await m.installed(names));
    failIf(out, `apt-get ${purge ? 'purge' : 'remove'}`, changes);
    return changes;
  }
}
