import { isPhoenixError } from '@phoenix/protocol';
import { ArgumentError, JobKilledError, JobTimeoutError } from '../modules/errors.js';

/** The `ret` of a failed job, worded as Salt words it, so operators see familiar messages. */
export function failureMessage(fun: string, err: unknown): string {
  if (err instanceof ArgumentError) return `Passed invalid arguments to ${fun}: ${err.message}`;
  if (err instanceof JobKilledError || err instanceof JobTimeoutError) return capitalize(err.message);
  if (isPhoenixError(err)) return `ERROR: ${err.message}`;
  if (err instanceof Error) return `The minion function caused an exception: ${err.name}: ${err.message}`;
  return `The minion function caused an exception: ${String(err)}`;
}

export function unavailableMessage(fun: string): string {
  return `'${fun}' is not available.`;
}

/**
 * Salt's other failure signal: a function that returns a mapping with `result` or `success` set to
 * false failed, even with retcode 0 (state runs report this way).
 */
export function reportsFailure(ret: unknown): boolean {
  if (ret === null || typeof ret !== 'object' || Array.isArray(ret)) return false;
  const record = ret as Record<string, unknown>;
  return record.result === false || record.success === false;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
