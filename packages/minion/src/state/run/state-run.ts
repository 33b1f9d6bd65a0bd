import {
  buildHighState,
  compileLow,
  planRun,
  deepMerge,
  runPlan,
  StateCompileError,
  RunFiles,
  emptyPillar,
  SlsLoader,
  TemplateRenderer,
  matchTop,
  parseTop,
} from '@phoenix/state';
import type {
  ExcludeEntry,
  HighState,
  SlsTarget,
  StateDecl,
  LowChunk,
  PlannedChunk,
  EngineRun,
  StateFiles,
  Pillar,
  PillarSource,
  ModuleCaller,
  RenderVars,
  TopMatch,
  RenderWorkers,
} from '@phoenix/state';
import { ExecutionError } from '../../modules/errors.js';
import { createCommands, processEnvironment } from '../../modules/commands.js';
import { StateFunctions } from '../functions/registry.js';
import type { StateGrains, StateModule, StateRuntime } from '../functions/types.js';

/** How a minion runs states: its file server, pillar, and the host it acts on. */
export interface StateSystemOptions {
  /** file_roots, or the master's file server later (wrapped in CachedFiles). */
  readonly files: StateFiles;
  /** Default: no pillar. */
  readonly pillar?: PillarSource;
  /** The file system the states manage (see StateRuntime.root). Default '/'. */
  readonly root?: string;
  /** The environment of every command the states run (PATH decides which tools). Default: the minion's. */
  readonly commandEnv?: Readonly<Record<string, string>>;
  /** Stop every run at its first failure (a state's own `failhard` wins). Default false. */
  readonly failhard?: boolean;
  /** One template render may take this long. Default 5 minutes. */
  readonly renderTimeoutMs?: number;
  readonly jinja?: { readonly trimBlocks?: boolean; readonly lstripBlocks?: boolean };
  /** Extra keys of `opts` in templates (Salt's minion opts). */
  readonly opts?: Readonly<Record<string, unknown>>;
  /** Salt's `state_top`: the top file's path in the base file roots. Default 'top.sls'. */
  readonly stateTop?: string;
  /** Salt's `test` minion option: runs predict unless asked test=False. Default false. */
  readonly test?: boolean;
  /** Default: file, cmd, pkg, service, user, group, test (see builtinStateModules). */
  readonly stateModules?: readonly StateModule[];
  /** Template workers one run hands to the next (the state service keeps its own by default). */
  readonly renderWorkers?: RenderWorkers;
}

/** The job a run belongs to. */
export interface RunContext {
  readonly minionId: string;
  readonly grains: Readonly<Record<string, unknown>>;
  readonly signal: AbortSignal;
  /** Milliseconds since the epoch. */
  now(): number;
  /** Execution modules for templates (`salt['cmd.run']`). */
  readonly call: ModuleCaller;
  readonly trackChild?: (pid: number) => () => void;
  /** The minion's cache directory (backups, the run lock, the killswitch). */
  readonly cacheDir: string;
  /** The live grain store, for grains.* states; without it those states fail. */
  readonly grainStore?: StateGrains;
  /** A state with `fire_event` ran: its result goes to the master as an event (tag ending in `suffix`). */
  readonly fireEvent?: (suffix: string, result: Record<string, unknown>) => void;
}

export interface RunOptions {
  readonly test: boolean;
  readonly saltenv: string;
  /** Salt's `exclude=`: SLS names, `{sls: name}` or `{id: ID}` left out of the run. */
  readonly exclude?: readonly ExcludeEntry[];
  /** `pillar={...}` on the command line: merged over the compiled pillar. */
  readonly pillarOverride?: Readonly<Record<string, unknown>>;
}

/**
 * One state run: renders pillar, top file and SLS files, compiles and checks them, then runs them.
 * Holds the run's template worker and a per-run view of the file server; `close` releases both.
 */
