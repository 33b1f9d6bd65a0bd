import { ExecutionError } from './errors.js';
import type { CommandOutput, Commands } from './commands.js';

/** A package manager as pkg states and the pkg module use it. Only apt/dpkg today; yum or apk would be another one. */
export interface PackageManager {
  /** Why it cannot work on this host, or undefined. */
  missing(): Promise<string | undefined>;
  /** Installed versions of these packages (packages not installed are absent from the map); all when `names` is undefined. */
  installed(names?: readonly string[]): Promise<Map<string, string>>;
  /** The version `install` would bring (the candidate), or undefined when no repository has the package. */
  candidate(name: string, options?: { fromrepo?: string }): Promise<string | undefined>;
  refresh(): Promise<CommandOutput>;
  install(
    packages: readonly { name: string; version?: string }[],
    options: { refresh: boolean; fromrepo?: string; reinstall?: boolean; onlyUpgrade?: boolean },
  ): Promise<CommandOutput>;
  /** Local package files (Salt's `sources`). */
  installFiles(paths: readonly string[]): Promise<CommandOutput>;
  remove(names: readonly string[], options?: { purge?: boolean }): Promise<CommandOutput>;
  /** Upgrades every installed package (pkg.upgrade). */
  upgrade(options: { refresh: boolean; dist?: boolean }): Promise<CommandOutput>;
  held(): Promise<Set<string>>;
  hold(names: readonly string[], hold: boolean): Promise<CommandOutput>;
}

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none' };
const APT_OPTIONS = ['-q', '-y', '-o', 'DPkg::Options::=--force-confold', '-o', 'DPkg::Options::=--force-confdef'];

/** Debian's dpkg-query, apt-get, apt-cache and apt-mark, found on the runtime's PATH. */
export function aptPackages(commands: Commands): PackageManager {
  return {
    async missing() {
      const absent: string[] = [];
      for (const tool of ['dpkg-query', 'apt-get']) if ((await commands.which(tool)) === undefined) absent.push(tool);
      return absent.length === 0
        ? undefined
        : `${absent.join(' and ')} not found on PATH (pkg states manage Debian packages with dpkg and apt)`;
    },
    async installed(names) {
      const versions = new Map<string, string>();
      if (names !== undefined && names.length === 0) return versions;
      // Unknown packages make dpkg-query exit 1 and complain on stderr; the known ones still print.
      const out = await commands.run({
        argv: [
          'dpkg-query',
          '-W',
          '-f=${Package}\\t${Status}\\t${Version}\\n',
          ...(names === undefined ? [] : ['--', ...names]),
        ],
      });
      for (const line of out.stdout.split('\n')) {
        const [name, status, version] = line.split('\t');
        if (name && status?.endsWith(' installed') && version !== undefined) versions.set(name, version);
      }
      if (out.retcode !== 0 && out.retcode !== 1)
        throw new ExecutionError(`dpkg-query failed (exit ${out.retcode}): ${out.stderr.trim()}`);
      return versions;
    },
    async candidate(name, options = {}) {
      if ((await commands.which('apt-cache')) === undefined) return undefined;
      const out = await commands.run({
        argv: ['apt-cache', ...(options.fromrepo === undefined ? [] : ['-t', options.fromrepo]), 'policy', '--', name],
        env: APT_ENV,
      });
      const candidate = /Candidate:\s*(\S+)/.exec(out.stdout)?.[1];
      return candidate === undefined || candidate === '(none)' ? undefined : candidate;
    },
    refresh() {
      return commands.run({ argv: ['apt-get', '-q', 'update'], env: APT_ENV });
    },
    async install(packages, options) {
      if (options.refresh) {
        const update = await this.refresh();
        if (update.retcode !== 0) return update;
      }
      const specs = packages.map((p) => (p.version === undefined ? p.name : `${p.name}=${p.version}`));
      return commands.run({
        argv: [
          'apt-get',
          ...APT_OPTIONS,
          ...(options.fromrepo === undefined ? [] : ['-t', options.fromrepo]),
          ...(options.reinstall ? ['--reinstall'] : []),
          ...(options.onlyUpgrade ? ['--only-upgrade'] : []),
          'install',
          '--',
          ...specs,
        ],
        env: APT_ENV,
      });
    },
    installFiles(paths) {
      return commands.run({ argv: ['dpkg', '-i', '--', ...paths], env: APT_ENV });
    },
    remove(names, options = {}) {
      return commands.run({
        argv: ['apt-get', '-q', '-y', options.purge ? 'purge' : 'remove', '--', ...names],
        env: APT_ENV,
      });
    },
    async upgrade(options) {
      if (options.refresh) {
        const update = await this.refresh();
        if (update.retcode !== 0) return update;
      }
      return commands.run({
        argv: ['apt-get', ...APT_OPTIONS, options.dist ? 'dist-upgrade' : 'upgrade'],
        env: APT_ENV,
      });
    },
    async held() {
      if ((await commands.which('apt-mark')) === undefined) return new Set();
      const out = await commands.run({ argv: ['apt-mark', 'showhold'] });
      return new Set(
        out.stdout
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean),
      );
    },
    async hold(names, hold) {
      if ((await commands.which('apt-mark')) === undefined)
        throw new ExecutionError('apt-mark not found on PATH (needed to hold or unhold packages)');
      return commands.run({ argv: ['apt-mark', hold ? 'hold' : 'unhold', '--', ...names] });
    },
  };
}

/** Debian's version ordering (dpkg --compare-versions): epoch, upstream, revision. */
export function compareDebianVersions(a: string, b: string): number {
  const split = (v: string): [number, string, string] => {
    const colon = v.indexOf(':');
    const epoch = colon === -1 ? 0 : Number(v.slice(0, colon)) || 0;
    const rest = colon === -1 ? v : v.slice(colon + 1);
    const dash = rest.lastIndexOf('-');
    return dash === -1 ? [epoch, rest, '0'] : [epoch, rest.slice(0, dash), rest.slice(dash + 1)];
  };
  const order = (c: string | undefined): number => {
    if (c === undefined) return 0;
    if (c === '~') return -1;
    if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
    return c.charCodeAt(0) + 256;
  };
  const part = (x: string, y: string): number => {
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      let firstDiff = 0;
      while ((i < x.length && !/\d/.test(x[i] as string)) || (j < y.length && !/\d/.test(y[j] as string))) {
        const ac = i < x.length && !/\d/.test(x[i] as string) ? order(x[i]) : 0;
        const bc = j < y.length && !/\d/.test(y[j] as string) ? order(y[j]) : 0;
        if (ac !== bc) return ac - bc;
        i++;
        j++;
      }
      while (x[i] === '0') i++;
      while (y[j] === '0') j++;
      while (i < x.length && /\d/.test(x[i] as string) && j < y.length && /\d/.test(y[j] as string)) {
        if (!firstDiff) firstDiff = x.charCodeAt(i) - y.charCodeAt(j);
        i++;
        j++;
      }
      if (i < x.length && /\d/.test(x[i] as string)) return 1;
      if (j < y.length && /\d/.test(y[j] as string)) return -1;
      if (firstDiff) return firstDiff;
    }
    return 0;
  };
  const [ea, ua, ra] = split(a);
  const [eb, ub, rb] = split(b);
  if (ea !== eb) return ea - eb;
  return part(ua, ub) || part(ra, rb);
}
