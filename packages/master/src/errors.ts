import { PhoenixError } from '@phoenix/protocol';

/** Every error code the master raises, in one place. */
export const MasterErrorCodes = {
  START_FAILED: 'PHX_MASTER_START_FAILED',
  UNAUTHORIZED: 'PHX_API_UNAUTHORIZED',
  FORBIDDEN: 'PHX_API_FORBIDDEN',
  BAD_REQUEST: 'PHX_API_BAD_REQUEST',
  NOT_FOUND: 'PHX_API_NOT_FOUND',
  NO_MINIONS: 'PHX_JOB_NO_MINIONS',
  /** An input over one of the documented limits (depth, size, keys, string length): refused whole. */
  OVER_LIMIT: 'PHX_INPUT_OVER_LIMIT',
  /** A fair share is used up (waiting requests of one minion, streams of one token): ask again later. */
  BUSY: 'PHX_MASTER_BUSY',
  /** An orchestration SLS that does not render, or whose steps cannot run (unknown function, bad argument, cycle). */
  ORCHESTRATION_INVALID: 'PHX_ORCHESTRATION_INVALID',
  /** This master no longer holds a run's lease: another master drives it now (never shown to a caller). */
  RUN_LEASE_LOST: 'PHX_RUN_LEASE_LOST',
} as const;
export type MasterErrorCode = (typeof MasterErrorCodes)[keyof typeof MasterErrorCodes];

export class MasterError extends PhoenixError {
  constructor(
    code: MasterErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
    this.name = 'MasterError';
  }
}
