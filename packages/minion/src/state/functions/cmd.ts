import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isMapping } from '@phoenix/state';
import type { StateOutcome } from '@phoenix/state';
import { lookupUser } from '../../modules/accounts.js';
import { shellQuote } from '../../modules/commands.js';
import type { CommandOutput, CommandSpec } from '../../modules/commands.js';
import { Context, readSource } from './file-common.js';
import { AbsolutePath, hostPath, statOrUndefined } from '../../modules/host-paths.js';
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

/** `stateful: True`, or `stateful: [{test_name: 'cmd --dry-run'}]` for test=True runs. */
const Stateful = z
  .union([z.boolean(), z.array(z.record(z.string(), z.string())), z.record(z.string(), z.string())])
  .transform((value) => {
    if (typeof value === 'boolean') return { enabled: value, testName: undefined };
    const merged = (Array.isArray(value) ? Object.assign({}, ...value) : value) as Record<string, string>;
    return { enabled: true, testName: merged.test_name };
  });

const Common = {
  cwd: AbsolutePath.optional(),
  runas: z.string().min(1).optional(),
  shell: z.string().min(1).default('/bin/sh'),
  env: EnvArg.optional(),
  prepend_path: z.string().min(1).optional(),
  umask: z.union([z.string(), z.number()]).transform(String).optional(),
  stateful: Stateful.prefault(false),
  creates: z.union([AbsolutePath, z.array(AbsolutePath)]).optional(),
  stdin: z.string().optional(),
  /** Seconds. */
  timeout: z.number().positive().optional(),
  ignore_timeout: z.boolean().default(false),
  success_retcodes: z.union([z.number().int(), z.array(z.number().int())]).optional(),
  success_stdout: z.union([z.string(), z.array(z.string())]).optional(),
  success_stderr: z.union([z.string(), z.array(z.string())]).optional(),
  output_loglevel: z.string().optional(),
  hide_output: z.boolean().optional(),
  use_vt: z.boolean().optional(),
  python_shell: z.boolean().optional(),
  password: z.string().optional(),
};

const Command = z.strictObject({
  name: z
    .string()
    .min(1)
    .refine((cmd) => !cmd.includes('\0'), 'must not contain NUL bytes'),
  ...Common,
});
type CommandArgs = z.output<typeof Command>;

const Script = z.strictObject({
  name: z.string().min(1),
  source: z.string().min(1).optional(),
  template: z.enum(['jinja']).optional(),
  context: Context.optional(),
  defaults: Context.optional(),
  args: z.union([z.string(), z.array(z.union([z.string(), z.number()]))]).optional(),
  saltenv: z.string().optional(),
  ...Common,
});
type ScriptArgs = z.output<typeof Script>;

async function alreadyCreated(
  args: { creates?: string | string[] | undefined },
  call: StateCallContext,
): Promise<StateOutcome | undefined> {
  if (args.creates === undefined) return undefined;
  const paths = Array.isArray(args.creates) ? args.creates : [args.creates];
  for (const path of paths) {
    if (!(await statOrUndefined(hostPath(call.rt.root, path)))) return undefined;
  }
  return outcome(true, paths.length === 1 ? `${paths[0]} exists` : 'All files in creates exist');
}

/** How a command runs as `runas`: directly when that is us, else through runuser or su (needs root). */
async function asUser(
  call: StateCallContext,
  runas: string | undefined,
  shell: string,
  script: string,
): Promise<{ spec: Pick<CommandSpec, 'argv' | 'script' | 'shell'> } | { error: string }> {
  if (runas === undefined) return { spec: { script, shell } };
  const user = await lookupUser(call.rt.commands, runas).catch(() => undefined);
  if (!user) return { error: `User '${runas}' is not available` };
  if (user.uid === process.geteuid?.()) return { spec: { script, shell } };
  if (process.geteuid?.() !== 0)
    return { error: `runas ${runas}: the minion must run as root to run commands as another user` };
  if (await call.rt.commands.which('runuser'))
    return { spec: { argv: ['runuser', '-u', runas, '--', shell, '-c', script] } };
  if (await call.rt.commands.which('su')) return { spec: { argv: ['su', '-s', shell, '-c', script, runas] } };
  return { error: `runas ${runas}: neither runuser nor su is on PATH` };
}

/** Salt's stateful commands: the last line of output says `changed=yes comment="..."` (or JSON). */
function reinterpret(ret: StateOutcome & { changes: Record<string, unknown> }, stdout: string): StateOutcome {
  const lines = stdout.trimEnd().split('\n');
  const last = (lines.at(-1) ?? '').trim();
  let data: Record<string, unknown> | undefined;
  if (last.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(last);
      if (isMapping(parsed)) data = parsed;
    } catch {
      data = undefined;
    }
  }
  if (!data) {
    data = {};
    for (const match of last.matchAll(/([A-Za-z_][\w]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S+)/g)) {
      const raw = match[2] ?? '';
      data[match[1] ?? ''] = raw.startsWith('"') || raw.startsWith("'") ? raw.slice(1, -1) : raw;
    }
  }
  if (Object.keys(data).length === 0) return ret;
  const changes: Record<string, unknown> = { ...ret.changes, stdout: lines.slice(0, -1).join('\n') };
  let comment = ret.comment;
  let keep = true;
  for (const [key, value] of Object.entries(data)) {
    if (key === 'changed') {
      const text = String(value).toLowerCase();
      keep = !['no', 'false', '0', ''].includes(text) && value !== false;
    } else if (key === 'comment') comment = String(value);
    else changes[key] = typeof value === 'string' ? (parseYamlScalar(value) ?? value) : value;
  }
  return { result: ret.result, comment, changes: keep ? changes : {} };
}

