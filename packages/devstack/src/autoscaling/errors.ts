import { PhoenixError } from '@phoenix/protocol';
import { DevstackErrors } from '../errors.js';

/** The error codes AWS Auto Scaling answers with (the `<Code>` of an `ErrorResponse`). */
export type AwsErrorCode =
  | 'ValidationError'
  | 'AlreadyExists'
  | 'ResourceInUse'
  | 'LimitExceeded'
  | 'InvalidAction'
  | 'MissingAction'
  | 'RequestEntityTooLarge'
  | 'InternalFailure';

/**
 * A request AWS would refuse. The state machine throws it before changing anything, and the
 * HTTP server turns it into AWS's `ErrorResponse`, so callers of either see AWS's own answer.
 */
export class AutoScalingRequestError extends PhoenixError {
  readonly awsCode: AwsErrorCode;
  readonly httpStatus: number;

  constructor(awsCode: AwsErrorCode, message: string, httpStatus = 400) {
    super(DevstackErrors.PHX_DEVSTACK_ASG_REQUEST_REJECTED, message, { details: { awsCode } });
    this.name = 'AutoScalingRequestError';
    this.awsCode = awsCode;
    this.httpStatus = httpStatus;
  }
}

export function validationError(message: string): AutoScalingRequestError {
  return new AutoScalingRequestError('ValidationError', message);
}
