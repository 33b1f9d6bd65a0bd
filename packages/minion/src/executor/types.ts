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
