/**
 * Phoenix's errors. Every code is defined once, in its package's table (`defineErrors` in that
 * package's `src/errors.ts`), with what it means, the HTTP status the API answers with and the
 * exit status a program ends with; the README's error reference is generated from the tables
 * (`npm run docs:errors`). A user searches for the code they were shown and finds both its
 * definition and every place that raises it.
 */

/** One row of an error table. */
export interface ErrorDefinition {
  /** What the code means, for the reference and as the default message: lower case, no final period. */
  readonly message: string;
  /** The HTTP status of an API answer carrying this error (default 500). */
  readonly status?: number;
  /** The exit status of a program that ends with this error (default 1). */
  readonly exit?: number;
}

/** A code with its meaning and statuses, as a table hands it out. */
export interface ErrorKind<C extends string = string> {
  readonly code: C;
  readonly message: string;
  readonly status: number;
  readonly exit: number;
}

export type ErrorTable<T extends Record<string, ErrorDefinition> = Record<string, ErrorDefinition>> = {
  readonly [C in keyof T & string]: ErrorKind<C>;
};

const TABLE = Symbol.for('phoenix.errorTable');

/**
 * A package's error table, keyed by code (`PHX_<AREA>_<WHAT>`): as fastify's `createError` lines,
 * the one place where a code, its meaning and its statuses are written.
 */
export function defineErrors<const T extends Record<`PHX_${string}`, ErrorDefinition>>(definitions: T): ErrorTable<T> {
  const table: Record<string, ErrorKind> = {};
  for (const [code, { message, status = 500, exit = 1 }] of Object.entries(definitions)) {
    table[code] = Object.freeze({ code, message, status, exit });
  }
  Object.defineProperty(table, TABLE, { value: true });
  return Object.freeze(table) as ErrorTable<T>;
}

/** Whether `value` is a table made by `defineErrors` (for the reference generator). */
export function isErrorTable(value: unknown): value is ErrorTable {
  return typeof value === 'object' && value !== null && TABLE in value;
}

/** The kind a table holds for `code`, if it holds one (for codes that arrive as text, as from the wire). */
export function errorKind<T extends ErrorTable>(table: T, code: string): T[keyof T] | undefined {
  return Object.hasOwn(table, code) ? (table[code as keyof T] as T[keyof T]) : undefined;
}

/** The base of every typed error in Phoenix: a kind from a table, a message saying what happened. */
export class PhoenixError extends Error {
  readonly code: string;
  /** The HTTP status the API answers this error with. */
  readonly status: number;
  /** The exit status of a program that ends with this error. */
  readonly exit: number;
  /** Extra facts for logs and API bodies; never secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    kind: ErrorKind,
    message: string = kind.message,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PhoenixError';
    this.code = kind.code;
    this.status = kind.status;
    this.exit = kind.exit;
    this.details = Object.freeze({ ...options.details });
  }

  toJSON(): { code: string; message: string; details?: Record<string, unknown> } {
    return Object.keys(this.details).length > 0
      ? { code: this.code, message: this.message, details: { ...this.details } }
      : { code: this.code, message: this.message };
  }
}

/** Whether `err` is a PhoenixError (of `kind`, a kind or a code, when given). */
export function isPhoenixError(err: unknown, kind?: ErrorKind | string): err is PhoenixError {
  if (!(err instanceof PhoenixError)) return false;
  return kind === undefined || err.code === (typeof kind === 'string' ? kind : kind.code);
}

/** The codes of this package, and those every program shares. */
export const ProtocolErrors = defineErrors({
  PHX_CONFIG_INVALID: {
    message:
      'a configuration value or key is wrong, or the file is not a mapping; the message names the key and the source',
  },
  PHX_CONFIG_UNREADABLE: { message: 'a configuration file could not be read' },
  PHX_CLI_USAGE: {
    message: 'a command line (phoenix, phoenix-minion master-list or swarm) could not be understood',
    exit: 2,
  },
  PHX_TARGET_INVALID: {
    message: 'a target expression (glob, list, grain, PCRE or compound) is not valid; the message says where',
    status: 400,
  },
  PHX_BATCH_INVALID: {
    message: 'a batch size (0, above 100%) or failure limit (above 100%) that is not valid; nothing ran',
    status: 400,
    exit: 2,
  },
  PHX_JID_INVALID: { message: 'a job id is not 20 digits YYYYMMDDhhmmssffffff (UTC), or no jid exists for the time' },
  PHX_IDENTITY_BAD_SIGNATURE: {
    message: 'an instance identity document does not match its signature under the certificate: forged or tampered',
  },
  PHX_IDENTITY_MISMATCH: {
    message: 'an instance identity document is correctly signed but for another instance, account or region',
  },
  PHX_IDENTITY_MALFORMED: { message: 'not an instance identity document, signature or certificate at all' },
  PHX_INVARIANT: {
    message: 'something that must never happen did: the last-resort handler stops the process for it alone',
    exit: 70,
  },
});
