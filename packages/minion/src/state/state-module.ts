import { z } from 'zod';
import { bindArguments } from '../modules/bind-arguments.js';
import { ArgumentError, ExecutionError } from '../modules/errors.js';
import { LocalRoots, LocalPillar, parseYaml } from '@phoenix/state';
import type { ExcludeEntry, RootsConfig, StateFiles, PillarSource } from '@phoenix/state';
import type { StateSystemOptions } from './run/state-run.js';
import { reflectKillswitch } from './run/killswitch.js';
import { StateService } from './run/state-service.js';
import { runningMessage } from './run/run-lock.js';
import type { StateJob, StateReturn } from './run/state-service.js';
import { defineFunction } from '../modules/define-function.js';
import { createPillarModule } from '../modules/pillar.js';
import type { ExecutionModule, JobContext } from '../modules/types.js';

export interface StateModuleOptions extends Omit<StateSystemOptions, 'pillar'> {
  /** Pillar from a source (the master, later); or */
  readonly pillar?: PillarSource;
  /** pillar_roots rendered here (masterless). Ignored when `pillar` is given. */
  readonly pillarFiles?: StateFiles;
}

/** Salt's `test=True` arrives as a boolean, or as text from a command line. */
const Flag = z
  .union([z.boolean(), z.enum(['True', 'true', 'False', 'false', '1', '0', 'yes', 'no'])])
  .transform((value) => value === true || value === 'True' || value === 'true' || value === '1' || value === 'yes');

/** `pillar='{"a": 1}'` (JSON or YAML text) or a mapping. */
const PillarOverride = z.union([z.record(z.string(), z.unknown()), z.string()]).transform((value, ctx) => {
  if (typeof value !== 'string') return value;
  try {
    // The state engine's parser: bounded like any SLS, since this text comes from whoever ran the job.
    const parsed: unknown = parseYaml(value, 'pillar=').value;
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', message: 'pillar must be a dictionary, e.g. pillar=\'{"key": "value"}\'' });
  return z.NEVER;
});

/** `web,db` or `[web, db]`. */
const Mods = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((value) =>
  Array.isArray(value)
    ? value
    : value
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
);

const Env = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/)
  .default('base');

/** Salt's `exclude=`: `web,db`, or a list of SLS names, `{sls: name}` and `{id: ID}`. */
const Exclude = z
  .union([
    z.string().min(1),
    z.array(
      z.union([
        z.string().min(1),
        z.strictObject({ sls: z.string().min(1) }),
        z.strictObject({ id: z.string().min(1) }),
      ]),
    ),
  ])
  .transform((value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean)
      : value,
  );

const runOptions = {
  exclude: Exclude.optional(),
  test: Flag.optional(),
  pillar: PillarOverride.optional(),
  queue: Flag.default(false),
  saltenv: Env,
};

const RUN_OPTIONS_DOC = `
test: True predicts what would change and changes nothing (result None for each state that would change)
pillar: a dictionary merged over the minion's pillar for this run, e.g. pillar='{"version": "1.2"}'
queue: True waits for a state run in progress instead of being refused
saltenv: the file-roots environment (default base)
exclude: SLS names, {sls: name} or {id: ID} left out of the run, e.g. exclude=web.debug or exclude='[{"id": "motd"}]'`;

/**
 * The `state` execution module (Salt's state.apply, state.highstate, state.sls...). `options`
 * says where files and pillar come from; see StateSystemOptions.
 */
export function createStateModule(options: StateModuleOptions): ExecutionModule {
  return createStateModules(options)[0] as ExecutionModule;
}

/** The state module and the pillar module, sharing one state service (pillar.* compiles as a run would). */
export function createStateModules(options: StateModuleOptions): [ExecutionModule, ExecutionModule] {
  const { pillarFiles, pillar, ...system } = options;
  const service = new StateService({
    ...system,
    ...(pillar !== undefined ? { pillar } : pillarFiles !== undefined ? { pillar: new LocalPillar(pillarFiles) } : {}),
  });
  const pillarModule = createPillarModule(async (ctx, { saltenv, override }) => {
    const { ret, retcode } = await service.showPillar(job(ctx), {
      test: true,
      saltenv,
      ...(override === undefined ? {} : { pillarOverride: override }),
    });
    if (retcode !== 0)
      throw new ExecutionError(`Pillar failed to render: ${Array.isArray(ret) ? ret.join('; ') : String(ret)}`);
    return ret as Record<string, unknown>;
  });
  return [stateModule(service, options.test ?? false), pillarModule];
}

