import { PhoenixError } from '@phoenix/protocol';
import { MinionErrors } from '../errors.js';

export class ArgumentError extends PhoenixError {
  constructor(message: string, argument?: string) {
    super(MinionErrors.PHX_EXEC_BAD_ARGUMENTS, message, argument === undefined ? {} : { details: { argument } });
    this.name = 'ArgumentError';
  }
}

/** Thrown by a module function that ran into a problem it can describe; the job returns "ERROR: <message>". */
export class ExecutionError extends PhoenixError {
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(MinionErrors.PHX_EXEC_FAILED, message, options);
    this.name = 'ExecutionError';
  }
}

/** The abort reason of a job stopped by saltutil.kill_job (or the minion shutting down). */
export class JobKilledError extends PhoenixError {
  constructor(jid: string) {
    super(MinionErrors.PHX_EXEC_KILLED, `job ${jid} was killed`, { details: { jid } });
    this.name = 'JobKilledError';
  }
}

/** The abort reason of a job that ran past its timeout. */
export class JobTimeoutError extends PhoenixError {
  constructor(jid: string, timeoutMs: number) {
    super(MinionErrors.PHX_EXEC_TIMEOUT, `job ${jid} timed out after ${timeoutMs} ms and was stopped`, {
      details: { jid, timeoutMs },
    });
    this.name = 'JobTimeoutError';
  }
}
