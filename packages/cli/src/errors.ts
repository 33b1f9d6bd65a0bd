import { PhoenixError } from '@phoenix/protocol/errors';

export const CliErrorCodes = {
  USAGE: 'PHX_CLI_USAGE',
  NO_LOCAL_CLUSTER: 'PHX_CLI_NO_LOCAL_CLUSTER',
  LOCAL_CLUSTER_RUNNING: 'PHX_CLI_LOCAL_CLUSTER_RUNNING',
  LOCAL_CLUSTER_FAILED: 'PHX_CLI_LOCAL_CLUSTER_FAILED',
  CONNECTION_FILE_INVALID: 'PHX_CLI_CONNECTION_FILE_INVALID',
  AWS_REQUEST_FAILED: 'PHX_CLI_AWS_REQUEST_FAILED',
  NO_API: 'PHX_CLI_NO_API',
  API_UNREACHABLE: 'PHX_CLI_API_UNREACHABLE',
  API_ERROR: 'PHX_CLI_API_ERROR',
  JOB_INCOMPLETE: 'PHX_CLI_JOB_INCOMPLETE',
  CLUSTER_KEYS_EXIST: 'PHX_CLI_CLUSTER_KEYS_EXIST',
  CLUSTER_KEYS_WRITE_FAILED: 'PHX_CLI_CLUSTER_KEYS_WRITE_FAILED',
} as const;

export class CliError extends PhoenixError {
  /** The process exit status: 2 for a command line that cannot be understood, 1 otherwise. */
  readonly exitCode: number;
  /** For PHX_CLI_API_ERROR: the code the API answered with. */
  readonly apiCode: string | undefined;
  constructor(
    code: (typeof CliErrorCodes)[keyof typeof CliErrorCodes],
    message: string,
    cause?: unknown,
    apiCode?: string,
  ) {
    super(code, message, { cause });
    this.name = 'CliError';
    this.apiCode = apiCode;
    this.exitCode = code === CliErrorCodes.USAGE ? 2 : 1;
  }
}
