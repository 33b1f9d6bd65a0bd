import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { stopProcess } from '@phoenix/devstack/processes';

/** This file is dist/src/local/instance-process.js; the preload sits next to it. */
const PARENT_WATCH = new URL('./parent-watch.js', import.meta.url).href;

type Exit = { code: number | null; signal: NodeJS.Signals | null };

export interface InstanceProcess {
  readonly pid: number;
  /** Resolves with how the process ended, whoever ended it. */
  readonly exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Safe to call again. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Runs `node BIN --config FILE` as one instance's program, its stdout and stderr appended to
 * `logPath`. The program runs in its own process group, so a Ctrl-C at the terminal reaches only
 * `phoenix up`, which stops its instances itself (and in order); the parent-watch preload ends it
 * if `phoenix up` dies without doing so.
 */
export async function startInstanceProcess(bin: string, configPath: string, logPath: string): Promise<InstanceProcess> {
  const log = await open(logPath, 'a', 0o600);
  let child: ChildProcess;
  let exited: Promise<Exit>;
  try {
    child = spawn(process.execPath, ['--import', PARENT_WATCH, bin, '--config', configPath], {
      stdio: ['pipe', log.fd, log.fd],
      detached: true,
    });
    exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    // The pipe is only held, never written; an EPIPE after the child's exit is expected.
    child.stdin?.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } finally {
    // The child has its own copy of the descriptor.
    await log.close();
  }
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid as number,
    exited,
    stop: (graceMs) => (stopping ??= stopProcess(child, graceMs)),
  };
}
