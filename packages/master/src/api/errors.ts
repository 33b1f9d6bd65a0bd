import { PhoenixError } from '@phoenix/protocol';

/** Codes only the HTTP API raises (the master's own vocabulary is in ../errors.ts). */
export const ApiErrorCodes = {
  RATE_LIMITED: 'PHX_API_RATE_LIMITED',
  BODY_TOO_LARGE: 'PHX_API_BODY_TOO_LARGE',
  INTERNAL: 'PHX_API_INTERNAL',
  NOT_READY: 'PHX_API_NOT_READY',
} as const;

export class ApiError extends PhoenixError {
  constructor(
    code: (typeof ApiErrorCodes)[keyof typeof ApiErrorCodes],
    message: string,
    details: Record<string, unknown> = {},
  ) {
    super(code, message, { details });
    this.name = 'ApiError';
  }
}
