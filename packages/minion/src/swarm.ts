import { join } from 'node:path';
import { Context } from 'zeromq';
import type { Logger } from 'pino';
import { RenderWorkers } from '@phoenix/state';
import { MinionConfigSchema, type MinionConfig } from './config.js';
import { startMinion, type Minion } from './minion.js';

/**
 * A swarm: many independent minions in one process, for benchmarks and load tests. Each has its
 * own id, key pair (`<pkiDir>/<id>`) and cache (`<cacheDir>/<id>`); they share one ZeroMQ context,
 * whose socket limit is raised to fit them (libzmq's default of 1023 would stop a big swarm).
 */
export interface SwarmOptions {
  count: number;
  idPrefix: string;
  /** Minions started at once: bounds the burst of key generation and enrolment at start-up. */
  startConcurrency?: number;
  /** Told how many minions have started, after each one (a long start says how far it got). */
  onStarted?: (started: number) => void;
  log: Logger;
}

export interface Swarm {
  readonly minions: readonly Minion[];
  /** Masters-table reads of all its minions so far. */
  mastersTableReads(): number;
  stop(): Promise<void>;
}

/** `<prefix>-00001`, …: zero-padded so ids sort in start order and glob as `<prefix>-*`. */
export function swarmMinionId(prefix: string, index: number): string {
  return `${prefix}-${String(index + 1).padStart(5, '0')}`;
}

/** The per-minion config: the shared file's settings with id, pkiDir and cacheDir derived. */
export function swarmMinionConfig(base: MinionConfig, id: string): MinionConfig {
  return MinionConfigSchema.parse({ ...base, id, pkiDir: join(base.pkiDir, id), cacheDir: join(base.cacheDir, id) });
}

export async function startSwarm(base: MinionConfig, options: SwarmOptions): Promise<Swarm> {
  const { count, idPrefix, log } = options;
  const concurrency = Math.max(1, options.startConcurrency ?? 50);
  // Each minion holds one ZeroMQ socket (two briefly while enrolling or moving masters).
  const context = new Context({ maxSockets: count * 2 + 64, ioThreads: 2 });
  // Template workers pass from one minion's state run to another's: a few threads, not one per minion.
  const renderWorkers = new RenderWorkers({ max: 4 });
  const minions: Minion[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      minions.push(
        await startMinion(swarmMinionConfig(base, swarmMinionId(idPrefix, index)), { context, log, renderWorkers }),
      );
      options.onStarted?.(minions.length);
    }
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all(
      minions.map((m) => m.stop().catch((err: unknown) => log.warn({ err, minionId: m.id }, 'stop failed'))),
    );
    await renderWorkers.close();
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { minions, stop: stopAll, mastersTableReads: () => minions.reduce((sum, m) => sum + m.mastersTableReads, 0) };
}
