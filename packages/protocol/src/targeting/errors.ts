import { PhoenixError, ProtocolErrors } from '../errors.js';

export const TargetErrorCodes = {
  INVALID: 'PHX_TARGET_INVALID',
} as const;

export function invalid(message: string, details: Record<string, unknown> = {}): PhoenixError {
  return new PhoenixError(ProtocolErrors.PHX_TARGET_INVALID, `invalid target: ${message}`, { details });
}

/** A token for an error message: quoted, and cut short so an attacker's megabyte never reaches a log. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
