import type { Logger } from 'pino';
import { runCommand } from '../modules/command-runner.js';

/** How the restart went: logged, printed by `master-list --out json`, and kept for a retry. */
export interface RestartOutcome {
  command: string;
  ok: boolean;
  /** The shell's exit status; 128 + N when killed by signal N; null when it could not start. */
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  /** stdout and stderr interleaved, cut to the last few KiB. */
  output: string;
}

const MAX_OUTPUT_BYTES = 64 * 1024;
const LOGGED_OUTPUT_CHARS = 4 * 1024;

/**
 * Runs the configured restart command (`systemctl restart salt-minion`) through /bin/sh, in its own
 * process group so a timeout stops everything it started. It never throws: a failure is an outcome.
 */
export async function runRestartCommand(command: string, timeoutMs: number, log: Logger): Promise<RestartOutcome> {
  const started = performance.now();
  const env = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  let outcome: RestartOutcome;
  try {
    const result = await runCommand({
      command,
      shell: '/bin/sh',
      cwd: '/',
      env,
      timeoutMs,
      signal: new AbortController().signal,
      mergeStderr: true,
      maxOutputBytes: MAX_OUTPUT_BYTES,
    });
    outcome = {
      command,
      ok: result.retcode === 0 && !result.timedOut,
      exitCode: result.retcode,
      timedOut: result.timedOut,
      durationMs: Math.round(performance.now() - started),
      output: result.stdout.slice(-LOGGED_OUTPUT_CHARS),
    };
  } catch (err) {
    outcome = {
      command,
      ok: false,
      exitCode: null,
      timedOut: false,
      durationMs: Math.round(performance.now() - started),
      output: err instanceof Error ? err.message : String(err),
    };
  }
  if (outcome.ok) log.info({ restart: outcome }, 'restart command succeeded');
  else log.error({ restart: outcome }, 'restart command failed; it runs again at the next refresh');
  return outcome;
}
