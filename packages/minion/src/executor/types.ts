/** A job as the minion received it. `key=value` strings in `args` were already parsed by the CLI. */
export interface Job {
  readonly jid: string;
  readonly fun: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** Stop the job (and any child process) after this long; it then returns failed. */
  readonly timeoutMs?: number;
  /** Wait a random time up to this before running (see splayDelay); the timeout counts from the end of it. */
  readonly splayMs?: number;
}

/** What a job returns, shaped like Salt's return: `success` is `retcode === 0`. */
export interface JobOutcome {
  success: boolean;
  retcode: number;
  ret: unknown;
  startedAt: number;
  finishedAt: number;
}

/** One entry of saltutil.running; a frozen copy. */
export interface RunningJob {
  readonly jid: string;
  readonly fun: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>>;
  readonly startedAt: number;
  /** The child process the job is waiting on, if any. */
  readonly pid: number | null;
}

/** Time is a parameter: tests and the benchmark may pass their own. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** The executor's running-job table as module functions see it (saltutil.*). */
export interface JobControl {
  running(): readonly RunningJob[];
  /** Aborts a running job; false when no job with that jid is running. */
  kill(jid: string): boolean;
}
