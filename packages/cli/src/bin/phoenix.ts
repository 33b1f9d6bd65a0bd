#!/usr/bin/env node
import { CommanderError } from 'commander';
import { ProtocolErrors } from '@phoenix/protocol/errors';
import { runMain } from '@phoenix/protocol/main';
import { CliErrors } from '../errors.js';
import { buildProgram, type Outcome } from '../program.js';

/** Exit status of a command line that could not be understood. */
const USAGE_EXIT = ProtocolErrors.PHX_CLI_USAGE.exit;

async function main(argv: readonly string[]): Promise<number> {
  const outcome: Outcome = { exitCode: 0 };
  const program = buildProgram(outcome);
  // `phoenix help keys list` is `phoenix keys list --help` (commander's help command takes one name).
  const args = argv[0] === 'help' && argv.length > 1 ? [...argv.slice(1), '--help'] : [...argv];
  // --version asks the cluster too, so it is a command of its own (declared in the table for help).
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    return (await import('../commands/version.js')).version();
  }
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
    if (err.code === 'commander.help') return USAGE_EXIT;
    const message = err.message
      .replace(/^error: /, '')
      .replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)')
      .replace(/\n/g, ' ')
      .replace(/\.$/, '');
    process.stderr.write(
      `phoenix: ${message}; see phoenix ${commandPath(args)}--help [${ProtocolErrors.PHX_CLI_USAGE.code}]\n`,
    );
    if (wantsJson(args)) {
      process.stdout.write(
        `${JSON.stringify({ error: { code: ProtocolErrors.PHX_CLI_USAGE.code, message } }, null, 2)}\n`,
      );
    }
    return USAGE_EXIT;
  }
  return outcome.exitCode;
}

/** The known command words at the front of a command line (for "see phoenix keys list --help"). */
function commandPath(args: readonly string[]): string {
  const words: string[] = [];
  let command = buildProgram({ exitCode: 0 });
  for (const arg of args) {
    const next = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (next === undefined) break;
    words.push(arg);
    command = next;
  }
  return words.length === 0 ? '' : `${words.join(' ')} `;
}

function wantsJson(args: readonly string[]): boolean {
  return args.some((arg, i) => arg === '--out=json' || (arg === '--out' && args[i + 1] === 'json'));
}

const argv = process.argv.slice(2);
runMain('phoenix', () => main(argv), { internal: CliErrors.PHX_CLI_INTERNAL, json: wantsJson(argv) });
