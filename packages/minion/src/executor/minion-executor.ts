import type { Logger } from 'pino';
import { ownDirectories } from '@phoenix/state';
import type { RenderWorkers } from '@phoenix/state';
import type { MinionConfig } from '../config.js';
import { gatherCoreGrains, GrainStore } from '../grains/index.js';
import { createHostModules, createModuleRegistry } from '../modules/index.js';
import { createStateModules } from '../state/state-module.js';
import type { StateModuleOptions } from '../state/state-module.js';
import { builtinStateModules } from '../state/functions/registry.js';
import { readKillswitch, reflectKillswitch } from '../state/run/killswitch.js';
import { Executor } from './executor.js';

export const MINION_VERSION = '0.1.0';

/**
 * A minion's grains and executor, with the state module reading files and pillar from `files`:
 * the connected minion passes its master's file server, `phoenix call --local` the local roots.
 */
export async function createMinionExecutor(
  config: MinionConfig,
  options: {
    id: string;
    instanceId?: string;
    log: Logger;
    files: Pick<StateModuleOptions, 'files' | 'pillar' | 'pillarFiles'>;
    /** Where event.send goes (the master connection); masterless, nowhere. */
    sendEvent?: (tag: string, data: Record<string, unknown>) => boolean;
    /** Template workers shared with other minions of this process (a swarm); by default its own. */
    renderWorkers?: RenderWorkers;
  },
): Promise<{ grains: GrainStore; executor: Executor }> {
  const core = await gatherCoreGrains({
    minionId: options.id,
    ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
    ...(config.autoscalingGroup === undefined ? {} : { autoscalingGroupName: config.autoscalingGroup }),
    version: MINION_VERSION,
  });
  // Salt's static grains from the minion config (the id stays the minion's own).
  const { id: _id, ...staticGrains } = config.grains;
  const grains = await GrainStore.open({
    core: { ...core, ...staticGrains },
    cacheDir: config.cacheDir,
    logger: options.log,
  });
  // The killswitch survives restarts: the masters must hear of it in the first grains they get.
  reflectKillswitch(grains, await readKillswitch(config.cacheDir));
  // Salt's opts in templates; the directories it names are the minion's own (see pathOnHost).
  const opts = {
    id: options.id,
    file_client: config.fileClient,
    ...(config.fileClient === 'local' ? { file_roots: config.fileRoots, pillar_roots: config.pillarRoots } : {}),
    cachedir: config.cacheDir,
  };
  const executor = new Executor({
    minionId: options.id,
    grains,
    logger: options.log,
    cacheDir: config.cacheDir,
    version: MINION_VERSION,
    ...(options.sendEvent === undefined ? {} : { sendEvent: options.sendEvent }),
    modules: createModuleRegistry([
      ...createHostModules({ root: config.state.root, files: options.files.files, hostDirs: ownDirectories(opts) }),
      ...createStateModules({
        ...options.files,
        root: config.state.root,
        failhard: config.state.failhard,
        stateTop: config.state.top,
        test: config.state.test,
        renderTimeoutMs: config.state.renderTimeoutMs,
        jinja: { trimBlocks: config.state.jinjaTrimBlocks, lstripBlocks: config.state.jinjaLstripBlocks },
        opts,
        stateModules: builtinStateModules({ settings: config.aws, profiles: config.awsProfiles }),
        ...(options.renderWorkers === undefined ? {} : { renderWorkers: options.renderWorkers }),
      }),
    ]),
  });
  return { grains, executor };
}
