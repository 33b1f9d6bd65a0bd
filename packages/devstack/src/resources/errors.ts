import { PhoenixError } from '@phoenix/protocol';
import { DevstackErrors } from '../errors.js';

/**
 * A request EC2, IAM or CloudWatch would refuse, with AWS's own code (`InvalidGroup.NotFound`,
 * `NoSuchEntity`, `ResourceNotFound`, …). The stores throw it before changing anything; the
 * server writes it in the refusing service's own error shape.
 */
export class AwsResourceError extends PhoenixError {
  readonly awsCode: string;
  readonly httpStatus: number;

  constructor(awsCode: string, message: string, httpStatus = 400) {
    super(DevstackErrors.PHX_DEVSTACK_AWS_REQUEST_REJECTED, message, { details: { awsCode } });
    this.name = 'AwsResourceError';
    this.awsCode = awsCode;
    this.httpStatus = httpStatus;
  }
}
