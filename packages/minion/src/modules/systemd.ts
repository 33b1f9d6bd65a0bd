import type { Commands } from './commands.js';
import type { ServiceManager } from './service-manager.js';

/** systemd's states in which it manages units (is-system-running prints one of these). */
const SYSTEMD_UP = new Set(['running', 'degraded', 'starting', 'initializing', 'maintenance']);

/** systemctl, found on the runtime's PATH, talking to a running systemd. */
export function systemdServices(commands: Commands): ServiceManager {
  const systemctl = (...args: string[]) => commands.run({ argv: ['systemctl', ...args] });
  return {
    async missing() {
      if ((await commands.which('systemctl')) === undefined) {
        return 'systemctl not found on PATH (service states manage systemd units)';
      }
      // Installed is not enough: in a container systemctl exists but no systemd runs (is-system-running: offline).
      const state = (await systemctl('is-system-running')).stdout.trim().split('\n')[0] ?? '';
      return SYSTEMD_UP.has(state)
        ? undefined
        : `systemd is not running on this host (systemctl is-system-running says '${state || 'nothing'}')`;
    },
    async exists(name) {
      const out = await systemctl('show', '--property=LoadState', '--value', '--', name);
      const state = out.stdout.trim();
      return out.retcode === 0 && state !== 'not-found' && state !== '';
    },
    async isActive(name) {
      return (await systemctl('is-active', '--quiet', '--', name)).retcode === 0;
    },
    async isEnabled(name) {
      return (await systemctl('is-enabled', '--quiet', '--', name)).retcode === 0;
    },
    act(action, name) {
      return systemctl(action, '--', name);
    },
  };
}