export class StateRun {
  readonly #options: StateSystemOptions;
  readonly #ctx: RunContext;
  readonly #run: RunOptions;
  readonly #files: RunFiles;
  readonly #renderer: TemplateRenderer;
  readonly #loader: SlsLoader;
  readonly #functions: StateFunctions;
  #pillar: Promise<Pillar> | undefined;

  constructor(options: StateSystemOptions, ctx: RunContext, run: RunOptions) {
    this.#options = options;
    this.#ctx = ctx;
    this.#run = run;
    // One revision of the master's git roots for the whole run, pillar included.
    this.#files = new RunFiles(options.files.forRun?.() ?? options.files);
    this.#renderer = new TemplateRenderer({
      signal: ctx.signal,
      root: options.root ?? '/',
      ...(options.renderTimeoutMs === undefined ? {} : { timeoutMs: options.renderTimeoutMs }),
      ...(options.jinja?.trimBlocks === undefined ? {} : { trimBlocks: options.jinja.trimBlocks }),
      ...(options.jinja?.lstripBlocks === undefined ? {} : { lstripBlocks: options.jinja.lstripBlocks }),
      ...(options.renderWorkers === undefined ? {} : { workers: options.renderWorkers }),
    });
    this.#loader = new SlsLoader(this.#files, this.#renderer, ctx.call);
    this.#functions = new StateFunctions(options.stateModules);
  }

  async close(): Promise<void> {
    await this.#renderer.close();
  }

  /** Salt's `opts` in templates: the minion's config by Salt's names, with its grains. */
  get opts(): Record<string, unknown> {
    return {
      renderer: 'jinja|yaml',
      jinja_trim_blocks: this.#options.jinja?.trimBlocks ?? false,
      jinja_lstrip_blocks: this.#options.jinja?.lstripBlocks ?? false,
      ...this.#options.opts,
      id: this.#ctx.minionId,
      grains: this.#ctx.grains,
      saltenv: this.#run.saltenv,
      test: this.#run.test,
      failhard: this.#options.failhard ?? false,
    };
  }

  /** The minion's pillar for this run, with the command line's override on top. */
  pillar(): Promise<Pillar> {
    this.#pillar ??= (this.#options.pillar ?? emptyPillar)
      .compile({
        minionId: this.#ctx.minionId,
        grains: this.#ctx.grains,
        saltenv: this.#run.saltenv,
        opts: this.opts,
        renderer: this.#renderer,
        call: this.#ctx.call,
        files: this.#files,
      })
      .then((pillar) => (this.#run.pillarOverride ? deepMerge(pillar, { ...this.#run.pillarOverride }) : pillar));
    return this.#pillar;
  }

  async #vars(): Promise<RenderVars> {
    return { grains: this.#ctx.grains, pillar: await this.pillar(), opts: this.opts };
  }

  /** The SLS files the state top file (Salt's `state_top`, `top.sls` of the `base` file roots) gives this minion. */
  async top(): Promise<TopMatch[]> {
    const name = this.#options.stateTop ?? 'top.sls';
    const top = await this.#files.read(name, 'base');
    if (!top) throw new StateCompileError([`No top file found: salt://${name} is not in the base file roots`]);
    let data: unknown;
    try {
      ({ data } = await this.#loader.renderData(top.content.toString('utf8'), name, 'base', await this.#vars(), {
        tplpath: name,
        tplfile: name,
        tpldir: name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '',
      }));
    } catch (err) {
      throw new StateCompileError([
        `Rendering the top file failed: ${err instanceof Error ? err.message : String(err)}`,
      ]);
    }
    return matchTop(parseTop(data, `the top file (salt://${name})`), {
      id: this.#ctx.minionId,
      grains: this.#ctx.grains,
    });
  }

  /** The high data of this minion's highstate: the top file's SLS files (`ignore_missing` honoured). */
  async highstate(): Promise<HighState | undefined> {
    const matches = await this.top();
    if (matches.length === 0) return undefined;
    return this.high(matches, new Set(matches.filter((m) => m.ignoreMissing).map((m) => `${m.env}:${m.name}`)));
  }

  async high(targets: readonly SlsTarget[], ignoreMissing: ReadonlySet<string> = new Set()): Promise<HighState> {
    const vars = await this.#vars();
    return buildHighState(
      targets,
      async (name, env) => {
        const loaded = await this.#loader.load(name, env, vars);
        if (!loaded && ignoreMissing.has(`${env}:${name}`)) {
          return { name, env, file: '', data: {}, keyLines: new Map() };
        }
        return loaded;
      },
      this.#run.exclude ?? [],
    );
  }

  /** High data for state.single: one ID, one state, no SLS. */
  singleHigh(module: string, fun: string, name: string, args: Readonly<Record<string, unknown>>): HighState {
    const decl: StateDecl = {
      module,
      fun,
      args: [['name', name], ...Object.entries(args).filter(([key]) => key !== 'name')],
    };
    return { ids: [{ id: name, sls: 'single', env: this.#run.saltenv, file: '', line: undefined, states: [decl] }] };
  }

  /** Low chunks. An unknown state function or a bad argument fails that state when it runs, as in Salt. */
  low(high: HighState): LowChunk[] {
    return compileLow(high);
  }

  plan(chunks: readonly LowChunk[]): PlannedChunk[] {
    return planRun(chunks);
  }

  async execute(plan: readonly PlannedChunk[], select?: (planned: PlannedChunk) => boolean): Promise<EngineRun> {
    const pillar = await this.pillar();
    const commands = createCommands({
      env: this.#options.commandEnv ?? processEnvironment(),
      signal: this.#ctx.signal,
      ...(this.#ctx.trackChild === undefined ? {} : { trackChild: this.#ctx.trackChild }),
    });
    const vars = await this.#vars();
    const rt: StateRuntime = {
      root: this.#options.root ?? '/',
      commands,
      files: this.#files,
      saltenv: this.#run.saltenv,
      pillar,
      renderTemplate: (source, file, context) =>
        this.#loader.renderText(source, file, this.#run.saltenv, { ...vars, saltenv: this.#run.saltenv, ...context }),
      minionId: this.#ctx.minionId,
      cacheDir: this.#ctx.cacheDir,
      grains: this.#ctx.grainStore ?? frozenGrains(this.#ctx.grains),
      call: (fun, args, kwargs) => this.#ctx.call(fun, [...args], { ...kwargs }),
      now: () => this.#ctx.now(),
    };
    const dispatch = this.#functions.dispatcher(rt, this.#ctx.signal);
    return runPlan(plan, {
      test: this.#run.test,
      failhard: this.#options.failhard ?? false,
      call: async (call) => {
        const outcome = await dispatch(call);
        const fire = call.chunk.fireEvent;
        if (fire !== undefined && call.mode !== 'predict') {
          const { result, comment, changes } = outcome;
          // Changes can be large (a diff): the event says only which keys changed then.
          const shown = JSON.stringify(changes).length > 16_384 ? { keys: Object.keys(changes) } : changes;
          this.#ctx.fireEvent?.(typeof fire === 'string' ? fire : call.chunk.name, {
            name: call.chunk.name,
            __id__: call.chunk.id,
            __sls__: call.chunk.sls,
            result,
            comment,
            changes: shown,
          });
        }
        return outcome;
      },
      hasModWatch: (chunk) => this.#functions.hasModWatch(chunk),
      verify: (chunk) => this.#functions.problem(chunk),
      now: () => this.#ctx.now(),
      signal: this.#ctx.signal,
      ...(select === undefined ? {} : { select }),
    });
  }
}

/** Grains that states may read but not change (a run without the minion's grain store). */
function frozenGrains(grains: Readonly<Record<string, unknown>>): StateGrains {
  const refuse = (): Promise<never> =>
    Promise.reject(new ExecutionError('grains cannot be changed here: this run has no grain store'));
  return { items: () => grains, custom: () => ({}), setval: refuse, delval: refuse };
}
