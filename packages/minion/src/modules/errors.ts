import { PhoenixError } from '@phoenix/protocol';

/** Every code the executor and its modules throw, so a user can search for the one they were shown. */
export const ExecutorErrorCodes = {
  /** The arguments do not fit the function's signature or schema. */
  BAD_ARGUMENTS: 'PHX_EXEC_BAD_ARGUMENTS',
  /** A function ran and could not do what was asked (Salt's CommandExecutionError). */
  FAILED: 'PHX_EXEC_FAILED',
  KILLED: 'PHX_EXEC_KILLED',
  TIMEOUT: 'PHX_EXEC_TIMEOUT',
  /** Two modules with the same name in one registry. */
  DUPLICATE_MODULE: 'PHX_EXEC_DUPLICATE_MODULE',
} as const;

export class ArgumentError extends PhoenixError {
  constructor(message: string, argument?: string) {
    super(ExecutorErrorCodes.BAD_ARGUMENTS, message, argument === undefined ? {} : { details: { argument } });
    this.name = 'ArgumentError';
  }
}

/** Thrown by a module function that ran into a problem it can describe; the job returns "ERROR: <message>". */
export class ExecutionError extends PhoenixError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(ExecutorErrorCodes.FAILED, message, options);
    this.name = 'ExecutionError';
  }
}

/** The abort reason of a job stopped by saltutil.kill_job (or the minion shutting down). */
export class JobKilledError extends PhoenixError {
  constructor(jid: string) {
    super(ExecutorErrorCodes.KILLED, `job ${jid} was killed`, { details: { jid } });
    this.name = 'JobKilledError';
  }
}

/** The abort reason of a job that ran past its timeout. */
export class JobTimeoutError extends PhoenixError {
  constructor(jid: string, timeoutMs: number) {
    super(ExecutorErrorCodes.TIMEOUT, `job ${jid} timed out after ${timeoutMs} ms and was stopped`, {
      details: { jid, timeoutMs },
    });
    this.name = 'JobTimeoutError';
  }
}
