/**
 * The options of `phoenix call` (Salt's `salt-call`), defined once: `phoenix-minion call` parses
 * them with node:util's parseArgs, and the `phoenix` CLI builds its help, its checks and its shell
 * completion from the same entries before it hands the command line to `phoenix-minion call`.
 */
export interface CommandOption {
  /** The long name, without the dashes. */
  readonly name: string;
  readonly short?: string;
  readonly type: 'boolean' | 'string';
  /** May be given more than once (each adds a value). */
  readonly multiple?: boolean;
  /** How the value is shown in help (`DIR`, `FILE`). */
  readonly value?: string;
  readonly choices?: readonly string[];
  readonly default?: string | boolean;
  /** One or two sentences and an example, shown by `phoenix call --help`. */
  readonly description: string;
}

export const CALL_OUTPUTS = ['nested', 'highstate', 'yaml', 'json'] as const;

export const CALL_OPTIONS: readonly CommandOption[] = [
  {
    name: 'local',
    type: 'boolean',
    default: false,
    description: 'run masterless, states and pillar from local roots (salt-call --local); required for now',
  },
  {
    name: 'config',
    short: 'c',
    type: 'string',
    value: 'FILE',
    description: 'the minion config to read (default /etc/phoenix/minion.yaml when it exists), e.g. -c ./minion.yaml',
  },
  {
    name: 'file-root',
    type: 'string',
    value: 'DIR',
    multiple: true,
    description: 'a state tree for the base environment (repeatable), e.g. --file-root ./salt; salt:// reads from it',
  },
  {
    name: 'pillar-root',
    type: 'string',
    value: 'DIR',
    multiple: true,
    description: 'a pillar tree for the base environment (repeatable), e.g. --pillar-root ./pillar',
  },
  { name: 'id', type: 'string', value: 'ID', description: 'the minion id grains and pillar see, e.g. --id web-1' },
  {
    name: 'out',
    type: 'string',
    value: 'FORMAT',
    choices: CALL_OUTPUTS,
    description: 'how the result is printed (default highstate for state runs, else nested), e.g. --out json',
  },
  { name: 'no-color', type: 'boolean', default: false, description: 'never colour the output' },
  {
    name: 'force-color',
    type: 'boolean',
    default: false,
    description: 'colour the output even when not on a terminal',
  },
  {
    name: 'log-level',
    type: 'string',
    value: 'LEVEL',
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
    description:
      "how much the minion logs to stderr (default the config's log_level, else warn), e.g. --log-level debug",
  },
];

type ParseArgsOption = { type: 'boolean' | 'string'; short?: string; multiple?: boolean; default?: string | boolean };

/** The table as node:util's parseArgs takes it. */
export function parseArgsOptions(options: readonly CommandOption[]): Record<string, ParseArgsOption> {
  return Object.fromEntries(
    options.map((o) => [
      o.name,
      {
        type: o.type,
        ...(o.short === undefined ? {} : { short: o.short }),
        ...(o.multiple === true ? { multiple: true } : {}),
        ...(o.default === undefined ? {} : { default: o.default }),
      },
    ]),
  );
}
