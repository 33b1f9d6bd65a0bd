import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import type { PackageManager } from '../providers/apt.js';
import { aptPackages } from '../providers/apt.js';
import type { Commands } from '../providers/commands.js';
import { defineState, outcome } from './types.js';
import type { StateModule, StateRuntime } from './types.js';

const PackageName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+.:_-]*$/, 'is not a package name');
const Version = z.union([z.string(), z.number()]).transform(String);
/** `pkgs: [vim, {nginx: '1.24.0-1'}]`. */
const Pkgs = z.array(z.union([PackageName, z.record(PackageName, Version)])).min(1);

const Installed = z.strictObject({
  name: z.string().min(1),
  pkgs: Pkgs.optional(),
  version: Version.optional(),
  refresh: z.boolean().default(false),
  fromrepo: z.string().min(1).optional(),
});
const Removed = z.strictObject({ name: z.string().min(1), pkgs: Pkgs.optional() });

interface Wanted {
  readonly name: string;
  readonly version?: string;
}

function targets(args: {
  name: string;
  pkgs?: z.output<typeof Pkgs> | undefined;
  version?: string | undefined;
}): Wanted[] | string {
  if (args.pkgs === undefined) {
    if (!PackageName.safeParse(args.name).success) return `'${args.name}' is not a package name`;
    return [{ name: args.name, ...(args.version === undefined ? {} : { version: args.version }) }];
  }
  return args.pkgs.flatMap((entry) =>
    typeof entry === 'string' ? [{ name: entry }] : Object.entries(entry).map(([name, version]) => ({ name, version })),
  );
}

function list(names: readonly string[]): string {
  return names.join(', ');
}

/** Salt's pkg states on a package manager (apt/dpkg unless a test or another host hands in one). */
export function pkgStates(manager: (commands: Commands) => PackageManager = aptPackages): StateModule {
  return Object.freeze({
    name: 'pkg',
    available: (rt: StateRuntime) => manager(rt.commands).missing(),
    functions: Object.freeze({
      installed: defineState({
        schema: Installed,
        run: async (args, call): Promise<StateOutcome> => {
          const wanted = targets(args);
          if (typeof wanted === 'string') return outcome(false, wanted);
          const pm = manager(call.rt.commands);
          const before = await pm.installed(wanted.map((p) => p.name));
          const todo = wanted.filter(
            (p) => !before.has(p.name) || (p.version !== undefined && before.get(p.name) !== p.version),
          );
          if (todo.length === 0) {
            return outcome(
              true,
              wanted.length === 1
                ? `Package ${wanted[0]?.name} is already installed`
                : 'All specified packages are already installed',
            );
          }
          if (call.test) {
            const changes = Object.fromEntries(
              todo.map((p) => [p.name, { old: before.get(p.name) ?? '', new: p.version ?? 'latest' }]),
            );
            return outcome(
              null,
              `The following packages would be installed/updated: ${list(todo.map((p) => p.name))}`,
              changes,
            );
          }
          const result = await pm.install(todo, {
            refresh: args.refresh,
            ...(args.fromrepo === undefined ? {} : { fromrepo: args.fromrepo }),
          });
          const after = await pm.installed(wanted.map((p) => p.name));
          const changes: Record<string, unknown> = {};
          for (const p of todo) {
            if (after.get(p.name) !== before.get(p.name))
              changes[p.name] = { old: before.get(p.name) ?? '', new: after.get(p.name) ?? '' };
          }
          const failed = todo.filter(
            (p) => !after.has(p.name) || (p.version !== undefined && after.get(p.name) !== p.version),
          );
          if (failed.length > 0 || result.retcode !== 0) {
            const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
            return outcome(
              false,
              `Problem encountered installing package(s): ${list(failed.map((p) => p.name)) || list(todo.map((p) => p.name))}\n${detail}`,
              changes,
            );
          }
          return outcome(
            true,
            `The following packages were installed/updated: ${list(todo.map((p) => p.name))}`,
            changes,
          );
        },
      }),
      removed: defineState({
        schema: Removed,
        run: async (args, call): Promise<StateOutcome> => {
          const wanted = targets(args);
          if (typeof wanted === 'string') return outcome(false, wanted);
          const pm = manager(call.rt.commands);
          const before = await pm.installed(wanted.map((p) => p.name));
          const todo = wanted.filter((p) => before.has(p.name)).map((p) => p.name);
          if (todo.length === 0) return outcome(true, 'All specified packages are already absent');
          const predicted = Object.fromEntries(todo.map((name) => [name, { old: before.get(name) ?? '', new: '' }]));
          if (call.test) return outcome(null, `The following packages will be removed: ${list(todo)}`, predicted);
          const result = await pm.remove(todo);
          const after = await pm.installed(todo);
          const changes = Object.fromEntries(
            todo.filter((name) => !after.has(name)).map((name) => [name, { old: before.get(name) ?? '', new: '' }]),
          );
          if (after.size > 0 || result.retcode !== 0) {
            return outcome(
              false,
              `Problem encountered removing package(s): ${list([...after.keys()]) || list(todo)}\n${result.stderr.trim()}`,
              changes,
            );
          }
          return outcome(true, `All targeted packages were removed: ${list(todo)}`, changes);
        },
      }),
    }),
  });
}
