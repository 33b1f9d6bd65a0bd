import { AwsRequestError } from '../aws-request-error.js';

/** Auto Scaling's answer to a request it cannot take (`<Code>ValidationError</Code>`). */
export function validationError(message: string): AwsRequestError {
  return new AwsRequestError('ValidationError', message);
}
