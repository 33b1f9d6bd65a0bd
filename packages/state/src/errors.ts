import { PhoenixError } from '@phoenix/protocol';

/** Every code the state system throws, so a user can search for the one they were shown. */
export const StateErrorCodes = {
  /** A path given to the file server leaves its roots, or is not a path at all. */
  FILE_REFUSED: 'PHX_STATE_FILE_REFUSED',
  /** The file server could not read a root (permissions, I/O), as opposed to "no such file". */
  FILE_UNREADABLE: 'PHX_STATE_FILE_UNREADABLE',
  /** An SLS, top file or pillar did not compile: render, YAML, structure, requisites. Nothing ran. */
  COMPILE: 'PHX_STATE_COMPILE',
  /** A Jinja template failed to render (names the file and line). */
  RENDER: 'PHX_STATE_RENDER',
  /** Another state run holds this minion; pass queue=True to wait for it. */
  BUSY: 'PHX_STATE_BUSY',
  /** The operator disabled state runs on this minion (state.disable); state.enable lifts it. */
  DISABLED: 'PHX_STATE_DISABLED',
  /** A state run's options (pillar override, mods) are malformed. */
  BAD_REQUEST: 'PHX_STATE_BAD_REQUEST',
} as const;

export type StateErrorCode = (typeof StateErrorCodes)[keyof typeof StateErrorCodes];

export class StateError extends PhoenixError {
  constructor(
    code: StateErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, options);
    this.name = 'StateError';
  }
}

/**
 * A run that could not be compiled. Salt answers this with the list of messages (and retcode 1)
 * instead of results, and runs nothing; so do we.
 */
export class StateCompileError extends StateError {
  readonly errors: readonly string[];

  constructor(errors: readonly string[]) {
    super(
      StateErrorCodes.COMPILE,
      errors.length === 1 ? (errors[0] ?? '') : `${errors.length} errors:\n${errors.join('\n')}`,
      {
        details: { errors: [...errors] },
      },
    );
    this.name = 'StateCompileError';
    this.errors = Object.freeze([...errors]);
  }
}

/** Collects compile errors so one run reports all of them at once, as Salt does. */
export class CompileErrors {
  readonly #messages: string[] = [];

  add(message: string): void {
    if (!this.#messages.includes(message)) this.#messages.push(message);
  }

  get count(): number {
    return this.#messages.length;
  }

  throwIfAny(): void {
    if (this.#messages.length > 0) throw new StateCompileError(this.#messages);
  }
}
