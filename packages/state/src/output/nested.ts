import { stringify } from 'yaml';

export interface NestedOutputOptions {
  /** The heading: the minion's id, or `local` for a masterless call. */
  readonly minion: string;
  /** Said after the heading in parentheses ("failed, retcode 1"). */
  readonly note?: string;
}

/**
 * What `phoenix run` and `phoenix call` show for a return that is not a state run (`--out nested`,
 * their default): the minion's id, then its return as YAML indented under it.
 */
export function formatNested(ret: unknown, options: NestedOutputOptions): string {
  const body = stringify(ret ?? null)
    .trimEnd()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
  return `${options.minion}:${options.note === undefined ? '' : ` (${options.note})`}\n${body}`;
}
