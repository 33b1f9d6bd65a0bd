import { defineErrors } from '@phoenix/protocol';

/** Every code the master raises, its HTTP API's included. */
export const MasterErrors = defineErrors({
  PHX_MASTER_START_FAILED: {
    message: 'the master could not start (cluster key pair, ports, tables); a failed start stops what had started',
  },
  PHX_MASTER_INTERNAL: { message: 'the master ended on an unexpected error (a bug); the message says what failed' },
  PHX_FILE_SERVER: {
    message: "a file server request failed for a reason that has no code of the state system's; the message says why",
  },
  PHX_JOB_NO_MINIONS: { message: 'no accepted minion matches the target; nothing was run', status: 404 },
  PHX_API_UNAUTHORIZED: { message: 'the request has no bearer token, or one that is not valid', status: 401 },
  PHX_API_FORBIDDEN: { message: "the token's role does not allow this request", status: 403 },
  PHX_API_BAD_REQUEST: {
    message: 'a request body, query or path parameter does not fit its schema; the message names the field',
    status: 400,
  },
  PHX_API_NOT_FOUND: { message: 'no such route, minion, job or dashboard file', status: 404 },
  PHX_API_RATE_LIMITED: {
    message: 'too many failed authentications from one address; the Retry-After header says when to try again',
    status: 429,
  },
  PHX_API_BODY_TOO_LARGE: { message: 'the request body is larger than the API accepts', status: 413 },
  PHX_API_NOT_READY: {
    message:
      "this master is not live in the masters table yet, or no longer (/readyz), or it is starting: it does not yet serve the cluster's commit of its git roots (/healthz)",
    status: 503,
  },
  PHX_API_INTERNAL: { message: 'the API failed on an unexpected error (a bug); the master logs it', status: 500 },
  PHX_INPUT_OVER_LIMIT: {
    message: 'an input is over one of the documented limits (depth, size, keys, string length) and is refused whole',
    status: 400,
  },
  PHX_MASTER_BUSY: {
    message: 'a fair share is used up (waiting requests of one minion, streams of one token): ask again later',
    status: 429,
  },
  PHX_GIT_MISSING: { message: 'a git root is configured and the git command does not run: install git' },
  PHX_GIT_FAILED: {
    message:
      "a git root's fetch failed (remote unreachable, credentials refused) or its ref is gone; the last good commit is served",
  },
  PHX_GIT_REF_MOVED_BACK: {
    message:
      "a git root's ref moved back to an ancestor of the commit served (a forced push): not followed; push a new commit to roll back",
  },
  PHX_GIT_TREE_INVALID: {
    message:
      'a fetched commit is not served: its top file does not render, the root directory is missing, or it holds too many files',
  },
  PHX_GIT_REVISION_UNKNOWN: {
    message: "a state run's commit is not on this master and cannot be fetched: run it again",
  },
  PHX_GIT_SECRET_UNREADABLE: {
    message: "a git root's token or key could not be read from its file, Secrets Manager secret or SSM parameter",
  },
  PHX_ORCHESTRATION_INVALID: {
    message:
      'an orchestration SLS that does not render, or whose steps cannot run (an unknown function, a bad argument, a requisite cycle); nothing ran',
    status: 400,
  },
  PHX_RUN_LEASE_LOST: {
    message:
      "this master no longer surely holds a run's lease: another master drives it now, and this one sends nothing more",
    status: 409,
  },
});