function stateModule(service: StateService, testByDefault: boolean): ExecutionModule {
  const finish = (result: StateReturn, ctx: JobContext): unknown => {
    ctx.setRetcode(result.retcode);
    return result.ret;
  };
  const request = (args: {
    test?: boolean | undefined;
    pillar?: Record<string, unknown> | undefined;
    queue: boolean;
    saltenv: string;
    exclude?: ExcludeEntry[] | undefined;
  }) => ({
    test: args.test ?? testByDefault,
    queue: args.queue,
    saltenv: args.saltenv,
    ...(args.pillar === undefined ? {} : { pillarOverride: args.pillar }),
    ...(args.exclude === undefined ? {} : { exclude: args.exclude }),
  });
  return Object.freeze({
    name: 'state',
    functions: Object.freeze({
      apply: defineFunction({
        doc: `Applies states: with SLS names, those (state.sls); without, the highstate from the top file (state.highstate). Returns Salt's results keyed module_|-id_|-name_|-function; retcode 2 when a state failed, 1 when nothing could run.

mods: SLS names, comma-separated or a list (optional)${RUN_OPTIONS_DOC}

CLI Example: phoenix run '*' state.apply web test=True`,
        schema: z.strictObject({ mods: Mods.optional(), ...runOptions }),
        run: async (args, ctx) =>
          finish(
            args.mods === undefined
              ? await service.highstate(job(ctx), request(args))
              : await service.sls(job(ctx), request(args), args.mods),
            ctx,
          ),
      }),
      highstate: defineFunction({
        doc: `Applies the states the top file gives this minion.
${RUN_OPTIONS_DOC}

CLI Example: phoenix run '*' state.highstate`,
        schema: z.strictObject(runOptions),
        run: async (args, ctx) => finish(await service.highstate(job(ctx), request(args)), ctx),
      }),
      sls: defineFunction({
        doc: `Applies the named SLS files (and what they include).

mods: SLS names, comma-separated or a list${RUN_OPTIONS_DOC}

CLI Example: phoenix run '*' state.sls web,db`,
        schema: z.strictObject({ mods: Mods, ...runOptions }),
        run: async (args, ctx) => finish(await service.sls(job(ctx), request(args), args.mods), ctx),
      }),
      sls_id: defineFunction({
        doc: `Applies one ID of the named SLS files, with what its requisites need.

id: the state ID
mods: SLS names, comma-separated or a list${RUN_OPTIONS_DOC}

CLI Example: phoenix run '*' state.sls_id nginx web`,
        schema: z.strictObject({ id: z.string().min(1), mods: Mods, ...runOptions }),
        run: async (args, ctx) => finish(await service.slsId(job(ctx), request(args), args.id, args.mods), ctx),
      }),
      single: defineFunction({
        doc: `Runs one state function without an SLS file.

fun: the state function, e.g. file.managed
name: the state's name
other keyword arguments: the state's arguments, e.g. contents=hi mode=644 (or all of them as args='{"contents": "hi"}')${RUN_OPTIONS_DOC}

CLI Example: phoenix run '*' state.single file.managed /etc/motd contents='hello' mode=644`,
        schema: z.strictObject({
          fun: z.string().regex(/^[A-Za-z_]\w*\.[A-Za-z_]\w*$/, 'must be module.function'),
          name: z.string().min(1),
          args: PillarOverride.default({}),
          ...runOptions,
        }),
        extraKeywords: true,
        run: async (args, ctx, extra) =>
          finish(
            await service.single(job(ctx), request(args), args.fun, args.name, {
              ...args.args,
              ...withoutPublished(extra),
            }),
            ctx,
          ),
      }),
      show_sls: defineFunction({
        doc: "Returns the high data of SLS files, rendered and merged, without running them.\n\nmods: SLS names\nsaltenv: the environment (default base)\n\nCLI Example: phoenix run '*' state.show_sls web",
        schema: z.strictObject({ mods: Mods, saltenv: Env, pillar: PillarOverride.optional() }),
        run: async (args, ctx) =>
          finish(await service.showSls(job(ctx), request({ ...args, test: true, queue: false }), args.mods), ctx),
      }),
      show_highstate: defineFunction({
        doc: "Returns the high data of this minion's highstate without running it.\n\nCLI Example: phoenix run '*' state.show_highstate",
        schema: z.strictObject({ saltenv: Env, pillar: PillarOverride.optional() }),
        run: async (args, ctx) =>
          finish(await service.showHighstate(job(ctx), request({ ...args, test: true, queue: false })), ctx),
      }),
      show_top: defineFunction({
        doc: "Returns the SLS files the top file gives this minion, by environment.\n\nCLI Example: phoenix run '*' state.show_top",
        schema: z.strictObject({ saltenv: Env }),
        run: async (args, ctx) =>
          finish(await service.showTop(job(ctx), request({ ...args, test: true, queue: false })), ctx),
      }),
      show_lowstate: defineFunction({
        doc: "Returns the low chunks of the highstate (or of the named SLS files) in execution order.\n\nmods: SLS names (optional)\n\nCLI Example: phoenix run '*' state.show_lowstate",
        schema: z.strictObject({ mods: Mods.optional(), saltenv: Env, pillar: PillarOverride.optional() }),
        run: async (args, ctx) =>
          finish(await service.showLowstate(job(ctx), request({ ...args, test: true, queue: false }), args.mods), ctx),
      }),
      show_pillar: defineFunction({
        doc: "Returns this minion's pillar as a state run would see it.\n\nCLI Example: phoenix run 'web-1' state.show_pillar",
        schema: z.strictObject({ saltenv: Env, pillar: PillarOverride.optional() }),
        run: async (args, ctx) =>
          finish(await service.showPillar(job(ctx), request({ ...args, test: true, queue: false })), ctx),
      }),
      disable: defineFunction({
        doc: `Disables state runs by name, as Salt's: highstate (state.highstate and state.apply without names), an SLS name as state.sls takes it, or prefix.* for every SLS under it; state.enable NAME undoes it. Without names (or with *) every state run on this minion is disabled (test=True runs still work), and every master skips it: give reason= and by=. Kept in the minion's cache directory, so it survives restarts.

states: names, comma-separated or a list
reason: why (whole-minion killswitch), shown to whoever tries to run states here
by: who disabled it (default: the job)

CLI Example: phoenix run web-1 state.disable highstate; phoenix run web-1 state.disable reason="debugging the disk"`,
        schema: z.strictObject({
          states: Mods.optional(),
          reason: z.string().min(1).max(1000).optional(),
          by: z.string().min(1).max(200).optional(),
        }),
        run: async (args, ctx) => {
          if (args.states === undefined && args.reason === undefined)
            throw new ExecutionError(
              'name the state runs to disable (highstate, an SLS name, web.*), or give reason= to disable every state run on this minion',
            );
          return finish(await service.disable(job(ctx), args.states ?? [], args.reason, args.by), ctx);
        },
      }),
      enable: defineFunction({
        doc: 'Allows state runs disabled by name again (state.enable highstate); without names (or with *) lifts the whole-minion killswitch.\n\nstates: names, comma-separated or a list\n\nCLI Example: phoenix run web-1 state.enable highstate',
        schema: z.strictObject({ states: Mods.optional() }),
        run: async (args, ctx) => finish(await service.enable(job(ctx), args.states ?? []), ctx),
      }),
      list_disabled: defineFunction({
        doc: "Returns the state runs disabled by name; * first when every state run is disabled (see grains.get state_runs_disabled for who, when and why).\n\nCLI Example: phoenix run '*' state.list_disabled",
        schema: z.strictObject({}),
        run: async (_args, ctx) => finish(await service.listDisabled(job(ctx)), ctx),
      }),
      running: defineFunction({
        doc: "Returns the state run in progress on this minion, in this process or another ([] when none), as Salt's state.running.\n\nCLI Example: phoenix run '*' state.running",
        schema: z.strictObject({ concurrent: z.boolean().default(false) }),
        run: async (_args, ctx) => {
          const holder = await service.running({ minionId: ctx.minionId, cacheDir: ctx.cacheDir });
          return holder === undefined || holder.jid === ctx.jid ? [] : [runningMessage(holder)];
        },
      }),
    }),
  });
}

