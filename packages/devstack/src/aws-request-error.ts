import { PhoenixError } from '@phoenix/protocol';
import { DevstackErrors } from './errors.js';

/**
 * A request AWS would refuse, with AWS's own code (`ValidationError`, `InvalidGroup.NotFound`,
 * `NoSuchEntity`, `LoadBalancerNotFound`, …). The simulator and the resource emulator throw it
 * before changing anything; each server writes it in the refusing service's own error shape, so
 * callers of either see AWS's own answer.
 */
export class AwsRequestError extends PhoenixError {
  readonly awsCode: string;
  readonly httpStatus: number;

  constructor(awsCode: string, message: string, httpStatus = 400) {
    super(DevstackErrors.PHX_DEVSTACK_AWS_REQUEST_REJECTED, message, { details: { awsCode } });
    this.name = 'AwsRequestError';
    this.awsCode = awsCode;
    this.httpStatus = httpStatus;
  }
}
