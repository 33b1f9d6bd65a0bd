import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { globMatcher } from '../../modules/glob.js';
import type { StateOutcome } from '@phoenix/state';
import type { PackageManager } from '../../modules/apt.js';
import { aptPackages, compareDebianVersions } from '../../modules/apt.js';
import type { CommandOutput, Commands } from '../../modules/commands.js';
import { readSource } from './file-common.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule, StateRuntime } from './types.js';

const PackageName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9+.:_-]*$/, 'is not a package name');
const Version = z
  .union([z.string(), z.number()])
  .transform(String)
  .nullable()
  .transform((v) => (v === null || v === '' ? undefined : v));
/** `pkgs: [vim, {nginx: '1.24.0-1'}]`. */
const Pkgs = z.array(z.union([PackageName, z.record(PackageName, Version)])).min(1);
/** `sources: [{foo: salt://pkgs/foo_1.0_amd64.deb}]`. */
const Sources = z.array(z.record(PackageName, z.string().min(1))).min(1);

const Installed = z.strictObject({
  name: z.string().min(1),
  pkgs: Pkgs.optional(),
  sources: Sources.optional(),
  version: Version.optional(),
  refresh: z.boolean().default(false),
  fromrepo: z.string().min(1).optional(),
  hold: z.boolean().optional(),
  update_holds: z.boolean().default(false),
  reinstall: z.boolean().default(false),
  allow_updates: z.boolean().default(false),
  skip_verify: z.boolean().optional(),
  skip_suggestions: z.boolean().optional(),
  normalize: z.boolean().optional(),
  ignore_epoch: z.boolean().optional(),
  install_recommends: z.boolean().optional(),
  only_upgrade: z.boolean().default(false),
  cache_valid_time: z.number().optional(),
  pkg_verify: z.boolean().optional(),
  report_reboot_exit_codes: z.boolean().optional(),
});
const Latest = z.strictObject({
  name: z.string().min(1),
  pkgs: z
    .array(z.union([PackageName, z.record(PackageName, Version)]))
    .min(1)
    .optional(),
  refresh: z.boolean().default(false),
  fromrepo: z.string().min(1).optional(),
  skip_verify: z.boolean().optional(),
  watch_flags: z.boolean().optional(),
  hold: z.boolean().optional(),
  install_recommends: z.boolean().optional(),
  cache_valid_time: z.number().optional(),
});
const Removed = z.strictObject({
  name: z.string().min(1),
  pkgs: Pkgs.optional(),
  version: Version.optional(),
  normalize: z.boolean().optional(),
  ignore_epoch: z.boolean().optional(),
});

interface Wanted {
  readonly name: string;
  readonly version?: string | undefined;
}

function targets(args: {
  name: string;
  pkgs?: z.output<typeof Pkgs> | undefined;
  version?: string | undefined;
}): Wanted[] | string {
  if (args.pkgs === undefined) {
    if (!PackageName.safeParse(args.name).success) return `'${args.name}' is not a package name`;
    return [{ name: args.name, version: args.version }];
  }
  return args.pkgs.flatMap((entry) =>
    typeof entry === 'string' ? [{ name: entry }] : Object.entries(entry).map(([name, version]) => ({ name, version })),
  );
}

/** Salt's version specs: an exact version, a glob (`1.24*`), or a comparison (`>=1.2`). */
export function versionSatisfies(installed: string, wanted: string | undefined): boolean {
  if (wanted === undefined || wanted === 'latest') return true;
  const spec = wanted.trim();
  const op = /^(>=|<=|==|!=|>|<|=)\s*(.+)$/.exec(spec);
  if (op) {
    const cmp = compareDebianVersions(installed, op[2] as string);
    switch (op[1]) {
      case '>=':
        return cmp >= 0;
      case '<=':
        return cmp <= 0;
      case '>':
        return cmp > 0;
      case '<':
        return cmp < 0;
      case '!=':
        return cmp !== 0;
      default:
        return cmp === 0;
    }
  }
  if (spec.includes('*')) return globMatcher(spec)(installed);
  return installed === spec || compareDebianVersions(installed, spec) === 0;
}

