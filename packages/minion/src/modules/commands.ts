import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { runCommand } from './command-runner.js';

export interface CommandSpec {
  /** A program and its arguments, run without a shell (arguments are never re-parsed). */
  readonly argv?: readonly string[];
  /** Or a shell command line, run by `shell -c`. */
  readonly script?: string;
  readonly shell?: string;
  readonly cwd?: string;
  /** Added to (and overriding) the runtime's environment. */
  readonly env?: Readonly<Record<string, string>>;
  readonly input?: string;
  readonly timeoutMs?: number;
}

export interface CommandOutput {
  readonly pid: number;
  readonly retcode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/**
 * How state functions run programs. A non-zero exit is an answer, not an exception; only a
 * program that cannot start throws. Tests hand in an environment whose PATH starts with fakes.
 */
export interface Commands {
  /** The environment every command gets (PATH decides which `systemctl` runs). */
  readonly env: Readonly<Record<string, string>>;
  run(spec: CommandSpec): Promise<CommandOutput>;
  /** The program `name` resolves to on this environment's PATH, or undefined. */
  which(name: string): Promise<string | undefined>;
}

export interface CommandsOptions {
  env: Readonly<Record<string, string>>;
  /** The job's signal: stops a running command when the job is killed. */
  signal: AbortSignal;
  /** Shows the child in saltutil.running; returns the function to call once it exited. */
  trackChild?: (pid: number) => () => void;
  /** Per stream. Default 1 MiB. */
  maxOutputBytes?: number;
}

/** A process environment without unset values. */
export function processEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  return env;
}

export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'"'"'`)}'`;
}

/** Commands on the host, built on the executor's runner (process groups, abort, output caps). */
export function createCommands(options: CommandsOptions): Commands {
  const env = Object.freeze({ ...options.env });
  return {
    env,
    async run(spec) {
      const command = spec.argv !== undefined ? `exec ${spec.argv.map(shellQuote).join(' ')}` : (spec.script ?? 'true');
      let untrack: (() => void) | undefined;
      try {
        const result = await runCommand({
          command,
          shell: spec.argv !== undefined ? '/bin/sh' : (spec.shell ?? '/bin/sh'),
          cwd: spec.cwd ?? '/',
          env: { ...env, ...spec.env },
          ...(spec.input === undefined ? {} : { stdin: spec.input }),
          ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
          signal: options.signal,
          maxOutputBytes: options.maxOutputBytes ?? 1024 * 1024,
          onSpawn: (pid) => {
            untrack = options.trackChild?.(pid);
          },
        });
        return result;
      } finally {
        untrack?.();
      }
    },
    async which(name) {
      if (name.includes('/')) return (await isExecutable(name)) ? name : undefined;
      for (const dir of (env.PATH ?? '').split(delimiter)) {
        if (dir === '') continue;
        const candidate = join(dir, name);
        if (await isExecutable(candidate)) return candidate;
      }
      return undefined;
    },
  };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
