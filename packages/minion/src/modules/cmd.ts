import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute } from 'node:path';
import { MAX_MESSAGE_BYTES } from '@phoenix/protocol';
import { z } from 'zod';
import { ExecutionError } from './errors.js';
import { runCommand } from './command-runner.js';
import type { CommandResult } from './command-runner.js';
import { defineFunction } from './define-function.js';
import type { ExecutionModule, JobContext } from './types.js';

const Text = z.string().refine((s) => !s.includes('\0'), 'must not contain NUL bytes');

/** Salt's cmd.* arguments; the keys, in this order, are also the positional parameters. */
const CommandArgs = z.strictObject({
  cmd: Text.min(1),
  cwd: Text.min(1).optional(),
  stdin: z.string().optional(),
  /** Commands always run through the shell (Salt's `python_shell=True`), so pipes and `&&` work. */
  shell: Text.min(1).default('/bin/sh'),
  env: z
    .record(
      z.string().regex(/^[^=\0]+$/, 'an environment variable name must not be empty or contain "=" or NUL'),
      z.union([Text, z.number(), z.boolean(), z.null()]),
    )
    .optional(),
  /** Seconds; the command is stopped after this long and the job fails. */
  timeout: z.number().positive().optional(),
  /** The job succeeds whatever the exit code (the output still carries it in cmd.run_all). */
  ignore_retcode: z.boolean().default(false),
  /** Strip trailing whitespace from the output, as Salt does by default. */
  rstrip: z.boolean().default(true),
  /**
   * Salt's python_shell: every command runs through the shell, so True is what happens anyway;
   * False (no shell: no pipes, no variables) would change what runs and is refused.
   */
  python_shell: z
    .boolean()
    .refine((value) => value, 'python_shell=False is not supported: Phoenix runs every command through the shell')
    .optional(),
  /** Salt's, accepted for its trees: they tune Salt's own logging and locale. */
  output_loglevel: z.string().optional(),
  hide_output: z.boolean().optional(),
  reset_system_locale: z.boolean().optional(),
  saltenv: z.string().optional(),
});
type CommandArgs = z.output<typeof CommandArgs>;

/** stdout and stderr are each capped so that a return still fits in one wire message. */
const MAX_OUTPUT_BYTES = Math.floor(MAX_MESSAGE_BYTES / 4);

const OPTIONS_DOC = `
cwd: working directory (absolute; default the minion user's home)
stdin: text written to the command's standard input
shell: the shell that runs the command (default /bin/sh)
env: extra environment variables, e.g. env='{"LANG": "C"}'
timeout: seconds after which the command is stopped and the job fails
ignore_retcode: succeed whatever the exit code
rstrip: strip trailing whitespace from the output (default true)`;

/** Salt's cmd module: run a shell command on the minion. */
export const cmdModule: ExecutionModule = Object.freeze({
  name: 'cmd',
  functions: Object.freeze({
    run: defineFunction({
      doc: `Runs a command through the shell and returns its output, stderr merged into stdout. A non-zero exit code fails the job with that retcode.
${OPTIONS_DOC}

CLI Example: phoenix run '*' cmd.run 'ls -l /etc | grep ssh'`,
      schema: CommandArgs,
      run: async (args, ctx) => {
        const result = await execute(args, ctx, { mergeStderr: true });
        const output = args.rstrip ? result.stdout.trimEnd() : result.stdout;
        return result.timedOut ? join(output, timeoutMessage(args)) : output;
      },
    }),
    shell: defineFunction({
      doc: `Salt's cmd.shell: cmd.run, which always runs through the shell.
${OPTIONS_DOC}

CLI Example: phoenix run '*' cmd.shell 'ls -l /etc | grep ssh'`,
      schema: CommandArgs,
      run: async (args, ctx) => {
        const result = await execute(args, ctx, { mergeStderr: true });
        const output = args.rstrip ? result.stdout.trimEnd() : result.stdout;
        return result.timedOut ? join(output, timeoutMessage(args)) : output;
      },
    }),
    run_stdout: defineFunction({
      doc: `Runs a command through the shell and returns its standard output only.
${OPTIONS_DOC}

CLI Example: phoenix run '*' cmd.run_stdout 'hostname'`,
      schema: CommandArgs,
      run: async (args, ctx) => {
        const result = await execute(args, ctx);
        return args.rstrip ? result.stdout.trimEnd() : result.stdout;
      },
    }),
    run_stderr: defineFunction({
      doc: `Runs a command through the shell and returns its standard error only.
${OPTIONS_DOC}

CLI Example: phoenix run '*' cmd.run_stderr 'make -C /srv/app'`,
      schema: CommandArgs,
      run: async (args, ctx) => {
        const result = await execute(args, ctx);
        return args.rstrip ? result.stderr.trimEnd() : result.stderr;
      },
    }),
    retcode: defineFunction({
      doc: `Runs a command through the shell and returns its exit code, which is also the job's retcode.
${OPTIONS_DOC}

CLI Example: phoenix run '*' cmd.retcode 'test -f /etc/motd'`,
      schema: CommandArgs,
      run: async (args, ctx) => (await execute(args, ctx)).retcode,
    }),
    run_all: defineFunction({
      doc: `Runs a command through the shell and returns {pid, retcode, stdout, stderr}. A non-zero exit code fails the job with that retcode.
${OPTIONS_DOC}

CLI Example: phoenix run '*' cmd.run_all 'make -C /srv/app'`,
      schema: CommandArgs,
      run: async (args, ctx) => {
        const result = await execute(args, ctx);
        const strip = (text: string): string => (args.rstrip ? text.trimEnd() : text);
        return {
          pid: result.pid,
          retcode: result.retcode,
          stdout: strip(result.stdout),
          stderr: result.timedOut ? join(strip(result.stderr), timeoutMessage(args)) : strip(result.stderr),
        };
      },
    }),
  }),
});

