import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { ExecutionError } from './errors.js';
import { OutputBuffer } from './output-buffer.js';

export interface CommandOptions {
  /** The operator's command line, handed to the shell as one `-c` argument, never spliced into another string. */
  command: string;
  shell: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
  stdin?: string;
  /** The command's own timeout (cmd.* `timeout`): it is stopped and the result says so. */
  timeoutMs?: number;
  /** The job's signal: on abort the command is stopped and runCommand rejects with the signal's reason. */
  signal: AbortSignal;
  onSpawn?: (pid: number) => void;
  /** Between SIGTERM to the process group and SIGKILL. */
  killGraceMs?: number;
  /** How long to wait for the output pipes after the shell exited (a background process may hold them). */
  closeGraceMs?: number;
  /** Per captured stream. */
  maxOutputBytes?: number;
  /** Send stderr into stdout at the descriptor level, so their lines keep their order (Salt's cmd.run). */
  mergeStderr?: boolean;
}

export interface CommandResult {
  pid: number;
  /** The exit code; 128 + N when the shell was killed by signal N, as a shell reports it. */
  retcode: number;
  /** With `mergeStderr`, stdout and stderr in the order they were written. */
  stdout: string;
  /** Empty with `mergeStderr`. */
  stderr: string;
  timedOut: boolean;
}

const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_CLOSE_GRACE_MS = 1_000;
const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/**
 * Two pipes cannot tell which of stdout and stderr was written first, so for a merged stream a tiny
 * /bin/sh trampoline points fd 2 at fd 1 and execs the operator's shell. The command travels as an
 * argument ($1), never spliced into a script, and after the exec the pid is the operator's shell.
 */
const MERGE_TRAMPOLINE = ['/bin/sh', ['-c', 'exec "$0" -c "$1" 2>&1']] as const;

/**
 * Runs `shell -c command` in its own process group (detached), so stopping it — abort, timeout —
 * signals everything it started too: SIGTERM to the group, SIGKILL after a grace period.
 */
export function runCommand(options: CommandOptions): Promise<CommandResult> {
  const { signal } = options;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const [file, args] = options.mergeStderr
      ? [MERGE_TRAMPOLINE[0], [...MERGE_TRAMPOLINE[1], options.shell, options.command]]
      : [options.shell, ['-c', options.command]];
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: 'pipe',
    });
    const stdout = new OutputBuffer(maxOutputBytes);
    const stderr = new OutputBuffer(maxOutputBytes);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    // Without stdin the command reads end-of-file at once, never the minion's own input. A command
    // that does not read its input closes the pipe early: EPIPE is expected, not a failure.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin);

    let timedOut = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const stop = (): void => {
      const pid = child.pid;
      if (killTimer !== undefined || pid === undefined) return;
      signalGroup(pid, 'SIGTERM');
      // Escalate even after the shell has exited: members of its group that ignore SIGTERM outlive it.
      killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    };
    signal.addEventListener('abort', stop, { once: true });
    if (options.timeoutMs !== undefined) {
      timeoutTimer = setTimeout(() => {
        timedOut = true;
        stop();
      }, options.timeoutMs);
    }

    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      signal.removeEventListener('abort', stop);
      clearTimeout(timeoutTimer);
      clearTimeout(closeTimer);
      if (killTimer !== undefined && child.pid !== undefined && !groupAlive(child.pid)) clearTimeout(killTimer);
      return true;
    };

    child.once('spawn', () => {
      if (child.pid !== undefined) options.onSpawn?.(child.pid);
    });
    child.once('error', (err) => {
      // Only a failed spawn leaves no process behind; a failed kill is covered by the escalation.
      if (child.pid !== undefined || !settle()) return;
      reject(
        new ExecutionError(`unable to run command with shell ${options.shell} in ${options.cwd}: ${err.message}`, {
          cause: err,
        }),
      );
    });
    child.once('exit', (code, exitSignal) => {
      exit = { code, signal: exitSignal };
      // The output pipes close once every process holding them has exited; a daemon started in the
      // background keeps them open and must not keep the job waiting.
      closeTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
      }, options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
    });
    child.once('close', () => {
      if (!settle()) return;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      resolve({
        pid: child.pid ?? 0,
        retcode: exitCode(exit),
        stdout: stdout.text(),
        stderr: stderr.text(),
        timedOut,
      });
    });
  });
}

function exitCode(exit: { code: number | null; signal: NodeJS.Signals | null } | undefined): number {
  if (exit?.code !== null && exit?.code !== undefined) return exit.code;
  const signalNumber = exit?.signal ? constants.signals[exit.signal] : undefined;
  return signalNumber === undefined ? 1 : 128 + signalNumber;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals every process in the group led by `pid`; a group that is already gone is not an error. */
function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: nothing left to stop
  }
}
