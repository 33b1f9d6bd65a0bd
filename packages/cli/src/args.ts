import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, CliErrorCodes } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util's parseArgs in strict mode, with its errors turned into usage errors naming the command. */
export function parseCommand<O extends Options>(
  command: string,
  argv: readonly string[],
  options: O,
  allowPositionals = true,
) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (err) {
    throw new CliError(CliErrorCodes.USAGE, `phoenix ${command}: ${(err as Error).message}`);
  }
}

export function parseCount(name: string, value: string | undefined, fallback: number, max = 100_000): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > max) {
    throw new CliError(CliErrorCodes.USAGE, `${name} must be a whole number from 0 to ${max}, not "${value}"`);
  }
  return Number(value);
}
