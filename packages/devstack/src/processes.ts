import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

/**
 * Process helpers for whoever starts Phoenix processes and must not leave them behind: the test
 * harness, the benchmark, the auto-scaling simulator, the CLI's local cluster. Linux (/proc).
 */

/**
 * Stops a process this one started and resolves once it has exited: SIGCONT (a frozen process must
 * run to hear what follows), SIGTERM, then SIGKILL after `graceMs`. The one way Phoenix stops a
 * child: the test harness, the benchmark, the simulator's instances, `phoenix up`'s instances.
 */
export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
  child.stdin?.destroy();
}

/**
 * The same for a process known only by its pid (a detached `phoenix up`, started by an earlier
 * command): SIGCONT, SIGTERM, SIGKILL after `graceMs`, each end seen by polling /proc. Resolves
 * `stopped` (it ended by itself), `killed` (it needed SIGKILL) or `alive` (not even SIGKILL ended it
 * within `killWaitMs`).
 */
export async function stopPid(
  pid: number,
  graceMs = 5_000,
  killWaitMs = 5_000,
): Promise<'stopped' | 'killed' | 'alive'> {
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(pid, name);
    } catch {
      // gone already (or never ours to signal): the polling below says which
    }
  };
  signal('SIGCONT');
  signal('SIGTERM');
  if (await endsWithin(pid, graceMs)) return 'stopped';
  signal('SIGKILL');
  return (await endsWithin(pid, killWaitMs)) ? 'killed' : 'alive';
}

async function endsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (await isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** True while a process with this pid exists (and is not a zombie). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every process below `pid` in the process tree, read from /proc (Linux). */
export async function descendantPids(pid: number): Promise<number[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked: it is no descendant any more.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift() as number) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}
