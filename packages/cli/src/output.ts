export const OUTPUT_FORMATS = ['text', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/** `phoenix run`'s outputters: Salt's nested and highstate, or the whole document as YAML or JSON. */
export const RUN_OUTPUTS = ['nested', 'highstate', 'yaml', 'json'] as const;

/**
 * Prints a command's result: `--out json` gives exactly one JSON document on stdout (stable, for
 * scripts), `--out yaml` the same data as YAML, and text the human lines the command chose.
 */
export async function emit(format: OutputFormat, data: unknown, text: () => string): Promise<void> {
  if (format === 'json') process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === 'yaml') process.stdout.write(await yaml(data));
  else process.stdout.write(`${text()}\n`);
}

/**
 * YAML text of a value. The yaml package is loaded only when a value needs it: it costs more
 * start-up than the rest of `phoenix run`, and most returns (test.ping's `true`) are one scalar.
 */
export async function yaml(value: unknown): Promise<string> {
  if (
    typeof value === 'boolean' ||
    value === null ||
    (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0))
  ) {
    return `${String(value)}\n`;
  }
  const { stringify } = await import('yaml');
  return stringify(value);
}
