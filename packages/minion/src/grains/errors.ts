import { PhoenixError } from '@phoenix/protocol';

/** Every code the grains layer throws, so a user can search for the one they were shown. */
export const GrainErrorCodes = {
  FILE_INVALID: 'PHX_GRAINS_FILE_INVALID',
  FILE_UNREADABLE: 'PHX_GRAINS_FILE_UNREADABLE',
  WRITE_FAILED: 'PHX_GRAINS_WRITE_FAILED',
  INVALID_GRAIN: 'PHX_GRAINS_INVALID_GRAIN',
  READ_ONLY: 'PHX_GRAINS_READ_ONLY',
} as const;

export type GrainErrorCode = (typeof GrainErrorCodes)[keyof typeof GrainErrorCodes];

export class GrainError extends PhoenixError {
  constructor(
    code: GrainErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
    this.name = 'GrainError';
  }
}
