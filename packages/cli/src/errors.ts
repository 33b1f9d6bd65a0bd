import { defineErrors } from '@phoenix/protocol/errors';

/** Every code the CLI raises (a command line it cannot understand is PHX_CLI_USAGE, in protocol's table). */
export const CliErrors = defineErrors({
  PHX_CLI_INTERNAL: { message: 'phoenix ended on an unexpected error (a bug); the message says what failed' },
  PHX_CLI_NO_LOCAL_CLUSTER: { message: 'no local cluster is running, or it is still starting' },
  PHX_CLI_LOCAL_CLUSTER_RUNNING: { message: '`phoenix up` while a local cluster is already running' },
  PHX_CLI_LOCAL_CLUSTER_FAILED: {
    message: 'the local cluster, or one of its processes, could not start, stop or be found',
  },
  PHX_CLI_CONNECTION_FILE_INVALID: {
    message: "the local cluster's connection file is not one phoenix up wrote; remove it and run phoenix up again",
  },
  PHX_CLI_AWS_REQUEST_FAILED: { message: "an AWS API call made by the CLI failed; the message carries AWS's error" },
  PHX_CLI_NO_API: {
    message: 'no master to talk to: no --api/--token, no PHOENIX_API/PHOENIX_TOKEN and no local cluster',
  },
  PHX_CLI_API_UNREACHABLE: { message: "no master's API could be reached" },
  PHX_CLI_API_ERROR: { message: "the API answered with an error; the message carries the API's code" },
  PHX_CLI_CLUSTER_KEYS_EXIST: { message: 'the cluster key pair already exists; pass --force to replace it' },
  PHX_CLI_CLUSTER_KEYS_WRITE_FAILED: { message: 'the cluster key pair could not be written' },
});
