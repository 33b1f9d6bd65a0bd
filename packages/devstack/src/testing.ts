/**
 * Test harness: every test file gets its own devstack on free loopback ports, its own temporary
 * directory and a register of the processes it starts, all torn down even when a test
 * fails. Imported by tests only (`@phoenix/devstack/testing`).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevstack, type Devstack, type DevstackDependencies } from './devstack.js';
import type { DevstackOptions } from './options.js';
import { stopProcess } from './processes.js';

export interface WaitOptions {
  /** What is awaited, for the error message when time runs out. */
  what: string;
  timeoutMs?: number;
  /** A fixed pause between probes; by default the pause starts at 25 ms and doubles up to 250 ms. */
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined/false, within a bound. A probe is
 * often an API call that reads the tables: the growing pause keeps a long wait from costing the
 * machine a request every 25 ms, while a condition that holds soon is still seen soon.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { what, timeoutMs = 10_000, intervalMs }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let pause = intervalMs ?? 25;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, Math.max(1, deadline - Date.now()))));
    if (intervalMs === undefined) pause = Math.min(pause * 2, 250);
  }
}

/**
 * Every process a `useProcesses` register of this test file started. The devstack stops them
 * before itself whatever order the hooks were registered in: node runs `after` hooks in
 * registration order, and a master still heartbeating into a stopped DynamoDB fails its test.
 */
const started = new Set<ChildProcess>();

/**
 * A devstack for this test file: started in `before`, stopped in `after` (after the processes).
 * `deps` as for startDevstack: a test may launch the simulated instances itself.
 */
export function useDevstack(options: DevstackOptions = {}, deps: DevstackDependencies = {}): () => Devstack {
  let devstack: Devstack | undefined;
  before(async () => {
    devstack = await startDevstack({ tablePrefix: `t${process.pid}${Date.now().toString(36)}`, ...options }, deps);
  });
  after(async () => {
    await Promise.all([...started].map((child) => stopProcess(child)));
    await devstack?.stop();
  });
  return () => {
    if (devstack === undefined) assert.fail('the devstack is used before it started');
    return devstack;
  };
}

/** A temporary directory for this test file, removed in `after`. */
export function useTempDir(prefix = 'phoenix-test-'): () => string {
  let dir: string | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    // Removed when the test process exits, after every `after` hook: node runs those in the order
    // they were registered, and a hook registered later (say, `phoenix down`) may still need it.
    const made = dir;
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
  });
  return () => {
    if (dir === undefined) assert.fail('the temporary directory is used before it was made');
    return dir;
  };
}

export interface ProcessRegister {
  /** Starts a process that `after` will stop (SIGTERM, then SIGKILL), with its output kept for errors. */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** What a process wrote to stdout and stderr so far. */
  output(child: ChildProcess): string;
}

export function useProcesses(): ProcessRegister {
  const children = new Map<ChildProcess, string[]>();
  after(async () => {
    await Promise.all([...children.keys()].map((child) => stopProcess(child)));
  });
  return {
    spawn(command, args, options = {}) {
      const child = spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'], ...options });
      const out: string[] = [];
      child.stdout?.on('data', (chunk: Buffer) => out.push(chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => out.push(chunk.toString()));
      children.set(child, out);
      started.add(child);
      return child;
    },
    output(child) {
      return (children.get(child) ?? []).join('');
    },
  };
}

export { descendantPids, isRunning, stopProcess } from './processes.js';
