import type { StateFiles } from '@phoenix/state';
import { createCpModule } from './cp.js';
import { createFileModule } from './file.js';
import type { HostOptions } from './host-context.js';
import { networkModule } from './network.js';
import { createPkgModule } from './pkg.js';
import { createServiceModule } from './service.js';
import { statusModule } from './status.js';
import type { ExecutionModule } from './types.js';

/** The modules that look at or act on the host: file, pkg, service, cp, network, status. */
export function createHostModules(options: HostOptions & { files: StateFiles }): ExecutionModule[] {
  return [
    createFileModule(options),
    createPkgModule(options),
    createServiceModule(options),
    createCpModule(options),
    networkModule,
    statusModule,
  ];
}
