import { defineErrors } from '@phoenix/protocol';

/** Every code the local cloud throws. */
export const DevstackErrors = defineErrors({
  PHX_DEVSTACK_START_FAILED: { message: 'the local cloud could not start' },
  PHX_DEVSTACK_PORT_IN_USE: { message: 'a local-cloud port is taken' },
  PHX_DEVSTACK_ASG_CONFIG_INVALID: {
    message: "the auto-scaling simulator's own configuration is wrong (its groups, at construction)",
  },
  PHX_DEVSTACK_AWS_REQUEST_REJECTED: {
    message:
      "a request was refused the way the AWS service refuses it (the auto-scaling simulator or the resource emulator); the details carry AWS's code",
  },
  PHX_DEVSTACK_ASG_WAIT_TIMEOUT: { message: 'the auto-scaling simulator did not reach the awaited state in time' },
});
