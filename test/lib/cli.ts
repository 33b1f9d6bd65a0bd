import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built `phoenix` entry point, run as a user would run it. */
export const PHOENIX_BIN = fileURLToPath(new URL('../../../packages/cli/bin/phoenix.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `phoenix ARGS…` to completion (bounded by `timeoutMs`) with extra environment variables. */
export function phoenix(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [PHOENIX_BIN, ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Parses the one JSON document that `--out json` prints, with the raw output in the error if it is not. */
export function json<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}
