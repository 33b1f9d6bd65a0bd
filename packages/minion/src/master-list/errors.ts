import { PhoenixError } from '@phoenix/protocol';

/** Every code the master-list manager reports, so a user can search for the one they were shown. */
export const MasterListErrorCodes = {
  /** The masters table could not be read (unreachable, no permission, or a row that fails its schema). */
  TABLE_UNREADABLE: 'PHX_MASTER_LIST_TABLE_UNREADABLE',
  /** A pushed master or a live table row is not a usable address; the whole list is refused. */
  INVALID_MASTER: 'PHX_MASTER_LIST_INVALID_MASTER',
  /** The list would be empty: a minion never trades the masters it knows for none. */
  NO_LIVE_MASTER: 'PHX_MASTER_LIST_NO_LIVE_MASTER',
  /** The config file or Salt drop-in is not a YAML mapping; it is left as it is rather than overwritten. */
  FILE_INVALID: 'PHX_MASTER_LIST_FILE_INVALID',
  WRITE_FAILED: 'PHX_MASTER_LIST_WRITE_FAILED',
  /** The Salt restart command failed, timed out or could not start; it is tried again at the next refresh. */
  RESTART_FAILED: 'PHX_MASTER_LIST_RESTART_FAILED',
  /** `master-list` needs `aws` in the config to find the masters table. */
  NO_TABLE: 'PHX_MASTER_LIST_NO_TABLE',
  /** Anything else: a bug; the message says what failed. */
  INTERNAL: 'PHX_MASTER_LIST_INTERNAL',
} as const;

export type MasterListErrorCode = (typeof MasterListErrorCodes)[keyof typeof MasterListErrorCodes];

export class MasterListError extends PhoenixError {
  constructor(
    code: MasterListErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
    this.name = 'MasterListError';
  }
}
