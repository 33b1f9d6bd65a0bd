import type { CommandOutput, Commands } from './commands.js';

/** A package manager as pkg states use it. Only apt/dpkg today; yum or apk would be another one. */
export interface PackageManager {
  /** Why it cannot work on this host, or undefined. */
  missing(): Promise<string | undefined>;
  /** Installed versions of these packages (packages not installed are absent from the map). */
  installed(names: readonly string[]): Promise<Map<string, string>>;
  install(
    packages: readonly { name: string; version?: string }[],
    options: { refresh: boolean; fromrepo?: string },
  ): Promise<CommandOutput>;
  remove(names: readonly string[]): Promise<CommandOutput>;
}

const APT_ENV = { DEBIAN_FRONTEND: 'noninteractive', APT_LISTCHANGES_FRONTEND: 'none' };

/** Debian's dpkg-query and apt-get, found on the runtime's PATH. */
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
      if (names.length === 0) return versions;
      // Unknown packages make dpkg-query exit 1 and complain on stderr; the known ones still print.
      const out = await commands.run({
        argv: ['dpkg-query', '-W', '-f=${Package}\\t${Status}\\t${Version}\\n', '--', ...names],
      });
      for (const line of out.stdout.split('\n')) {
        const [name, status, version] = line.split('\t');
        if (name && status?.endsWith(' installed') && version !== undefined) versions.set(name, version);
      }
      if (out.retcode !== 0 && out.retcode !== 1)
        throw new Error(`dpkg-query failed (exit ${out.retcode}): ${out.stderr.trim()}`);
      return versions;
    },
    async install(packages, options) {
      if (options.refresh) {
        const update = await commands.run({ argv: ['apt-get', '-q', 'update'], env: APT_ENV });
        if (update.retcode !== 0) return update;
      }
      const specs = packages.map((p) => (p.version === undefined ? p.name : `${p.name}=${p.version}`));
      return commands.run({
        argv: [
          'apt-get',
          '-q',
          '-y',
          '-o',
          'DPkg::Options::=--force-confold',
          '-o',
          'DPkg::Options::=--force-confdef',
          ...(options.fromrepo === undefined ? [] : ['-t', options.fromrepo]),
          'install',
          '--',
          ...specs,
        ],
        env: APT_ENV,
      });
    },
    remove(names) {
      return commands.run({ argv: ['apt-get', '-q', '-y', 'remove', '--', ...names], env: APT_ENV });
    },
  };
}
