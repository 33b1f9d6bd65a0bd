import { stringify } from 'yaml';
import { CliError, CliErrorCodes } from './errors.js';

export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function outputFormat(value: string | undefined): OutputFormat {
  const format = value ?? 'text';
  if ((OUTPUT_FORMATS as readonly string[]).includes(format)) return format as OutputFormat;
  throw new CliError(CliErrorCodes.USAGE, `--out must be one of ${OUTPUT_FORMATS.join(', ')}, not "${format}"`);
}

/**
 * Prints a command's result: `--out json` gives exactly one JSON document on stdout (stable, for
 * scripts), `--out yaml` the same data as YAML, and text the human lines the command chose.
 */
export function emit(format: OutputFormat, data: unknown, text: () => string): void {
  if (format === 'json') process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === 'yaml') process.stdout.write(stringify(data));
  else process.stdout.write(`${text()}\n`);
}
