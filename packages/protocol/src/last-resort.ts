import { isPhoenixError, ProtocolErrors } from './errors.js';

/** What the last-resort handler writes to: a pino logger fits. */
export interface LastResortLog {
  error(fields: Record<string, unknown>, message: string): void;
  fatal(fields: Record<string, unknown>, message: string): void;
}

/**
 * Whether an error that escaped every handler means the process can no longer be trusted: a
 * violated invariant (PHX_INVARIANT), a failed assertion (`node:assert`), or Node's own internal
 * assertion. Anything else — a bug on one input's path, an unawaited promise that failed — cost
 * that input only: the process logs it and keeps serving.
 */
export function isInvariantViolation(err: unknown): boolean {
  if (isPhoenixError(err, ProtocolErrors.PHX_INVARIANT.code)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_ASSERTION' || code === 'ERR_INTERNAL_ASSERTION';
}

/**
 * Installs the last-resort handlers (`uncaughtException`, `unhandledRejection`) on a process: each
 * escaped error is logged; only an invariant violation stops the process, with exit status 70.
 * A daemon's entry point calls this once; returns the function that removes the handlers.
 */
export function installLastResort(
  target: NodeJS.Process,
  log: LastResortLog,
  exit: (code: number) => void = (code) => target.exit(code),
): () => void {
  const handle = (err: unknown, origin: string): void => {
    if (isInvariantViolation(err)) {
      log.fatal({ err, origin }, 'an invariant was violated; stopping');
      exit(ProtocolErrors.PHX_INVARIANT.exit);
      return;
    }
    log.error({ err, origin }, 'an error escaped every handler; it was contained and the process keeps running');
  };
  const onException = (err: Error, origin: string): void => handle(err, origin);
  const onRejection = (reason: unknown): void => handle(reason, 'unhandledRejection');
  target.on('uncaughtException', onException);
  target.on('unhandledRejection', onRejection);
  return () => {
    target.off('uncaughtException', onException);
    target.off('unhandledRejection', onRejection);
  };
}
