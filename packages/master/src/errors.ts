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
  /** A git root is configured and the git command does not run. */
  GIT_MISSING: 'PHX_GIT_MISSING',
  /** A git command failed: a fetch (remote unreachable, refused credentials), a missing ref. */
  GIT_FAILED: 'PHX_GIT_FAILED',
  /** A remote's ref moved back to an ancestor of the commit served (a forced push): not followed. */
  GIT_REF_MOVED_BACK: 'PHX_GIT_REF_MOVED_BACK',
  /** A fetched commit is not served: its top file does not render, or its tree is too large. */
  GIT_TREE_INVALID: 'PHX_GIT_TREE_INVALID',
  /** A state run's revision names a commit this master does not have and cannot fetch. */
  GIT_REVISION_UNKNOWN: 'PHX_GIT_REVISION_UNKNOWN',
  /** The token or key of a git remote could not be read from its file or AWS secret. */
  GIT_SECRET_UNREADABLE: 'PHX_GIT_SECRET_UNREADABLE',
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
