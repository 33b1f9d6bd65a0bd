import { spawn } from 'node:child_process';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

/** What one git command may print before it is stopped: a state tree's listing, not a dump. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface GitCommand {
  readonly args: readonly string[];
  /** Extra environment for this command alone (credentials, GIT_INDEX_FILE). */
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: Buffer | string;
  readonly timeoutMs?: number;
  /** Hides these strings (secrets) in any message this command's failure carries. */
  readonly secrets?: readonly string[];
}

/**
 * The system `git` binary, run without a shell and with none of the host's git configuration:
 * no prompts, no system or user config, only the transports Phoenix allows. Every failure is a
 * PhoenixError (PHX_GIT_FAILED) carrying git's own last lines, with secrets blanked.
 */
export class Git {
  readonly #binary: string;
  readonly #defaultTimeoutMs: number;
  readonly #signal: AbortSignal | undefined;

  /** `signal`: aborted when the master stops; every command still running is ended then. */
  constructor(options: { binary?: string; timeoutMs: number; signal?: AbortSignal }) {
    this.#binary = options.binary ?? 'git';
    this.#defaultTimeoutMs = options.timeoutMs;
    this.#signal = options.signal;
  }

  /** `git version 2.39.5`, or PHX_GIT_MISSING saying how to install it. */
  async version(): Promise<string> {
    try {
      return (await this.run({ args: ['version'], timeoutMs: 10_000 })).toString('utf8').trim();
    } catch (err) {
      throw new PhoenixError(
        MasterErrors.PHX_GIT_MISSING,
        `git remotes in fileRoots or pillarRoots need the git command, which did not run (${
          err instanceof Error ? err.message : String(err)
        }): install it (apt-get install git, dnf install git)`,
        { cause: err },
      );
    }
  }

  run(command: GitCommand): Promise<Buffer> {
    const timeoutMs = command.timeoutMs ?? this.#defaultTimeoutMs;
    const signal = this.#signal;
    if (signal?.aborted === true) return Promise.reject(failure(command, 'the master is stopping'));
    return new Promise((resolve, reject) => {
      const child = spawn(this.#binary, ['-c', 'core.quotePath=false', ...command.args], {
        env: { ...baseEnvironment(), ...command.env },
        stdio: ['pipe', 'pipe', 'pipe'],
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let overflow = false;
      child.stdout.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > MAX_OUTPUT_BYTES) {
          overflow = true;
          child.kill('SIGKILL');
          return;
        }
        out.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (err.reduce((n, b) => n + b.byteLength, 0) < 64 * 1024) err.push(chunk);
      });
      // SIGTERM, not SIGKILL: git removes its lock files on it, so the mirror stays usable.
      const stop = (): void => void child.kill('SIGTERM');
      signal?.addEventListener('abort', stop, { once: true });
      child.once('close', () => signal?.removeEventListener('abort', stop));
      child.stdin.on('error', () => undefined);
      child.stdin.end(command.input ?? '');
      child.on('error', (e) => reject(failure(command, e.message)));
      child.on('close', (code, signal) => {
        if (code === 0 && !overflow) {
          resolve(Buffer.concat(out));
          return;
        }
        const stderr = Buffer.concat(err).toString('utf8').trim();
        const why = overflow
          ? `printed more than ${MAX_OUTPUT_BYTES} bytes`
          : signal !== null
            ? `stopped by ${signal} after ${timeoutMs} ms`
            : lastLines(stderr) || `exit status ${String(code)}`;
        reject(failure(command, why));
      });
    });
  }
}

/** git's environment: the process's PATH and locale, nothing of the operator's git setup. */
function baseEnvironment(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/nonexistent',
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: 'https:http:ssh:file',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
  };
  return env;
}

/** git's advice after a failed remote: it hides the line that says why (ssh's, say), so it goes. */
const BOILERPLATE = new Set(['Please make sure you have the correct access rights', 'and the repository exists.']);

function lastLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !BOILERPLATE.has(line))
    .slice(-4)
    .join(' / ')
    .slice(0, 2_000);
}

function failure(command: GitCommand, why: string): PhoenixError {
  return new PhoenixError(
    MasterErrors.PHX_GIT_FAILED,
    redact(`git ${command.args.find((a) => !a.startsWith('-')) ?? ''} failed: ${why}`, command.secrets ?? []),
  );
}

/** Blanks every secret in `text` (and its URL-encoded form, as git may print it). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}
