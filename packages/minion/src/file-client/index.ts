import { CachedFiles } from '@phoenix/state';
import type { StateModuleOptions } from '../state/state-module.js';
import { RemoteFiles, RemotePillar, type MasterRequest } from './remote-files.js';

export { RemoteFiles, RemotePillar, type MasterRequest } from './remote-files.js';

/**
 * Salt's `file_client: remote`: states from the connected master's file server, cached by content
 * hash in the minion's cache directory; pillar rendered by the master for this minion alone.
 */
export function remoteStateOptions(
  request: MasterRequest,
  options: { cacheDir: string; timeoutMs: number },
): Pick<StateModuleOptions, 'files' | 'pillar'> {
  return {
    files: new CachedFiles(new RemoteFiles(request, options.timeoutMs), options.cacheDir),
    pillar: new RemotePillar(request, options.timeoutMs),
  };
}