function list(names: readonly string[]): string {
  return names.join(', ');
}

function detail(out: CommandOutput): string {
  return (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-5).join('\n');
}

/** The version apt should install for a spec: exact versions pass through; ranges and globs let apt choose. */
function aptVersion(version: string | undefined): string | undefined {
  if (version === undefined || version === 'latest' || /[<>=!*]/.test(version)) return undefined;
  return version;
}

async function applyHold(
  pm: PackageManager,
  names: readonly string[],
  hold: boolean | undefined,
  test: boolean,
  changes: Record<string, unknown>,
  comments: string[],
): Promise<boolean> {
  if (hold === undefined || names.length === 0) return true;
  const held = await pm.held();
  const todo = names.filter((name) => held.has(name) !== hold);
  if (todo.length === 0) return true;
  for (const name of todo) {
    const entry = (changes[name] ?? {}) as Record<string, unknown>;
    changes[name] = { ...entry, hold: { old: hold ? '' : 'hold', new: hold ? 'hold' : '' } };
    comments.push(
      test
        ? `Package ${name} is set to be ${hold ? 'held' : 'unheld'}.`
        : `Package ${name} is now ${hold ? 'being held' : 'unheld'}.`,
    );
  }
  if (test) return true;
  const out = await pm.hold(todo, hold);
  if (out.retcode !== 0) {
    comments.push(`Failed to ${hold ? 'hold' : 'unhold'} ${list(todo)}: ${detail(out)}`);
    return false;
  }
  return true;
}

async function installFromSources(
  rt: StateRuntime,
  pm: PackageManager,
  sources: z.output<typeof Sources>,
  test: boolean,
): Promise<StateOutcome> {
  const entries = sources.flatMap((entry) => Object.entries(entry));
  const before = await pm.installed(entries.map(([name]) => name));
  const todo = entries.filter(([name]) => !before.has(name));
  if (todo.length === 0) return outcome(true, 'All specified packages are already installed');
  if (test)
    return outcome(
      null,
      `The following packages would be installed/updated: ${list(todo.map(([name]) => name))}`,
      Object.fromEntries(todo.map(([name]) => [name, { old: '', new: 'installed' }])),
    );
  const dir = join(rt.cacheDir, 'extrn_files', 'pkg');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const paths: string[] = [];
  for (const [name, url] of todo) {
    const found = await readSource(rt, [url]);
    if ('error' in found) return outcome(false, `Unable to get package ${name}: ${found.error}`);
    const path = join(dir, basename(url.split('?')[0] ?? `${name}.deb`));
    await writeFile(path, found.content);
    paths.push(path);
  }
  const out = await pm.installFiles(paths);
  const after = await pm.installed(entries.map(([name]) => name));
  const changes = Object.fromEntries(
    todo.filter(([name]) => after.has(name)).map(([name]) => [name, { old: '', new: after.get(name) ?? '' }]),
  );
  const failed = todo.filter(([name]) => !after.has(name)).map(([name]) => name);
  if (failed.length > 0 || out.retcode !== 0)
    return outcome(false, `Problem encountered installing package(s): ${list(failed)}\n${detail(out)}`, changes);
  return outcome(true, `The following packages were installed/updated: ${list(todo.map(([name]) => name))}`, changes);
}

