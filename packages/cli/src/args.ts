import { parseArgs } from 'node:util';
import { CliError, CliErrorCodes } from './errors.js';

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
}
type Values<O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K]['type'] extends 'boolean' ? boolean | undefined : string | undefined;
};

/** node:util's parseArgs in strict mode, with its errors turned into usage errors naming the command. */
export function parseCommand<O extends Record<string, OptionSpec>>(
  command: string,
  argv: readonly string[],
  options: O,
  allowPositionals = true,
): { values: Values<O>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals, strict: true });
    return { values: values as unknown as Values<O>, positionals };
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
