import { defineErrors } from '@phoenix/protocol';

/** Every code the minion raises: its executor and modules, grains, master-list manager and commands. */
export const MinionErrors = defineErrors({
  PHX_MINION_INTERNAL: { message: 'phoenix-minion ended on an unexpected error (a bug); the message says what failed' },
  PHX_MINION_CALL_USAGE: { message: 'the phoenix-minion call command line could not be understood', exit: 2 },
  PHX_MINION_MASTER_UNAVAILABLE: {
    message: 'the connected master could not be asked: none is connected, it went away, or it did not answer',
  },
  PHX_MINION_PKI_INVALID: {
    message: "the minion's pki directory holds a key pair that cannot be read; move it away to create a new one",
  },
  PHX_EXEC_BAD_ARGUMENTS: { message: "a job's arguments do not fit the function's signature or schema" },
  PHX_EXEC_FAILED: {
    message: "a function ran and could not do what was asked (Salt's CommandExecutionError); the message says why",
  },
  PHX_EXEC_KILLED: { message: 'a job was stopped by saltutil.kill_job or by the minion shutting down' },
  PHX_EXEC_TIMEOUT: { message: 'a job ran past its timeout and was stopped' },
  PHX_EXEC_DUPLICATE_MODULE: { message: 'two execution modules with the same name in one registry' },
  PHX_GRAINS_FILE_INVALID: { message: 'the custom grains file is not a YAML mapping of grains; fix or remove it' },
  PHX_GRAINS_FILE_UNREADABLE: { message: 'the custom grains file could not be read' },
  PHX_GRAINS_WRITE_FAILED: { message: 'the custom grains file could not be written' },
  PHX_GRAINS_INVALID_GRAIN: { message: 'a grain name or value is not allowed (empty, `__proto__`, or not data)' },
  PHX_GRAINS_READ_ONLY: {
    message: "a core grain, a grain that mirrors the minion's state or its identity cannot be set or deleted by hand",
  },
  PHX_MASTER_LIST_TABLE_UNREADABLE: {
    message: 'the masters table could not be read (unreachable, no permission, or a row that fails its schema)',
  },
  PHX_MASTER_LIST_INVALID_MASTER: {
    message: 'a pushed master or a live table row is not a usable address; the whole list is refused',
  },
  PHX_MASTER_LIST_NO_LIVE_MASTER: {
    message: 'the master list would be empty: a minion never trades the masters it knows for none',
  },
  PHX_MASTER_LIST_FILE_INVALID: {
    message: 'the config file or Salt drop-in is not a YAML mapping; it is left as it is rather than overwritten',
  },
  PHX_MASTER_LIST_WRITE_FAILED: { message: 'the config file or Salt drop-in could not be read or written' },
  PHX_MASTER_LIST_RESTART_FAILED: {
    message: 'the Salt restart command failed, timed out or could not start; it is tried again at the next refresh',
  },
  PHX_MASTER_LIST_NO_TABLE: { message: 'the master-list manager needs `aws` in the config to find the masters table' },
  PHX_MASTER_LIST_INTERNAL: { message: 'the master-list manager failed on an unexpected error (a bug)' },
});