/** Salt's pkg states on a package manager (apt/dpkg unless a test or another host hands in one). */
export function pkgStates(manager: (commands: Commands) => PackageManager = aptPackages): StateModule {
  const installed = async (args: z.output<typeof Installed>, call: StateCallContext): Promise<StateOutcome> => {
    const pm = manager(call.rt.commands);
    if (args.sources !== undefined) return installFromSources(call.rt, pm, args.sources, call.test);
    const wanted = targets(args);
    if (typeof wanted === 'string') return outcome(false, wanted);
    const before = await pm.installed(wanted.map((p) => p.name));
    const todo = wanted.filter((p) => {
      const have = before.get(p.name);
      if (have === undefined || args.reinstall) return true;
      // allow_updates: a newer version than the one asked for is good enough.
      if (
        args.allow_updates &&
        p.version !== undefined &&
        compareDebianVersions(have, aptVersion(p.version) ?? have) > 0
      )
        return false;
      return !versionSatisfies(have, p.version);
    });
    const comments: string[] = [];
    const changes: Record<string, unknown> = {};
    if (todo.length === 0) {
      const held = await applyHold(
        pm,
        wanted.map((p) => p.name),
        args.hold,
        call.test,
        changes,
        comments,
      );
      const base = 'All specified packages are already installed';
      return outcome(
        !held ? false : call.test && Object.keys(changes).length > 0 ? null : true,
        [base, ...comments].join('\n'),
        changes,
      );
    }
    if (call.test) {
      for (const p of todo)
        changes[p.name] = { old: before.get(p.name) ?? '', new: aptVersion(p.version) ?? 'installed' };
      return outcome(
        null,
        `The following packages would be installed/updated: ${list(todo.map((p) => p.name))}`,
        changes,
      );
    }
    const held = await pm.held();
    const blocked = todo.filter((p) => held.has(p.name) && before.has(p.name) && !args.update_holds);
    if (blocked.length > 0)
      return outcome(
        false,
        `The following packages are held and would be changed: ${list(blocked.map((p) => p.name))} (set update_holds: True)`,
      );
    if (args.update_holds) {
      const unhold = todo.filter((p) => held.has(p.name)).map((p) => p.name);
      if (unhold.length > 0) await pm.hold(unhold, false);
    }
    const result = await pm.install(
      todo.map((p) => ({
        name: p.name,
        ...(aptVersion(p.version) === undefined ? {} : { version: aptVersion(p.version) as string }),
      })),
      {
        refresh: args.refresh,
        reinstall: args.reinstall,
        onlyUpgrade: args.only_upgrade,
        ...(args.fromrepo === undefined ? {} : { fromrepo: args.fromrepo }),
      },
    );
    const after = await pm.installed(wanted.map((p) => p.name));
    for (const p of todo) {
      if (after.get(p.name) !== before.get(p.name))
        changes[p.name] = { old: before.get(p.name) ?? '', new: after.get(p.name) ?? '' };
    }
    const failed = todo.filter((p) => {
      const have = after.get(p.name);
      return have === undefined || !versionSatisfies(have, p.version);
    });
    if (failed.length > 0 || result.retcode !== 0) {
      return outcome(
        false,
        `Problem encountered installing package(s): ${list(failed.map((p) => p.name)) || list(todo.map((p) => p.name))}\n${detail(result)}`,
        changes,
      );
    }
    const holdOk = await applyHold(
      pm,
      wanted.map((p) => p.name),
      args.hold,
      false,
      changes,
      comments,
    );
    return outcome(
      holdOk,
      [`The following packages were installed/updated: ${list(todo.map((p) => p.name))}`, ...comments].join('\n'),
      changes,
    );
  };

  const latest = async (args: z.output<typeof Latest>, call: StateCallContext): Promise<StateOutcome> => {
    const pm = manager(call.rt.commands);
    const wanted = targets({ name: args.name, ...(args.pkgs === undefined ? {} : { pkgs: args.pkgs }) });
    if (typeof wanted === 'string') return outcome(false, wanted);
    if (args.refresh && !call.test) {
      const out = await pm.refresh();
      if (out.retcode !== 0) return outcome(false, `Failed to refresh the package database: ${detail(out)}`);
    }
    const names = wanted.map((p) => p.name);
    const before = await pm.installed(names);
    const candidates = new Map<string, string>();
    const unknown: string[] = [];
    for (const name of names) {
      const candidate = await pm.candidate(name, args.fromrepo === undefined ? {} : { fromrepo: args.fromrepo });
      if (candidate === undefined) {
        if (!before.has(name)) unknown.push(name);
      } else candidates.set(name, candidate);
    }
    if (unknown.length > 0) return outcome(false, `No information found for '${list(unknown)}'.`);
    const todo = names.filter((name) => {
      const have = before.get(name);
      const candidate = candidates.get(name);
      return have === undefined || (candidate !== undefined && compareDebianVersions(have, candidate) < 0);
    });
    const changes: Record<string, unknown> = {};
    const comments: string[] = [];
    if (todo.length === 0) {
      const held = await applyHold(pm, names, args.hold, call.test, changes, comments);
      const base = names.length === 1 ? `Package ${names[0]} is already up-to-date` : 'All packages are up-to-date';
      return outcome(
        !held ? false : call.test && Object.keys(changes).length > 0 ? null : true,
        [base, ...comments].join('\n'),
        changes,
      );
    }
    if (call.test) {
      for (const name of todo) changes[name] = { old: before.get(name) ?? '', new: candidates.get(name) ?? 'latest' };
      return outcome(null, `The following packages would be installed/upgraded: ${list(todo)}`, changes);
    }
    const result = await pm.install(
      todo.map((name) => ({ name })),
      { refresh: false, ...(args.fromrepo === undefined ? {} : { fromrepo: args.fromrepo }) },
    );
    const after = await pm.installed(names);
    for (const name of todo)
      if (after.get(name) !== before.get(name))
        changes[name] = { old: before.get(name) ?? '', new: after.get(name) ?? '' };
    const failed = todo.filter((name) => after.get(name) === undefined || after.get(name) === before.get(name));
    if (failed.length > 0 || result.retcode !== 0)
      return outcome(
        false,
        `An error was encountered while installing package(s): ${list(failed)}\n${detail(result)}`,
        changes,
      );
    const holdOk = await applyHold(pm, names, args.hold, false, changes, comments);
    return outcome(
      holdOk,
      [`The following packages were successfully installed/upgraded: ${list(todo)}`, ...comments].join('\n'),
      changes,
    );
  };

  const removal =
    (purge: boolean) =>
    async (args: z.output<typeof Removed>, call: StateCallContext): Promise<StateOutcome> => {
      const wanted = targets(args);
      if (typeof wanted === 'string') return outcome(false, wanted);
      const pm = manager(call.rt.commands);
      const before = await pm.installed(wanted.map((p) => p.name));
      const todo = wanted
        .filter((p) => {
          const have = before.get(p.name);
          return have !== undefined && (p.version === undefined || versionSatisfies(have, p.version));
        })
        .map((p) => p.name);
      if (todo.length === 0) return outcome(true, 'All specified packages are already absent');
      const predicted = Object.fromEntries(todo.map((name) => [name, { old: before.get(name) ?? '', new: '' }]));
      if (call.test)
        return outcome(
          null,
          `The following packages will be ${purge ? 'purged' : 'removed'}: ${list(todo)}`,
          predicted,
        );
      const result = await pm.remove(todo, { purge });
      const after = await pm.installed(todo);
      const changes = Object.fromEntries(
        todo.filter((name) => !after.has(name)).map((name) => [name, { old: before.get(name) ?? '', new: '' }]),
      );
      if (after.size > 0 || result.retcode !== 0) {
        return outcome(
          false,
          `The following packages failed to ${purge ? 'purge' : 'remove'}: ${list([...after.keys()]) || list(todo)}\n${detail(result)}`,
          changes,
        );
      }
      return outcome(true, `All targeted packages were ${purge ? 'purged' : 'removed'}.`, changes);
    };

  return Object.freeze({
    name: 'pkg',
    available: (rt: StateRuntime) => manager(rt.commands).missing(),
    functions: Object.freeze({
      installed: defineState({ schema: Installed, run: installed }),
      latest: defineState({ schema: Latest, run: latest }),
      removed: defineState({ schema: Removed, run: removal(false) }),
      purged: defineState({ schema: Removed, run: removal(true) }),
    }),
  });
}
