/**
 * The base of every typed error in Phoenix. Each package defines its own codes (PHX_<AREA>_<WHAT>)
 * in one place, so a user can search for the code they were shown.
 */
export class PhoenixError extends Error {
  readonly code: string;
  /** Extra facts for logs and API bodies; never secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PhoenixError';
    this.code = code;
    this.details = Object.freeze({ ...options.details });
  }

  toJSON(): { code: string; message: string; details?: Record<string, unknown> } {
    return Object.keys(this.details).length > 0
      ? { code: this.code, message: this.message, details: { ...this.details } }
      : { code: this.code, message: this.message };
  }
}

export function isPhoenixError(err: unknown, code?: string): err is PhoenixError {
  return err instanceof PhoenixError && (code === undefined || err.code === code);
}

/** Codes shared by every package. */
export const ProtocolErrorCodes = {
  CONFIG_INVALID: 'PHX_CONFIG_INVALID',
  CONFIG_UNREADABLE: 'PHX_CONFIG_UNREADABLE',
  /** Something that must never happen did: the last-resort handler stops the process for it alone. */
  INVARIANT: 'PHX_INVARIANT',
} as const;
