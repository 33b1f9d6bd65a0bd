import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { abortableDelay } from '../../modules/abortable-delay.js';
import { StateErrors } from '@phoenix/state';
import { PhoenixError } from '@phoenix/protocol';

/** In the minion's cache directory: `phoenix call --local` and the daemon share it. */
export const RUN_LOCK_FILE = 'state-run.lock';
/** Held only while a stale lock is being replaced; older than this, its holder died mid-way. */
const TAKEOVER_STALE_MS = 10_000;

/** Who holds a minion's state run. */
export interface RunOwner {
  readonly jid: string;
  readonly fun: string;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
}

export interface LockHolder extends RunOwner {
  readonly pid: number;
}

interface Waiter {
  readonly owner: RunOwner;
  readonly grant: () => void;
}

export interface RunLockOptions {
  /** How often a queued run looks at the lock file again. Default 100 ms. */
  readonly pollMs?: number;
  /** This process (a parameter, so a test can play another one). */
  readonly pid?: number;
  /** Whether a process is alive (default: signal 0). */
  readonly isAlive?: (pid: number) => boolean;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One state run at a time per minion, as in Salt, across processes: two runs would fight over the
 * same files and services. Inside a process runs wait in line (first come, first served); across
 * processes a lock file in the cache directory names the holder's jid, function and PID. A second
 * run is refused with Salt's message, or with `queue` waits its turn (the job's signal still stops
 * the wait). A lock left by a process that died is taken over.
 */
export class StateRunLock {
  readonly #path: string;
  readonly #pollMs: number;
  readonly #pid: number;
  readonly #isAlive: (pid: number) => boolean;
  #holder: RunOwner | undefined;
  readonly #waiting: Waiter[] = [];

  constructor(cacheDir: string, options: RunLockOptions = {}) {
    this.#path = join(cacheDir, RUN_LOCK_FILE);
    this.#pollMs = options.pollMs ?? 100;
    this.#pid = options.pid ?? process.pid;
    this.#isAlive = options.isAlive ?? processAlive;
  }

  /** The run in progress on this minion, in this process or another; undefined when none (or a stale lock). */
  async holder(): Promise<LockHolder | undefined> {
    if (this.#holder) return { ...this.#holder, pid: this.#pid };
    const file = await this.#read();
    if (!file || !this.#live(file)) return undefined;
    return file;
  }

  /** Resolves with the release function once the run may start; refuses with the holder when busy. */
  async acquire(owner: RunOwner, options: { queue: boolean; signal: AbortSignal }): Promise<() => Promise<void>> {
    options.signal.throwIfAborted();
    if (this.#holder !== undefined) {
      if (!options.queue) throw busy({ ...this.#holder, pid: this.#pid });
      await this.#wait(owner, options.signal);
    } else this.#holder = owner;
    try {
      await this.#takeFile(owner, options);
    } catch (err) {
      this.#handOn(owner);
      throw err;
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.#releaseFile(owner).catch(() => undefined);
      this.#handOn(owner);
    };
  }

  #wait(owner: RunOwner, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        owner,
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index !== -1) this.#waiting.splice(index, 1);
        reject(signal.reason as unknown);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Hands the in-process turn straight to the next waiter, so no new run can slip in between. */
  #handOn(owner: RunOwner): void {
    if (this.#holder !== owner) return;
    const next = this.#waiting.shift();
    this.#holder = next?.owner;
    next?.grant();
  }

  async #takeFile(owner: RunOwner, options: { queue: boolean; signal: AbortSignal }): Promise<void> {
    const record: LockHolder = { ...owner, pid: this.#pid };
    await mkdir(join(this.#path, '..'), { recursive: true });
    for (;;) {
      options.signal.throwIfAborted();
      try {
        const handle = await open(this.#path, 'wx', 0o600);
        try {
          await handle.writeFile(`${JSON.stringify(record)}\n`);
        } finally {
          await handle.close();
        }
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const file = await this.#read();
      if (file === undefined || !this.#live(file)) {
        await this.#takeOver(file);
        continue;
      }
      if (!options.queue) throw busy(file);
      await abortableDelay(this.#pollMs, options.signal);
    }
  }

  /** Whether a lock record belongs to a run still going: its process lives (and is not us with no run). */
  #live(file: LockHolder): boolean {
    if (file.pid === this.#pid) return this.#holder?.jid === file.jid;
    return this.#isAlive(file.pid);
  }

  /** Removes a stale lock, one taker at a time, and only if it is still the stale one seen. */
  async #takeOver(seen: LockHolder | undefined): Promise<void> {
    const guard = `${this.#path}.takeover`;
    try {
      const handle = await open(guard, 'wx', 0o600);
      await handle.close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - ((await stat(guard).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (age > TAKEOVER_STALE_MS) await rm(guard, { force: true });
      return;
    }
    try {
      const now = await this.#read();
      if (JSON.stringify(now) === JSON.stringify(seen)) await rm(this.#path, { force: true });
    } finally {
      await rm(guard, { force: true });
    }
  }

  async #releaseFile(owner: RunOwner): Promise<void> {
    const file = await this.#read();
    if (file?.jid === owner.jid && file.pid === this.#pid) await rm(this.#path, { force: true });
  }

  /** The lock file's record; a file that cannot be read (being written, or garbage) reads as undefined. */
  async #read(): Promise<LockHolder | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const data = JSON.parse(text) as Partial<LockHolder>;
      if (typeof data.jid !== 'string' || typeof data.fun !== 'string' || typeof data.pid !== 'number')
        return undefined;
      return {
        jid: data.jid,
        fun: data.fun,
        pid: data.pid,
        startedAt: typeof data.startedAt === 'number' ? data.startedAt : 0,
      };
    } catch {
      return undefined;
    }
  }
}

const MONTHS = ['', 'Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Salt's jid_to_time: `2024, Jan 01 12:00:00.123456`. */
export function jidToTime(jid: string, fallback: number): string {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{6})$/.exec(jid);
  if (!m) return new Date(fallback).toISOString();
  return `${m[1]}, ${MONTHS[Number(m[2])] ?? m[2]} ${m[3]} ${m[4]}:${m[5]}:${m[6]}.${m[7]}`;
}

/** Salt's state.running line for a run in progress. */
export function runningMessage(holder: LockHolder): string {
  return `The function "${holder.fun}" is running as PID ${holder.pid} and was started at ${jidToTime(holder.jid, holder.startedAt)} with jid ${holder.jid}`;
}

export class StateBusyError extends PhoenixError {
  readonly holder: LockHolder;

  constructor(holder: LockHolder) {
    super(StateErrors.PHX_STATE_BUSY, runningMessage(holder), { details: { ...holder } });
    this.name = 'StateBusyError';
    this.holder = holder;
  }
}

function busy(holder: LockHolder): StateBusyError {
  return new StateBusyError(holder);
}
