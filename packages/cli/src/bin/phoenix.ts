#!/usr/bin/env node
import { isPhoenixError } from '@phoenix/protocol';
import { CliError } from '../errors.js';
import { USAGES } from '../usage.js';

const USAGE = `usage: phoenix COMMAND [ARGS]

Local cluster (the embedded cloud: no AWS account needed)
  ${USAGES.up}
  ${USAGES.down}
  ${USAGES.local}

This host, no master (states from local roots, as salt-call --local)
  ${USAGES.call}

Cluster (any master's API: --api URL --token T, or PHOENIX_API / PHOENIX_TOKEN, else the local cluster)
  ${USAGES.run}
  ${USAGES.keys}
  ${USAGES.jobs}
  ${USAGES.masters}
  ${USAGES.minions}
  ${USAGES.tokens}

Every command takes --out json and then prints one JSON document.`;

type Command = (argv: readonly string[]) => Promise<number>;
// Loaded on demand: `phoenix run` should not pay for loading the local cloud that `phoenix up` needs.
const COMMANDS: Record<string, () => Promise<Command>> = {
  up: async () => (await import('../commands/up.js')).up,
  down: async () => (await import('../commands/down.js')).down,
  local: async () => (await import('../commands/local.js')).local,
  run: async () => (await import('../commands/run.js')).run,
  call: async () => (await import('../commands/call.js')).call,
  keys: async () => (await import('../commands/keys.js')).keys,
  jobs: async () => (await import('../commands/jobs.js')).jobs,
  masters: async () => (await import('../commands/masters.js')).masters,
  minions: async () => (await import('../commands/minions.js')).minions,
  tokens: async () => (await import('../commands/tokens.js')).tokens,
};

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    process.stderr.write(`phoenix: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  return (await load())(rest);
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const known = isPhoenixError(err);
    const code = known ? err.code : 'PHX_CLI_INTERNAL';
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`phoenix: ${message} [${code}]\n`);
    if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  },
);

function wantsJson(args: readonly string[]): boolean {
  return args.some((arg, i) => arg === '--out=json' || (arg === '--out' && args[i + 1] === 'json'));
}