/**
 * Masterless (`salt-call --local`): file_roots and pillar_roots read straight from disk. With a
 * master, `files` will be the master's file server wrapped in CachedFiles, and `pillar` the
 * master's rendering of this minion's pillar.
 */
export function localStateOptions(config: {
  fileRoots: RootsConfig;
  pillarRoots: RootsConfig;
}): Pick<StateModuleOptions, 'files' | 'pillarFiles'> {
  return { files: new LocalRoots(config.fileRoots), pillarFiles: new LocalRoots(config.pillarRoots) };
}

/** Salt passes `__pub_*` keys (who sent the job) along with keyword arguments; they are not state arguments. */
function withoutPublished(extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(extra).filter(([key]) => !key.startsWith('__')));
}

/** The state system's view of a job. */
function job(ctx: JobContext): StateJob {
  return {
    jid: ctx.jid,
    fun: ctx.fun,
    minionId: ctx.minionId,
    grains: ctx.grains.items(),
    grainStore: ctx.grains,
    cacheDir: ctx.cacheDir,
    signal: ctx.signal,
    now: () => ctx.clock.now(),
    logger: ctx.logger,
    onKillswitch: (record) => reflectKillswitch(ctx.grains, record, ctx.clock.now()),
    trackChild: (pid) => ctx.trackChild(pid),
    // Salt's salt/state_result/<jid>/<minion>/<name>, in the minion's own namespace (phoenix/ is the cluster's).
    fireEvent: (suffix, result) => {
      ctx.sendEvent(`state_result/${ctx.jid}/${ctx.minionId}/${suffix}`, result);
    },
    call: async (fun, args, kwargs) => {
      const fn = ctx.modules.get(fun);
      if (!fn) throw new ExecutionError(`'${fun}' is not available.`);
      // A template's call must not set the state run's retcode (cmd.run would).
      const nested = Object.create(ctx, { setRetcode: { value: () => undefined } }) as JobContext;
      try {
        return await fn.run(
          bindArguments(fn.params, args, kwargs, fn.extraKeywords, fn.varargs, fn.keywordOnly),
          nested,
        );
      } catch (err) {
        // Named as a job names it, so the template's error says which call was wrong.
        if (err instanceof ArgumentError) throw new ArgumentError(`Passed invalid arguments to ${fun}: ${err.message}`);
        throw err;
      }
    },
  };
}
