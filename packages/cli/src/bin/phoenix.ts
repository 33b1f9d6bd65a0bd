#!/usr/bin/env node
import { isPhoenixError } from '@phoenix/protocol';
import { CliError } from '../errors.js';
import { down } from '../commands/down.js';
import { local, LOCAL_USAGE } from '../commands/local.js';
import { up, UP_USAGE } from '../commands/up.js';

const USAGE = `usage: phoenix COMMAND [ARGS]

Local cluster (the embedded cloud: no AWS account needed)
  ${UP_USAGE}
  phoenix down [--out json]
  ${LOCAL_USAGE}

Every command takes --out json and then prints one JSON document.`;

const COMMANDS: Record<string, (argv: readonly string[]) => Promise<number>> = { up, down, local };

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`phoenix: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  return command(rest);
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
