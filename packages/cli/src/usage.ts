/** One line of usage per command, shown by `phoenix --help` and by each command's usage errors. */
export const USAGES = {
  up: 'phoenix up [--masters N] [--minions N] [--detach] [--data-dir DIR] [--out json]',
  down: 'phoenix down [--out json]',
  local: 'phoenix local scale N [--group minions|masters] [--out json]',
  run: 'phoenix run TARGET FUNCTION [ARG ...] [key=value ...] [-G|-L|-C|-E] [--timeout S] [--async] [--out nested|highstate|yaml|json] [--no-color|--force-color]',
  call: 'phoenix call --local FUNCTION [ARG ...] [key=value ...] [--config FILE] [--file-root DIR ...] [--pillar-root DIR ...] [--id ID] [--out nested|highstate|yaml|json] [--no-color|--force-color]',
  keys: 'phoenix keys list|accept|reject|delete [PATTERN] [--include] [--fingerprint FP] [--state S] [--out json]\n  phoenix keys init-cluster [--pki-dir DIR] [--force] [--out json]',
  masters: 'phoenix masters [--out json]',
  minions: 'phoenix minions [PATTERN] [--state KEY-OR-LIFECYCLE-STATE] [--master ID] [--out json]',
  jobs: 'phoenix jobs list [--limit N] | phoenix jobs show JID [--out json]',
  tokens: 'phoenix tokens create NAME --role read|operate|admin [--ttl 30d] | list | revoke ID [--out json]',
} as const;
