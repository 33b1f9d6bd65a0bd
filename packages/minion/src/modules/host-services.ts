import type { Commands } from './commands.js';
import { ExecutionError } from './errors.js';
import type { ServiceManager } from './service-manager.js';
import { systemdServices } from './systemd.js';
import { sysvinitServices } from './sysvinit.js';

/**
 * The host's service manager, chosen as Salt chooses its service module: systemd when it runs,
 * else Debian's sysvinit scripts (`service`, update-rc.d); when neither is here, `missing` says why.
 */
export function hostServices(
  commands: Commands,
  sysvinit: (commands: Commands) => ServiceManager = sysvinitServices,
): ServiceManager {
  let chosen: Promise<ServiceManager | string> | undefined;
  const choose = (): Promise<ServiceManager | string> =>
    (chosen ??= (async () => {
      const systemd = systemdServices(commands);
      const noSystemd = await systemd.missing();
      if (noSystemd === undefined) return systemd;
      const scripts = sysvinit(commands);
      const noScripts = await scripts.missing();
      return noScripts === undefined ? scripts : `${noSystemd}, and ${noScripts}`;
    })());
  const manager = async (): Promise<ServiceManager> => {
    const found = await choose();
    if (typeof found === 'string') throw new ExecutionError(found);
    return found;
  };
  return {
    missing: async () => {
      const found = await choose();
      return typeof found === 'string' ? found : undefined;
    },
    exists: async (name) => (await manager()).exists(name),
    isActive: async (name) => (await manager()).isActive(name),
    isEnabled: async (name) => (await manager()).isEnabled(name),
    act: async (action, name) => (await manager()).act(action, name),
  };
}
