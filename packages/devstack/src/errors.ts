import { PhoenixError } from '@phoenix/protocol';

export const DevstackErrorCodes = {
  START_FAILED: 'PHX_DEVSTACK_START_FAILED',
  PORT_IN_USE: 'PHX_DEVSTACK_PORT_IN_USE',
} as const;

export class DevstackError extends PhoenixError {
  constructor(code: (typeof DevstackErrorCodes)[keyof typeof DevstackErrorCodes], message: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'DevstackError';
  }
}
