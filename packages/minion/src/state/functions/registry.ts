import type { z } from 'zod';
import { CompileErrors } from '@phoenix/state';
import type { LowChunk, CallOutcome, StateCall } from '@phoenix/state';
import { archiveStates } from './archive.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { botoAsgStates } from './boto-asg.js';
import { botoCloudwatchAlarmStates } from './boto-cloudwatch-alarm.js';
import { botoDynamodbStates } from './boto-dynamodb.js';
import { botoElbStates } from './boto-elb.js';
import { botoIamRoleStates } from './boto-iam-role.js';
import { botoRoute53States } from './boto-route53.js';
import { botoSecgroupStates } from './boto-secgroup.js';
import { botoSnsStates } from './boto-sns.js';
import { botoSqsStates } from './boto-sqs.js';
import { cmdStates } from './cmd.js';
import { cronStates } from './cron.js';
import { fileStates } from './file.js';
import { gitStates } from './git.js';
import { grainsStates } from './grains.js';
import { hostStates } from './host.js';
import { moduleStates } from './module.js';
import { pkgrepoStates } from './pkgrepo.js';
import { sshAuthStates } from './ssh-auth.js';
import { sysctlStates } from './sysctl.js';
import { hostPath, statOrUndefined } from '../../modules/host-paths.js';
import { pkgStates } from './pkg.js';
import { serviceStates } from './service.js';
import type { StateModule, StateRuntime } from './types.js';
import { testStates } from './test.js';
import { groupStates, userStates } from './user.js';

/** The state modules every minion has; the boto_* ones reach AWS as `aws` says (default: the SDK's chain). */
export function builtinStateModules(aws: AwsStateEnvironment = {}): StateModule[] {
  return [
    fileStates,
    cmdStates,
    pkgStates(),
    pkgrepoStates,
    serviceStates(),
    userStates,
    groupStates,
    sshAuthStates,
    cronStates,
    gitStates,
    archiveStates,
    sysctlStates,
    hostStates,
    grainsStates,
    moduleStates,
    testStates,
    botoSqsStates(aws),
    botoSnsStates(aws),
    botoDynamodbStates(aws),
    botoAsgStates(aws),
    botoCloudwatchAlarmStates(aws),
    botoSecgroupStates(aws),
    botoIamRoleStates(aws),
    botoElbStates(aws),
    botoRoute53States(aws),
  ];
}

/** The state modules of a run: looks functions up and checks every chunk before anything runs. */
export class StateFunctions {
  readonly #modules: ReadonlyMap<string, StateModule>;

  constructor(modules: readonly StateModule[] = builtinStateModules()) {
    this.#modules = new Map(modules.map((module) => [module.name, module]));
  }

  module(name: string): StateModule | undefined {
    return this.#modules.get(name);
  }

  hasModWatch(chunk: LowChunk): boolean {
    return this.#modules.get(chunk.state)?.modWatch !== undefined;
  }

  /**
   * Salt's verify_data, for one state when its turn comes: an unknown state function or a bad
   * argument fails that state (naming its ID, SLS, file and line) and the rest of the run goes on.
   */
  problem(chunk: LowChunk): string | undefined {
    const fn = this.#modules.get(chunk.state)?.functions[chunk.fun];
    if (!fn) {
      return `State '${chunk.state}.${chunk.fun}' was not found in SLS '${chunk.sls}'\nReason: '${chunk.state}.${chunk.fun}' is not available (${chunk.where})`;
    }
    const parsed = fn.schema.safeParse(chunk.args);
    return parsed.success
      ? undefined
      : `State '${chunk.state}.${chunk.fun}' of ${chunk.where}: ${describeIssue(parsed.error)}`;
  }

  /** Every problem of a run's states at once (state.show_lowstate checks). */
  verify(chunks: readonly LowChunk[]): void {
    const errors = new CompileErrors();
    for (const chunk of chunks) {
      const problem = this.problem(chunk);
      if (problem !== undefined) errors.add(problem);
    }
    errors.throwIfAny();
  }

  /**
   * Calls one state for the engine: the module's availability on this host, then the `unless` and
   * `onlyif` checks, then the function (or mod_watch). A function that throws is a failed state,
   * never a crashed run; only the job's abort goes through.
   */
  dispatcher(rt: StateRuntime, signal: AbortSignal): (call: StateCall) => Promise<CallOutcome> {
    const availability = new Map<string, Promise<string | undefined>>();
    return async ({ chunk, mode, test, required }) => {
      const module = this.#modules.get(chunk.state) as StateModule;
      const requires = required.map(({ state, fun, name, args }) => ({ state, fun, name, args }));
      const context = { test, rt, id: chunk.id, sls: chunk.sls, requires };
      try {
        if (module.available) {
          let why = availability.get(module.name);
          if (!why) {
            why = module.available(rt);
            availability.set(module.name, why);
          }
          const reason = await why;
          if (reason !== undefined) return { result: false, comment: `cannot act here: ${reason}`, changes: {} };
        }
        if (mode === 'mod_watch')
          return await (module.modWatch?.(chunk.args, chunk.fun, context) ??
            Promise.resolve({ result: true, comment: '', changes: {} }));
        const skipped = await runConditions(chunk, rt);
        if (skipped) return skipped;
        const fn = module.functions[chunk.fun];
        if (!fn) return { result: false, comment: `State '${chunk.state}.${chunk.fun}' was not found`, changes: {} };
        return await fn.run(chunk.args, context);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const message = err instanceof Error ? err.message : String(err);
        return { result: false, comment: `An exception occurred in this state: ${message}`, changes: {} };
      }
    };
  }
}

/** Salt's unless/onlyif: shell commands run before the state (also with test=True). */
async function runConditions(chunk: LowChunk, rt: StateRuntime): Promise<CallOutcome | undefined> {
  if (chunk.onlyif.length === 0 && chunk.unless.length === 0) return undefined;
  const cwdArg = typeof chunk.args.cwd === 'string' ? hostPath(rt.root, chunk.args.cwd) : rt.root;
  const cwd = (await statOrUndefined(cwdArg))?.isDirectory() ? cwdArg : rt.root;
  const succeeds = async (script: string) => (await rt.commands.run({ script, cwd })).retcode === 0;
  for (const script of chunk.onlyif) {
    if (!(await succeeds(script)))
      return { result: true, comment: 'onlyif condition is false', changes: {}, skipWatch: true };
  }
  if (chunk.unless.length > 0) {
    let all = true;
    for (const script of chunk.unless) {
      if (!(await succeeds(script))) {
        all = false;
        break;
      }
    }
    if (all) return { result: true, comment: 'unless condition is true', changes: {}, skipWatch: true };
  }
  return undefined;
}

function describeIssue(error: z.ZodError): string {
  if (error.issues.length === 0) return 'invalid arguments';
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return `unexpected argument${issue.keys.length === 1 ? '' : 's'} '${issue.keys.join("', '")}'`;
      }
      const path = issue.path.map(String).join(':');
      if (issue.code === 'invalid_type' && issue.input === undefined) return `missing required argument '${path}'`;
      return path === '' ? issue.message : `argument '${path}': ${issue.message}`;
    })
    .join('; ');
}
