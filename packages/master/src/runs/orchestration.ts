import { z } from 'zod';
import {
  compileGlob,
  parseBatchSize,
  PhoenixError,
  TargetTypeSchema,
  isPhoenixError,
  type TargetType,
} from '@phoenix/protocol';
import {
  buildHighState,
  compileLow,
  compilePillar,
  deepMerge,
  planRun,
  runPlan,
  RunFiles,
  SlsLoader,
  startTime,
  StateErrors,
  TemplateRenderer,
  type CallOutcome,
  type LowChunk,
  type PlannedChunk,
  type RenderIsolation,
  type StateFiles,
  type StateResult,
} from '@phoenix/state';
import type { LoadedRun, ReturnRecord, RunOutcome, RunStep } from '@phoenix/store';
import type { ClusterEvents } from '../events.js';
import { MasterErrors } from '../errors.js';
import type { JobService } from '../jobs.js';
import type { KeyRegistry } from '../keys.js';
import { taggedEvent } from '../event-tags.js';
import { runJobStep, succeeded, type JobStepSpec, type RunContext, type RunDriver, type RunEnd } from './job-step.js';

/*
 * Orchestrations: Salt's `state.orchestrate`. An SLS from the masters' file server, rendered here
 * (Jinja sees the pillar and every minion's grains) and compiled by the state engine, whose steps
 * are `salt.state`, `salt.function`, `salt.wait_for_event` and the key built-ins of `salt.runner`
 * / `salt.wheel`, ordered by requisites. Every step is checked before anything runs. The steps run
 * on the master driving the run, each recorded in the run as it starts and ends, so a master that
 * takes the run over replays the plan: finished steps give their recorded outcome, a step in
 * progress is followed (its jobs by jid), the rest run.
 */

