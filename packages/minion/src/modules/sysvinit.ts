import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Commands } from './commands.js';
import type { ServiceManager } from './service-manager.js';

/** Where Debian keeps init scripts and their boot links. */
export interface SysvinitDirs {
  /** `/etc/init.d` */
  readonly initDir: string;
  /** `/etc`: the `rc<level>.d` directories are here. */
  readonly rcDir: string;
}

const DEBIAN_DIRS: SysvinitDirs = { initDir: '/etc/init.d', rcDir: '/etc' };

/**
 * Debian without systemd (a container, an old host), as Salt's debian_service: init scripts in
 * /etc/init.d, `service NAME start|stop|status...`, boot links by update-rc.d. A service is
 * enabled when it has a start link in rcS.d or in the current runlevel's rc directory.
 */
export function sysvinitServices(commands: Commands, dirs: SysvinitDirs = DEBIAN_DIRS): ServiceManager {
  const service = (name: string, action: string) => commands.run({ argv: ['service', name, action] });
  const runlevel = async () => {
    if ((await commands.which('runlevel')) === undefined) return '2';
    const level = (await commands.run({ argv: ['runlevel'] })).stdout.trim().split(/\s+/)[1] ?? '';
    return /^[0-6]$/.test(level) ? level : '2';
  };
  return {
    async missing() {
      return (await commands.which('service')) === undefined
        ? 'service not found on PATH (for sysvinit init scripts)'
        : undefined;
    },
    async exists(name) {
      if (name.includes('/') || name === 'README') return false;
      return (await stat(join(dirs.initDir, name)).catch(() => undefined))?.isFile() === true;
    },
    async isActive(name) {
      return (await service(name, 'status')).retcode === 0;
    },
    async isEnabled(name) {
      const start = new RegExp(`^S\\d+${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
      for (const rc of ['S', await runlevel()]) {
        const links = await readdir(join(dirs.rcDir, `rc${rc}.d`)).catch(() => [] as string[]);
        if (links.some((link) => start.test(link))) return true;
      }
      return false;
    },
    async act(action, name) {
      if (action === 'enable') {
        const defaults = await commands.run({ argv: ['update-rc.d', name, 'defaults'] });
        if (defaults.retcode !== 0) return defaults;
        return commands.run({ argv: ['update-rc.d', name, 'enable'] });
      }
      if (action === 'disable') return commands.run({ argv: ['update-rc.d', name, 'disable'] });
      return service(name, action);
    },
  };
}
