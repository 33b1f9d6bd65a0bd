import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { GrainStore } from '../grains/grain-store.js';
import type { ModuleRegistry } from '../modules/registry.js';
import { Executor } from './executor.js';

/** An executor on a fresh temp cache directory, for tests of the minion and its modules. */
export interface TestExecutor {
  executor: Executor;
  grains: GrainStore;
  cacheDir: string;
  /** Kills what is still running and removes the cache directory. */
  close(): Promise<void>;
}

export async function createTestExecutor(
  options: { minionId?: string; core?: Record<string, unknown>; modules?: ModuleRegistry; version?: string } = {},
): Promise<TestExecutor> {
  const minionId = options.minionId ?? 'test-minion';
  const cacheDir = await mkdtemp(join(tmpdir(), 'phoenix-executor-'));
  const grains = await GrainStore.open({ core: options.core ?? { id: minionId, os: 'Debian' }, cacheDir });
  const executor = new Executor({
    minionId,
    grains,
    logger: pino({ level: 'silent' }),
    cacheDir,
    version: options.version ?? '0.0.0-test',
    ...(options.modules === undefined ? {} : { modules: options.modules }),
  });
  return {
    executor,
    grains,
    cacheDir,
    close: async () => {
      await executor.killAll();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` until it holds (resolving its value) or `timeoutMs` passes (rejecting with `what`). */
export async function waitFor<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
