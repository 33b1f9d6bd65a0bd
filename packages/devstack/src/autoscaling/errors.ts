import { PhoenixError } from '@phoenix/protocol';

export const AutoScalingErrorCodes = {
  /** The simulator's own configuration is wrong (a programming or options error, at construction). */
  CONFIG_INVALID: 'PHX_DEVSTACK_ASG_CONFIG_INVALID',
  /** A caller's request was refused the way AWS Auto Scaling refuses it; `awsCode` says how. */
  REQUEST_REJECTED: 'PHX_DEVSTACK_ASG_REQUEST_REJECTED',
  /** `waitFor` ran out of time. */
  WAIT_TIMEOUT: 'PHX_DEVSTACK_ASG_WAIT_TIMEOUT',
} as const;

/** The error codes AWS Auto Scaling answers with (the `<Code>` of an `ErrorResponse`). */
export type AwsErrorCode =
  'ValidationError' | 'InvalidAction' | 'MissingAction' | 'RequestEntityTooLarge' | 'InternalFailure';

/**
 * A request AWS would refuse. The state machine throws it before changing anything, and the
 * HTTP server turns it into AWS's `ErrorResponse`, so callers of either see AWS's own answer.
 */
export class AutoScalingRequestError extends PhoenixError {
  readonly awsCode: AwsErrorCode;
  readonly httpStatus: number;

  constructor(awsCode: AwsErrorCode, message: string, httpStatus = 400) {
    super(AutoScalingErrorCodes.REQUEST_REJECTED, message, { details: { awsCode } });
    this.name = 'AutoScalingRequestError';
    this.awsCode = awsCode;
    this.httpStatus = httpStatus;
  }
}

export function validationError(message: string): AutoScalingRequestError {
  return new AutoScalingRequestError('ValidationError', message);
}