const Target = z.union([z.string().min(1).max(4096), z.array(z.string().min(1).max(255)).min(1).max(100_000)]);
const Batch = z
  .union([z.string(), z.number()])
  .transform(String)
  .superRefine((value, ctx) => {
    try {
      parseBatchSize(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
const MinionList = z.union([z.string(), z.array(z.string())]).transform((value) =>
  Array.isArray(value)
    ? value
    : value
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id !== ''),
);
const Common = {
  name: z.string().min(1),
  tgt: Target,
  tgt_type: TargetTypeSchema.default('glob'),
  /** Seconds each minion has to return. */
  timeout: z.number().positive().max(86_400).optional(),
  batch: Batch.optional(),
  /** Minions that did not return fail the step (they always do here: see the README). */
  expect_minions: z.boolean().optional(),
  /** Minions whose failure does not fail the step. */
  fail_minions: MinionList.optional(),
};

const StateStep = z
  .strictObject({
    ...Common,
    sls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    highstate: z.boolean().optional(),
    saltenv: z.string().min(1).optional(),
    test: z.boolean().optional(),
    pillar: z.record(z.string(), z.unknown()).optional(),
    queue: z.boolean().optional(),
    concurrent: z.boolean().optional(),
    allow_fail: z.int().min(0).optional(),
  })
  .refine((step) => step.highstate === true || step.sls !== undefined, 'give sls, or highstate: True');

const FunctionStep = z.strictObject({
  ...Common,
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'module.function'),
  arg: z.union([z.array(z.unknown()), z.string()]).optional(),
  kwarg: z.record(z.string(), z.unknown()).optional(),
});

const WaitStep = z.strictObject({
  /** A tag glob: `phoenix/minion/*\/start`. */
  name: z.string().min(1).max(1024),
  id_list: z.array(z.string().min(1)).min(1),
  event_id: z.string().min(1).default('id'),
  /** Seconds. */
  timeout: z.number().positive().max(86_400).default(300),
  node: z.literal('master').optional(),
});

const KEY_ACTIONS = { 'key.accept': 'accept', 'key.reject': 'reject', 'key.delete': 'delete' } as const;
const KeyStep = z.strictObject({
  name: z.enum(Object.keys(KEY_ACTIONS) as [keyof typeof KEY_ACTIONS, ...(keyof typeof KEY_ACTIONS)[]]),
  match: z.string().min(1),
  include_rejected: z.boolean().optional(),
  include_accepted: z.boolean().optional(),
  include_denied: z.boolean().optional(),
});

/** The functions a step may call, with their arguments. */
const STEP_FUNCTIONS = {
  state: StateStep,
  function: FunctionStep,
  wait_for_event: WaitStep,
  runner: KeyStep,
  wheel: KeyStep,
} as const;
type StepFunction = keyof typeof STEP_FUNCTIONS;
const FUNCTION_NAMES = Object.keys(STEP_FUNCTIONS).map((fun) => `salt.${fun}`);

/** Requisites an orchestration step cannot use: they need a dry run of another step, or mod_watch. */
const REFUSED_REQUISITES = ['prereq', 'prereq_in', 'listen', 'listen_in'] as const;

/** An orchestration's header holds its compiled steps: kept well under DynamoDB's 400 KB an item. */
const MAX_SPEC_BYTES = 300_000;

/** What an orchestration run keeps in its spec: the steps as compiled when it was submitted. */
const OrchestrationSpecSchema = z.object({
  name: z.string(),
  saltenv: z.string(),
  test: z.boolean(),
  /** The submitter's API role, for what its state.enable steps may lift. */
  role: z.enum(['read', 'operate', 'admin']).optional(),
  chunks: z.array(z.custom<LowChunk>((value) => typeof value === 'object' && value !== null)),
});
export type OrchestrationSpec = z.output<typeof OrchestrationSpecSchema>;

export interface OrchestrationRequest {
  name: string;
  saltenv: string;
  pillar: Record<string, unknown>;
  test: boolean;
}

export interface OrchestrationCompilerOptions {
  readonly masterId: string;
  /**
   * The tree served now: its file roots (salt://) and pillar roots (the orchestration sees the
   * master's pillar, as Salt's does), read again for each orchestration (git roots move).
   */
  readonly trees: () => Promise<{ files: StateFiles; pillar: StateFiles }>;
  readonly jobs: JobService;
  /** Where templates render: the master's render process, without secrets (see @phoenix/state). */
  readonly isolation?: RenderIsolation;
  readonly timeoutMs: number;
  readonly opts: Readonly<Record<string, unknown>>;
}

/** The orchestration's own id in outputs: Salt names it `<master>_master`. */
export function orchestratorId(masterId: string): string {
  return `${masterId}_master`;
}

/** Renders and compiles orchestration SLS files; everything wrong is PHX_ORCHESTRATION_INVALID, before anything runs. */
export class OrchestrationCompiler {
  readonly #o: OrchestrationCompilerOptions;

  constructor(options: OrchestrationCompilerOptions) {
    this.#o = options;
  }

  async compile(request: OrchestrationRequest): Promise<{ chunks: LowChunk[]; plan: PlannedChunk[] }> {
    const renderer = new TemplateRenderer({
      timeoutMs: this.#o.timeoutMs,
      ...(this.#o.isolation === undefined ? {} : { isolation: this.#o.isolation }),
    });
    const id = orchestratorId(this.#o.masterId);
    const grains = { id, master: this.#o.masterId };
    const opts = { ...this.#o.opts, id, saltenv: request.saltenv, test: request.test };
    const call = (fun: string, args: unknown[], kwargs: Record<string, unknown>): Promise<unknown> =>
      this.#call(fun, args, kwargs);
    try {
      const trees = await this.#o.trees();
      const masterPillar = await compilePillar(trees.pillar, {
        minionId: id,
        grains,
        saltenv: request.saltenv,
        opts,
        renderer,
        call,
      });
      const pillar = deepMerge(masterPillar, { ...request.pillar });
      const loader = new SlsLoader(new RunFiles(trees.files), renderer, call);
      const high = await buildHighState([{ name: request.name, env: request.saltenv }], (name, env) =>
        loader.load(name, env, { grains, pillar, opts }),
      );
      const chunks = compileLow(high);
      const plan = planRun(chunks);
      const problems = chunks.map(stepProblem).filter((p): p is string => p !== undefined);
      if (chunks.length === 0) problems.push(`salt://${request.name} has no steps`);
      if (problems.length > 0) throw invalid(request.name, problems);
      if (Buffer.byteLength(JSON.stringify(chunks)) > MAX_SPEC_BYTES) {
        throw invalid(request.name, [`its steps compile to more than ${MAX_SPEC_BYTES} bytes; split it`]);
      }
      return { chunks, plan };
    } catch (err) {
      if (isPhoenixError(err, MasterErrors.PHX_ORCHESTRATION_INVALID)) throw err;
      const errors =
        isPhoenixError(err) && Array.isArray(err.details.errors)
          ? err.details.errors.map(String)
          : [err instanceof Error ? err.message : String(err)];
      throw invalid(request.name, errors, err);
    } finally {
      await renderer.close();
    }
  }

  /**
   * What a template may call on the master: `cache.grains` (Salt's runner, also through
   * `saltutil.runner`), the grains of the minions a target selects, as targets see them. Nothing
   * else: the master runs no execution module for a template.
   */
  async #call(fun: string, args: unknown[], kwargs: Record<string, unknown>): Promise<unknown> {
    if (fun === 'saltutil.runner' && args[0] === 'cache.grains') return this.#cacheGrains(args.slice(1), kwargs);
    if (fun === 'cache.grains') return this.#cacheGrains(args, kwargs);
    throw new PhoenixError(
      StateErrors.PHX_STATE_RENDER,
      `salt['${fun}'] is not available in an orchestration: the master offers cache.grains (also as saltutil.runner('cache.grains'))`,
    );
  }

  #cacheGrains(args: unknown[], kwargs: Record<string, unknown>): Record<string, unknown> {
    const tgt = kwargs.tgt ?? args[0] ?? '*';
    const type = TargetTypeSchema.safeParse(kwargs.tgt_type ?? args[1] ?? 'glob');
    if (typeof tgt !== 'string' || !type.success) {
      throw new PhoenixError(StateErrors.PHX_STATE_RENDER, `cache.grains takes tgt and tgt_type (${TARGET_NAMES})`);
    }
    const jobs = this.#o.jobs;
    return Object.fromEntries(jobs.expectedMinions(tgt, type.data).map((id) => [id, { ...jobs.targetingGrains(id) }]));
  }
}

const TARGET_NAMES = TargetTypeSchema.options.join(', ');

function invalid(name: string, problems: readonly string[], cause?: unknown): PhoenixError {
  return new PhoenixError(
    MasterErrors.PHX_ORCHESTRATION_INVALID,
    `orchestration ${name}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n${problems.join('\n')}`}; nothing ran`,
    { details: { errors: [...problems] }, ...(cause === undefined ? {} : { cause }) },
  );
}

/** Why a step cannot run (an unknown function, an argument it does not take), or undefined. */
function stepProblem(chunk: LowChunk): string | undefined {
  const where = chunk.where;
  const schema = chunk.state === 'salt' ? STEP_FUNCTIONS[chunk.fun as StepFunction] : undefined;
  if (schema === undefined || !Object.hasOwn(STEP_FUNCTIONS, chunk.fun)) {
    return `${where}: ${chunk.state}.${chunk.fun} is not an orchestration function (${FUNCTION_NAMES.join(', ')})`;
  }
  for (const kind of REFUSED_REQUISITES) {
    if (chunk.requisites[kind].length > 0) return `${where}: ${kind} is not available between orchestration steps`;
  }
  if (chunk.unless.length > 0 || chunk.onlyif.length > 0) {
    return `${where}: unless and onlyif run commands, which an orchestration does not do on the master`;
  }
  const parsed = schema.safeParse(chunk.args);
  if (parsed.success) return undefined;
  const issues = parsed.error.issues.map((issue) =>
    issue.code === 'unrecognized_keys'
      ? `salt.${chunk.fun} takes no argument ${issue.keys.join(', ')}`
      : `${issue.path.map(String).join('.') || 'arguments'}: ${issue.message}`,
  );
  return `${where}: ${issues.join('; ')}`;
}

/** The spec an orchestration run keeps. */
export function orchestrationSpec(
  request: OrchestrationRequest,
  chunks: readonly LowChunk[],
  role: OrchestrationSpec['role'],
): OrchestrationSpec {
  return {
    name: request.name,
    saltenv: request.saltenv,
    test: request.test,
    ...(role === undefined ? {} : { role }),
    chunks: [...chunks],
  };
}

/** Whether any step changes keys (those need an admin to submit the orchestration). */
export function changesKeys(chunks: readonly LowChunk[]): boolean {
  return chunks.some((chunk) => chunk.state === 'salt' && (chunk.fun === 'runner' || chunk.fun === 'wheel'));
}

export interface OrchestrationDriverDeps {
  readonly events: ClusterEvents;
  readonly keys: KeyRegistry;
  readonly defaultTimeoutMs: number;
}

/** Drives an orchestration run: the state engine over its steps, each step recorded as it goes. */
export function orchestrationDriver(deps: OrchestrationDriverDeps): RunDriver {
  return async (ctx, loaded): Promise<RunEnd> => {
    const spec = OrchestrationSpecSchema.parse(loaded.run.spec);
    const plan = planRun(spec.chunks);
    const indexOf = new Map(plan.map((planned, index) => [planned.chunk, index]));
    const steps = new Map<number, RunStep>(Object.entries(loaded.run.steps).map(([k, v]) => [Number(k), v]));
    const record = async (index: number, step: RunStep): Promise<void> => {
      ctx.assertHeld();
      await ctx.runs.setStep(ctx.runId, ctx.leaseId, index, step, ctx.now());
      steps.set(index, step);
    };
    const engine = await runPlan(plan, {
      test: spec.test,
      failhard: false,
      hasModWatch: () => false,
      now: ctx.now,
      signal: ctx.signal,
      call: async ({ chunk }): Promise<CallOutcome> => {
        const index = indexOf.get(chunk) as number;
        const known = steps.get(index);
        // Finished before a takeover: its recorded outcome, not a second run.
        if (known?.status === 'done') return recordedOutcome(known);
        const startedAt = known?.startedAt ?? ctx.now();
        if (known === undefined) await record(index, { status: 'running', startedAt });
        ctx.log.info({ step: chunk.id, fun: `salt.${chunk.fun}` }, 'orchestration step started');
        const step = await runStep(ctx, deps, spec, index, chunk, loaded, known, record);
        await record(index, {
          status: 'done',
          startedAt,
          finishedAt: ctx.now(),
          result: step.outcome.result,
          comment: step.outcome.comment,
          changed: Object.keys(step.outcome.changes).length > 0,
          ...(step.seen === undefined ? {} : { seen: step.seen }),
        });
        return step.outcome;
      },
    });
    // Steps the engine decided without running (a requisite failed, onchanges unmet) are recorded
    // too, and every reported step gets its place in the run's order.
    for (const [index, planned] of plan.entries()) {
      const result = engine.results[planned.tag];
      if (result === undefined) continue;
      const known = steps.get(index);
      if (known?.status === 'done' && known.runNum === result.__run_num__) continue;
      await record(index, {
        ...(known ?? { startedAt: ctx.now() }),
        status: 'done',
        finishedAt: known?.finishedAt ?? ctx.now(),
        result: result.result,
        comment: known?.comment ?? result.comment,
        changed: known?.changed ?? Object.keys(result.changes).length > 0,
        runNum: result.__run_num__,
      });
    }
    const results = Object.values(engine.results);
    const failed = results.filter((r) => r.result === false).length;
    const halted = engine.haltedBy === undefined ? '' : `; failhard stopped the run at ${engine.haltedBy}`;
    return failed > 0
      ? { status: 'failed', summary: `${failed} of ${results.length} steps failed${halted}` }
      : { status: 'succeeded', summary: `${results.length} steps succeeded` };
  };
}

function recordedOutcome(step: RunStep): CallOutcome {
  return {
    result: step.result ?? null,
    comment: step.comment ?? '',
    changes: step.changed === true ? { recorded: true } : {},
  };
}

async function runStep(
  ctx: RunContext,
  deps: OrchestrationDriverDeps,
  spec: OrchestrationSpec,
  index: number,
  chunk: LowChunk,
  loaded: LoadedRun,
  known: RunStep | undefined,
  record: (index: number, step: RunStep) => Promise<void>,
): Promise<{ outcome: CallOutcome; seen?: string[] }> {
  switch (chunk.fun as StepFunction) {
    case 'state':
    case 'function': {
      if (chunk.fun === 'function' && spec.test) {
        const args = FunctionStep.parse(chunk.args);
        return {
          outcome: {
            result: null,
            comment: `Function ${args.name} will be executed on target ${String(args.tgt)} as test=False`,
            changes: {},
          },
        };
      }
      const job = jobOf(chunk, spec, deps.defaultTimeoutMs);
      const result = await runJobStep(ctx, index, job.spec, {
        ...(loaded.targets.has(index)
          ? { targets: loaded.targets.get(index) as NonNullable<ReturnType<typeof loaded.targets.get>> }
          : {}),
        dispatches: loaded.dispatches.get(index) ?? [],
      });
      const returns = new Map<string, ReturnRecord>();
      for (const dispatch of result.dispatches)
        for (const ret of await ctx.jobs.returns(dispatch.jid)) returns.set(ret.minionId, ret);
      const minions = [...result.targets.minions, ...result.targets.notConnected];
      return { outcome: judge(chunk.fun as 'state' | 'function', job, minions, result.outcomes, returns, spec.test) };
    }
    case 'wait_for_event':
      return waitForEvent(ctx, deps, spec, index, WaitStep.parse(chunk.args), known, record);
    case 'runner':
    case 'wheel': {
      const args = KeyStep.parse(chunk.args);
      if (spec.test)
        return { outcome: { result: null, comment: `Function '${args.name}' would be executed.`, changes: {} } };
      const action = KEY_ACTIONS[args.name];
      const include =
        action === 'accept'
          ? args.include_rejected === true
          : action === 'reject'
            ? args.include_accepted === true
            : false;
      ctx.assertHeld();
      const changes = await deps.keys.apply(action, args.match, include, ctx.now());
      const ids = changes.map((c) => c.minionId);
      return {
        outcome: {
          result: true,
          comment: `Function '${args.name}' executed.`,
          changes: ids.length === 0 ? {} : { [`${action === 'delete' ? 'deleted' : `${action}ed`}`]: ids },
        },
      };
    }
  }
}

/** The job a salt.state or salt.function step sends, as Salt's saltmod builds it. */
function jobOf(
  chunk: LowChunk,
  spec: OrchestrationSpec,
  defaultTimeoutMs: number,
): { spec: JobStepSpec; name: string; allowFail: number; failMinions: readonly string[] } {
  const target = (tgt: string | string[], type: TargetType): string | string[] =>
    type === 'list' && typeof tgt === 'string' ? tgt.split(',').map((id) => id.trim()) : tgt;
  if (chunk.fun === 'state') {
    const args = StateStep.parse(chunk.args);
    const sls = args.sls === undefined ? undefined : Array.isArray(args.sls) ? args.sls.join(',') : args.sls;
    const kwargs: Record<string, unknown> = {
      saltenv: args.saltenv ?? spec.saltenv,
      ...(args.test === true || spec.test ? { test: true } : {}),
      ...(args.pillar === undefined ? {} : { pillar: args.pillar }),
      ...(args.queue === undefined ? {} : { queue: args.queue }),
      ...(args.concurrent === undefined ? {} : { concurrent: args.concurrent }),
    };
    return {
      name: args.name,
      allowFail: args.allow_fail ?? 0,
      failMinions: args.fail_minions ?? [],
      spec: {
        target: target(args.tgt, args.tgt_type),
        targetType: args.tgt_type,
        fun: args.highstate === true ? 'state.highstate' : 'state.sls',
        args: args.highstate === true || sls === undefined ? [] : [sls],
        kwargs,
        timeoutMs: args.timeout === undefined ? defaultTimeoutMs : args.timeout * 1000,
        ...(spec.role === undefined ? {} : { role: spec.role }),
        ...(args.batch === undefined
          ? {}
          : { batch: { size: args.batch, waitMs: 0, ...(chunk.failhard === true ? { maxFailures: '0' } : {}) } }),
      },
    };
  }
  const args = FunctionStep.parse(chunk.args);
  return {
    name: args.name,
    allowFail: 0,
    failMinions: args.fail_minions ?? [],
    spec: {
      target: target(args.tgt, args.tgt_type),
      targetType: args.tgt_type,
      fun: args.name,
      args: typeof args.arg === 'string' ? args.arg.split(/\s+/).filter((a) => a !== '') : (args.arg ?? []),
      kwargs: args.kwarg ?? {},
      timeoutMs: args.timeout === undefined ? defaultTimeoutMs : args.timeout * 1000,
      ...(spec.role === undefined ? {} : { role: spec.role }),
      ...(args.batch === undefined ? {} : { batch: { size: args.batch, waitMs: 0 } }),
    },
  };
}

/** A minion's state run went well: a map of results none of which failed. */
function stateRunOk(ret: unknown): boolean {
  return (
    ret !== null &&
    typeof ret === 'object' &&
    !Array.isArray(ret) &&
    Object.values(ret as Record<string, { result?: unknown }>).every((r) => r?.result !== false)
  );
}

function stateRunChanged(ret: unknown): boolean {
  return (
    ret !== null &&
    typeof ret === 'object' &&
    !Array.isArray(ret) &&
    Object.values(ret as Record<string, { changes?: unknown }>).some(
      (r) => typeof r?.changes === 'object' && r.changes !== null && Object.keys(r.changes).length > 0,
    )
  );
}

/** What a minion's outcome says when it has no return to show. */
function missing(outcome: RunOutcome | undefined): string {
  if (outcome?.missed !== undefined) return `did not run: ${outcome.missed}`;
  return 'Minion did not respond';
}

/** Salt's verdict on a salt.state or salt.function step, from its minions' returns. */
function judge(
  fun: 'state' | 'function',
  job: ReturnType<typeof jobOf>,
  minions: readonly string[],
  outcomes: ReadonlyMap<string, RunOutcome>,
  returns: ReadonlyMap<string, ReturnRecord>,
  test: boolean,
): CallOutcome {
  if (minions.length === 0) {
    return {
      result: false,
      comment: 'No minions matched the target. No command was sent, no jid was assigned.',
      changes: {},
    };
  }
  const failures = new Map<string, string>();
  const changed: Record<string, unknown> = {};
  const unchanged: string[] = [];
  for (const id of minions) {
    const ret = returns.get(id);
    const outcome = outcomes.get(id);
    const ok = ret !== undefined && succeeded(ret) && (fun === 'function' || stateRunOk(ret.ret));
    if (!ok) {
      if (!job.failMinions.includes(id)) failures.set(id, ret === undefined ? missing(outcome) : firstFailure(ret.ret));
      continue;
    }
    if (fun === 'function' || stateRunChanged(ret.ret)) changed[id] = ret.ret;
    else unchanged.push(id);
  }
  const changes = Object.keys(changed).length === 0 ? {} : { out: 'highstate', ret: changed };
  const failed = failures.size > job.allowFail;
  const failureText =
    failures.size === 0 ? '' : `\nFailures:\n${[...failures].map(([id, why]) => `    ${id}: ${why}`).join('\n')}`;
  if (fun === 'function') {
    const ran = Object.keys(changed);
    const comment = failed
      ? `Running function ${job.name} failed on minions: ${[...failures.keys()].join(', ')}${failureText}`
      : `Function ran successfully.${ran.length === 0 ? '' : ` Function ${job.name} ran on ${ran.join(', ')}.`}${failureText}`;
    return { result: !failed, comment, changes };
  }
  const comment = failed
    ? `Run failed on minions: ${[...failures.keys()].join(', ')}${failureText}`
    : `States ran successfully.${Object.keys(changed).length === 0 ? '' : ` Updating ${Object.keys(changed).join(', ')}.`}${
        unchanged.length === 0 ? '' : ` No changes made to ${unchanged.join(', ')}.`
      }${failureText}`;
  // A dry run that would change something: Salt's None.
  return { result: failed ? false : test && Object.keys(changed).length > 0 ? null : true, comment, changes };
}

/** The first failed state's comment of a state run, or the return itself. */
function firstFailure(ret: unknown): string {
  if (Array.isArray(ret)) return ret.map(String).join('; ');
  if (ret !== null && typeof ret === 'object') {
    for (const r of Object.values(ret as Record<string, { result?: unknown; comment?: unknown; __id__?: unknown }>)) {
      if (r?.result === false) return `${String(r.__id__ ?? '')}: ${String(r.comment ?? '')}`.split('\n')[0] ?? '';
    }
  }
  return JSON.stringify(ret)?.slice(0, 500) ?? 'failed';
}

/**
 * salt.wait_for_event: until every id of `id_list` was seen in the data (`event_id`) of an event
 * whose tag matches `name` (a glob), or the time is up. The ids seen are recorded as they come, so
 * a master taking over waits only for the rest (events during the takeover itself are not seen).
 */
async function waitForEvent(
  ctx: RunContext,
  deps: OrchestrationDriverDeps,
  spec: OrchestrationSpec,
  index: number,
  args: z.output<typeof WaitStep>,
  known: RunStep | undefined,
  record: (index: number, step: RunStep) => Promise<void>,
): Promise<{ outcome: CallOutcome; seen?: string[] }> {
  if (spec.test)
    return { outcome: { result: null, comment: `Orchestration would wait for event '${args.name}'`, changes: {} } };
  const startedAt = known?.startedAt ?? ctx.now();
  const seen = [...(known?.seen ?? [])];
  const waiting = new Set(args.id_list.filter((id) => !seen.includes(id)));
  const matches = compileGlob(args.name, false);
  const deadline = startedAt + args.timeout * 1000;
  let saving = Promise.resolve();
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      stop();
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', finish);
      resolve();
    };
    const stop = deps.events.on((event) => {
      const tagged = taggedEvent(event);
      if (tagged === undefined || !matches(tagged.tag)) return;
      const value = tagged.data[args.event_id];
      if (typeof value !== 'string' || !waiting.delete(value)) return;
      seen.push(value);
      saving = saving
        .then(() => record(index, { status: 'running', startedAt, seen: [...seen] }))
        .catch((err: unknown) => ctx.log.warn({ err }, 'could not record an event seen'));
      if (waiting.size === 0) finish();
    });
    const timer = setTimeout(finish, Math.max(0, deadline - ctx.now()));
    ctx.signal.addEventListener('abort', finish);
    if (waiting.size === 0 || ctx.signal.aborted) finish();
  });
  await saving;
  ctx.signal.throwIfAborted();
  const changes = seen.length === 0 ? {} : { minions_seen: seen };
  if (waiting.size > 0) return { outcome: { result: false, comment: 'Timeout value reached.', changes }, seen };
  return {
    outcome: {
      result: true,
      comment: `All events seen in ${((ctx.now() - startedAt) / 1000).toFixed(1)} seconds.`,
      changes,
    },
    seen,
  };
}

/** An orchestration's steps in plan order: what run.steps' indexes stand for. */
export function orchestrationPlan(loaded: LoadedRun): Array<{ id: string; function: string }> {
  const spec = OrchestrationSpecSchema.parse(loaded.run.spec);
  return planRun(spec.chunks).map(({ chunk }) => ({ id: chunk.id, function: `${chunk.state}.${chunk.fun}` }));
}

/**
 * An orchestration's results as Salt's orchestrate runner returns them (the highstate outputter's
 * input), for the steps reported so far: each step's outcome, with the changes rebuilt from its
 * minions' returns (`{out: highstate, ret: {minion: return}}`).
 */
export async function orchestrationResults(
  loaded: LoadedRun,
  returnsOf: (jid: string) => Promise<ReturnRecord[]>,
): Promise<Record<string, StateResult & { __jid__?: string }>> {
  const spec = OrchestrationSpecSchema.parse(loaded.run.spec);
  const plan = planRun(spec.chunks);
  const results: Record<string, StateResult & { __jid__?: string }> = {};
  for (const [index, planned] of plan.entries()) {
    const step = loaded.run.steps[index];
    if (step?.status !== 'done') continue;
    const { chunk } = planned;
    const dispatches = loaded.dispatches.get(index) ?? [];
    let changes: Record<string, unknown> = {};
    if (step.changed === true && (chunk.fun === 'state' || chunk.fun === 'function')) {
      const changed: Record<string, unknown> = {};
      for (const dispatch of dispatches) {
        for (const ret of await returnsOf(dispatch.jid)) {
          if (!succeeded(ret)) continue;
          if (chunk.fun === 'function' || (stateRunOk(ret.ret) && stateRunChanged(ret.ret)))
            changed[ret.minionId] = ret.ret;
        }
      }
      changes = Object.keys(changed).length === 0 ? {} : { out: 'highstate', ret: changed };
    } else if (chunk.fun === 'wait_for_event' && (step.seen?.length ?? 0) > 0) {
      changes = { minions_seen: step.seen };
    }
    results[planned.tag] = {
      name: chunk.name,
      result: step.result ?? null,
      comment: step.comment ?? '',
      changes,
      duration: Math.max(0, (step.finishedAt ?? step.startedAt) - step.startedAt),
      start_time: startTime(step.startedAt),
      __run_num__: step.runNum ?? index,
      __id__: chunk.id,
      __sls__: chunk.sls,
      ...(dispatches[0] === undefined ? {} : { __jid__: dispatches[0].jid }),
    };
  }
  return results;
}
