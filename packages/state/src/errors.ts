import { defineErrors, PhoenixError } from '@phoenix/protocol';

/** Every code the state system throws. */
export const StateErrors = defineErrors({
  PHX_STATE_FILE_REFUSED: { message: 'a path given to the file server leaves its roots, or is not a path at all' },
  PHX_STATE_FILE_UNREADABLE: {
    message: 'the file server could not read a root (permissions, I/O), as opposed to "no such file"',
  },
  PHX_STATE_COMPILE: {
    message: 'an SLS, top file or pillar did not compile (render, YAML, structure, requisites); nothing ran',
  },
  PHX_STATE_RENDER: { message: 'a Jinja template failed to render; the message names the file and line' },
  PHX_STATE_BUSY: { message: 'another state run holds this minion; pass queue=True to wait for it' },
  PHX_STATE_DISABLED: {
    message: 'the operator disabled state runs on this minion (state.disable); state.enable lifts it',
  },
  PHX_STATE_BAD_REQUEST: { message: "a state run's options (pillar override, mods) are malformed" },
});

/**
 * A run that could not be compiled. Salt answers this with the list of messages (and retcode 1)
 * instead of results, and runs nothing; so do we.
 */
export class StateCompileError extends PhoenixError {
  readonly errors: readonly string[];

  constructor(errors: readonly string[]) {
    super(
      StateErrors.PHX_STATE_COMPILE,
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