function parseYamlScalar(text: string): unknown {
  try {
    return parseYaml(text) as unknown;
  } catch {
    return undefined;
  }
}

async function execute(
  args: CommandArgs | ScriptArgs,
  call: StateCallContext,
  command: string,
  what: string,
): Promise<StateOutcome> {
  const created = await alreadyCreated(args, call);
  if (created) return created;
  if (call.test && !(args.stateful.enabled && args.stateful.testName !== undefined))
    return outcome(null, `Command "${what}" would have been executed`);
  const script = call.test && args.stateful.testName !== undefined ? args.stateful.testName : command;
  const cwd = args.cwd === undefined ? call.rt.root : hostPath(call.rt.root, args.cwd);
  if (!(await statOrUndefined(cwd))?.isDirectory())
    return outcome(false, `Desired working directory "${args.cwd}" is not available`);
  const prefixed = args.umask !== undefined ? `umask ${shellQuote(args.umask)}; ${script}` : script;
  const runner = await asUser(call, args.runas, args.shell, prefixed);
  if ('error' in runner) return outcome(false, runner.error);
  const env: Record<string, string> = { ...args.env };
  if (args.prepend_path !== undefined) env.PATH = `${args.prepend_path}:${env.PATH ?? call.rt.commands.env.PATH ?? ''}`;
  let result: CommandOutput;
  try {
    result = await call.rt.commands.run({
      ...runner.spec,
      cwd,
      env,
      ...(args.stdin === undefined ? {} : { input: args.stdin }),
      ...(args.timeout === undefined ? {} : { timeoutMs: args.timeout * 1000 }),
    });
  } catch (err) {
    return outcome(false, `Unable to run command "${what}": ${(err as Error).message}`);
  }
  const changes: Record<string, unknown> = {
    pid: result.pid,
    retcode: result.retcode,
    stdout: result.stdout.trimEnd(),
    stderr: result.stderr.trimEnd(),
  };
  if (result.timedOut) {
    if (args.ignore_timeout) return outcome(true, `Timeout of ${args.timeout} seconds reached, ignoring`, changes);
    return outcome(false, `Timed out after ${args.timeout} seconds`, changes);
  }
  const codes = args.success_retcodes === undefined ? [0] : [0, ...[args.success_retcodes].flat()];
  const stdoutOk = [args.success_stdout ?? []].flat().some((text) => text === result.stdout.trim());
  const stderrOk = [args.success_stderr ?? []].flat().some((text) => text === result.stderr.trim());
  const ok = codes.includes(result.retcode) || stdoutOk || stderrOk;
  const ret = outcome(ok, `Command "${what}" run`, changes) as StateOutcome & { changes: Record<string, unknown> };
  return args.stateful.enabled ? reinterpret(ret, result.stdout) : ret;
}

async function runScript(args: ScriptArgs, call: StateCallContext): Promise<StateOutcome> {
  const created = await alreadyCreated(args, call);
  if (created) return created;
  if (call.test) return outcome(null, `Command "${args.name}" would have been executed`);
  const source = args.source ?? args.name.split(/\s+/)[0] ?? args.name;
  const found = await readSource(call.rt, [source]);
  if ('error' in found) return outcome(false, found.error);
  let text = found.content.toString('utf8');
  if (args.template !== undefined) {
    const file = found.url.startsWith('salt://') ? found.url.slice('salt://'.length) : found.url.replace(/^\/+/, '');
    text = await call.rt.renderTemplate(text, file, { ...args.defaults, ...args.context });
  }
  const dir = join(call.rt.cacheDir, 'extmods', 'scripts');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `script-${call.rt.now()}-${Math.floor(Math.random() * 1e9)}`);
  await writeFile(path, text, { mode: 0o700 });
  await chmod(path, 0o755);
  try {
    const extra =
      args.args === undefined
        ? ''
        : ` ${typeof args.args === 'string' ? args.args : args.args.map((a) => shellQuote(String(a))).join(' ')}`;
    const rest = args.source !== undefined ? '' : args.name.split(/\s+/).slice(1).join(' ');
    return await execute(
      args,
      { ...call, test: false },
      `${shellQuote(path)}${extra}${rest === '' ? '' : ` ${rest}`}`,
      args.name,
    );
  } finally {
    await rm(path, { force: true });
  }
}

/** Salt's cmd states: run a command or script, or only when a watched state changed (cmd.wait). */
export const cmdStates: StateModule = Object.freeze({
  name: 'cmd',
  functions: Object.freeze({
    run: defineState({ schema: Command, run: (args, call) => execute(args, call, args.name, args.name) }),
    wait: defineState({ schema: Command, run: async () => outcome(true, '') }),
    script: defineState({ schema: Script, run: runScript }),
    wait_script: defineState({ schema: Script, run: async () => outcome(true, '') }),
  }),
  async modWatch(args: Record<string, unknown>, sfun: string, call: StateCallContext): Promise<StateOutcome> {
    if (sfun === 'wait' || sfun === 'run') {
      const parsed = Command.parse(args);
      return execute(parsed, call, parsed.name, parsed.name);
    }
    if (sfun === 'script' || sfun === 'wait_script') return runScript(Script.parse(args), call);
    return outcome(false, `cmd.${sfun} does not work with the watch requisite, use cmd.wait or cmd.wait_script`);
  },
});
