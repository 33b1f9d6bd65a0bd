import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import { AbsolutePath, hostPath, statOrUndefined } from './paths.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

const EnvValue = z.union([z.string(), z.number(), z.boolean()]).transform(String);
/** `env: {A: 1}` or Salt's older list form `env: [{A: 1}, {B: 2}]`. */
const EnvArg = z
  .union([z.record(z.string(), EnvValue), z.array(z.record(z.string(), EnvValue))])
  .transform((value) => (Array.isArray(value) ? Object.assign({}, ...value) : value) as Record<string, string>)
  .refine(
    (env) => Object.keys(env).every((name) => /^[^=\0]+$/.test(name)),
    'environment variable names must not contain "=" or NUL',
  );

const Command = z.strictObject({
  name: z
    .string()
    .min(1)
    .refine((cmd) => !cmd.includes('\0'), 'must not contain NUL bytes'),
  cwd: AbsolutePath.optional(),
  env: EnvArg.optional(),
  shell: z.string().min(1).default('/bin/sh'),
  creates: z.union([AbsolutePath, z.array(AbsolutePath)]).optional(),
  stdin: z.string().optional(),
  /** Seconds. */
  timeout: z.number().positive().optional(),
  success_retcodes: z.array(z.number().int()).default([0]),
  output_loglevel: z.string().optional(),
  hide_output: z.boolean().optional(),
});
type CommandArgs = z.output<typeof Command>;

async function alreadyCreated(args: CommandArgs, call: StateCallContext): Promise<StateOutcome | undefined> {
  if (args.creates === undefined) return undefined;
  const paths = Array.isArray(args.creates) ? args.creates : [args.creates];
  for (const path of paths) {
    if (!(await statOrUndefined(hostPath(call.rt.root, path)))) return undefined;
  }
  return outcome(true, paths.length === 1 ? `${paths[0]} exists` : 'All files in creates exist');
}

async function execute(args: CommandArgs, call: StateCallContext): Promise<StateOutcome> {
  const created = await alreadyCreated(args, call);
  if (created) return created;
  if (call.test) return outcome(null, `Command "${args.name}" would have been executed`);
  const cwd = args.cwd === undefined ? call.rt.root : hostPath(call.rt.root, args.cwd);
  if (!(await statOrUndefined(cwd))?.isDirectory())
    return outcome(false, `Desired working directory "${args.cwd}" is not available`);
  const result = await call.rt.commands.run({
    script: args.name,
    shell: args.shell,
    cwd,
    ...(args.env === undefined ? {} : { env: args.env }),
    ...(args.stdin === undefined ? {} : { input: args.stdin }),
    ...(args.timeout === undefined ? {} : { timeoutMs: args.timeout * 1000 }),
  });
  const changes = {
    pid: result.pid,
    retcode: result.retcode,
    stdout: result.stdout.trimEnd(),
    stderr: result.stderr.trimEnd(),
  };
  if (result.timedOut) return outcome(false, `Command "${args.name}" timed out after ${args.timeout} seconds`, changes);
  return outcome(args.success_retcodes.includes(result.retcode), `Command "${args.name}" run`, changes);
}

/** Salt's cmd states: run a command (cmd.run), or only when a watched state changed (cmd.wait). */
export const cmdStates: StateModule = Object.freeze({
  name: 'cmd',
  functions: Object.freeze({
    run: defineState({ schema: Command, run: execute }),
    wait: defineState({ schema: Command, run: async () => outcome(true, '') }),
  }),
  async modWatch(args: Record<string, unknown>, sfun: string, call: StateCallContext): Promise<StateOutcome> {
    if (sfun !== 'wait' && sfun !== 'run') return outcome(false, `cmd.${sfun} does not support watch`);
    return execute(Command.parse(args), call);
  },
});
