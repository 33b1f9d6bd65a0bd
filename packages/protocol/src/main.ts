import { parseArgs } from 'node:util';
import { isPhoenixError, type ErrorKind } from './errors.js';

/**
 * What every program's entry point runs (phoenix, phoenix-master, phoenix-minion): the one place
 * that decides how a program reports a failure, which exit status it ends with and how SIGTERM and
 * SIGINT stop it. Only a bin calls it: it is the one part of this package that touches the process.
 */

/** A program that runs until it is told to stop (a master, a minion, a swarm). */
export interface RunningProgram {
  /** Ends it; the process exits 0 once this resolves, 1 if it fails. */
  stop(signal: NodeJS.Signals): Promise<void>;
}

export interface MainOptions {
  /** The code a failure that is not a PhoenixError (a bug) is reported with. */
  internal: ErrorKind;
  /** A failure is also printed on stdout as one JSON document (`--out json`). */
  json?: boolean;
}

/** After a failure, how long the process may take to finish writing before it is made to exit. */
const EXIT_GRACE_MS = 2_000;

/**
 * Runs `main`. A number it resolves to is the exit status; a RunningProgram runs until SIGTERM or
 * SIGINT and is then stopped (a second signal exits at once, 130). A failure is one line on stderr,
 * `PROGRAM: message [CODE]`, and the exit status is the error table's for that code (1 otherwise).
 */
export function runMain(program: string, main: () => Promise<number | RunningProgram>, options: MainOptions): void {
  // `phoenix … | head` closes the pipe early: that ends the output, it is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  const fail = (err: unknown, what = ''): void => {
    const code = isPhoenixError(err) ? err.code : options.internal.code;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${program}: ${what}${message} [${code}]\n`);
    if (options.json) process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
    process.exitCode = isPhoenixError(err) ? err.exit : options.internal.exit;
    // Whatever a failed start may have left open must not keep the process from ending.
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  };
  main().then(
    async (outcome) => {
      if (typeof outcome === 'number') {
        process.exitCode = outcome;
        return;
      }
      const signal = await untilStopSignal();
      try {
        await outcome.stop(signal);
      } catch (err) {
        fail(err, 'stop failed: ');
        process.exit();
      }
      process.exit(0);
    },
    (err: unknown) => fail(err),
  );
}

/** The first SIGTERM or SIGINT; a second one (either) while stopping means "now" and exits 130. */
export function untilStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      const now = (): never => process.exit(130);
      process.once('SIGTERM', now);
      process.once('SIGINT', now);
      resolve(signal);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/** A daemon's config file: `--config FILE` (`-c`), else the environment variable's value. */
export function configFileArgument(args: readonly string[], fromEnv: string | undefined): string | undefined {
  const { values } = parseArgs({ args: [...args], options: { config: { type: 'string', short: 'c' } }, strict: true });
  return values.config ?? fromEnv;
}