/** Runs the command and sets the job's retcode from it, as Salt's `_run` sets `__context__['retcode']`. */
async function execute(args: CommandArgs, ctx: JobContext, { mergeStderr = false } = {}): Promise<CommandResult> {
  const cwd = await workingDirectory(args.cwd);
  await assertShell(args.shell);
  let untrack: (() => void) | undefined;
  try {
    const result = await runCommand({
      command: args.cmd,
      shell: args.shell,
      cwd,
      env: environment(args.env),
      ...(args.stdin === undefined ? {} : { stdin: args.stdin }),
      ...(args.timeout === undefined ? {} : { timeoutMs: args.timeout * 1000 }),
      signal: ctx.signal,
      maxOutputBytes: MAX_OUTPUT_BYTES,
      mergeStderr,
      onSpawn: (pid) => {
        untrack = ctx.trackChild(pid);
      },
    });
    // Salt reports a timed-out command with retcode 1, whatever signal ended it.
    const retcode = result.timedOut ? 1 : result.retcode;
    ctx.setRetcode(args.ignore_retcode ? 0 : retcode);
    ctx.logger.debug({ pid: result.pid, retcode, timedOut: result.timedOut }, 'command finished');
    return { ...result, retcode };
  } finally {
    untrack?.();
  }
}

/** Salt's default: the home directory, or / when the minion's user cannot read it. */
async function workingDirectory(cwd: string | undefined): Promise<string> {
  if (cwd === undefined) {
    const home = homedir();
    return (await readable(home)) ? home : '/';
  }
  const isDirectory =
    isAbsolute(cwd) &&
    (await stat(cwd).then(
      (s) => s.isDirectory(),
      () => false,
    ));
  if (!isDirectory)
    throw new ExecutionError(`Specified cwd '${cwd}' either not absolute or does not exist`, { details: { cwd } });
  return cwd;
}

async function assertShell(shell: string): Promise<void> {
  // A bare name is looked up on PATH by spawn, which reports it missing itself.
  if (shell.includes('/') && !(await executable(shell))) {
    throw new ExecutionError(`The shell ${shell} is not available`, { details: { shell } });
  }
}

/** The minion's own environment with the job's additions; null sets a variable to "" as Salt does. */
function environment(extra: CommandArgs['env']): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value;
  for (const [name, value] of Object.entries(extra ?? {})) env[name] = value === null ? '' : String(value);
  return env;
}

function timeoutMessage(args: CommandArgs): string {
  return `Command '${args.cmd}' timed out after ${args.timeout} seconds and was stopped`;
}

function join(output: string, message: string): string {
  return output === '' ? message : `${output}\n${message}`;
}

const readable = (path: string): Promise<boolean> =>
  access(path, constants.R_OK).then(
    () => true,
    () => false,
  );
const executable = (path: string): Promise<boolean> =>
  access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
