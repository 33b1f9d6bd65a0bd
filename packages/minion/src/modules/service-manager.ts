import type { CommandOutput } from './commands.js';

/** A service manager as service states use it: systemd, or sysvinit where systemd does not run. */
export interface ServiceManager {
  missing(): Promise<string | undefined>;
  /** False when the manager has no such unit. */
  exists(name: string): Promise<boolean>;
  isActive(name: string): Promise<boolean>;
  isEnabled(name: string): Promise<boolean>;
  act(action: 'start' | 'stop' | 'restart' | 'reload' | 'enable' | 'disable', name: string): Promise<CommandOutput>;
}
