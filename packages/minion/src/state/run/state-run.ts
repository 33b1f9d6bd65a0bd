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
} from '@phoenix/state';
import { createCommands, processEnvironment } from '../providers/commands.js';
import { StateFunctions } from '../functions/registry.js';
import type { StateModule, StateRuntime } from '../functions/types.js';

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
  /** Default: file, cmd, pkg, service, user, group, test (see builtinStateModules). */
  readonly stateModules?: readonly StateModule[];
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
}

export interface RunOptions {
  readonly test: boolean;
  readonly saltenv: string;
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
    this.#files = new RunFiles(options.files);
    this.#renderer = new TemplateRenderer({
      signal: ctx.signal,
      ...(options.renderTimeoutMs === undefined ? {} : { timeoutMs: options.renderTimeoutMs }),
      ...(options.jinja?.trimBlocks === undefined ? {} : { trimBlocks: options.jinja.trimBlocks }),
      ...(options.jinja?.lstripBlocks === undefined ? {} : { lstripBlocks: options.jinja.lstripBlocks }),
    });
    this.#loader = new SlsLoader(this.#files, this.#renderer, ctx.call);
    this.#functions = new StateFunctions(options.stateModules);
  }

  async close(): Promise<void> {
    await this.#renderer.close();
  }

  get opts(): Record<string, unknown> {
    return {
      ...this.#options.opts,
      id: this.#ctx.minionId,
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
      })
      .then((pillar) => (this.#run.pillarOverride ? deepMerge(pillar, { ...this.#run.pillarOverride }) : pillar));
    return this.#pillar;
  }

  async #vars(): Promise<RenderVars> {
    return { grains: this.#ctx.grains, pillar: await this.pillar(), opts: this.opts };
  }

  /** The SLS files the state top file (`top.sls` of the `base` file roots) gives this minion. */
  async top(): Promise<TopMatch[]> {
    const top = await this.#files.read('top.sls', 'base');
    if (!top) throw new StateCompileError(['No top file found: salt://top.sls is not in the base file roots']);
    let data: unknown;
    try {
      ({ data } = await this.#loader.renderData(top.content.toString('utf8'), 'top.sls', 'base', await this.#vars(), {
        tplpath: 'top.sls',
        tplfile: 'top.sls',
        tpldir: '',
      }));
    } catch (err) {
      throw new StateCompileError([
        `Rendering the top file failed: ${err instanceof Error ? err.message : String(err)}`,
      ]);
    }
    return matchTop(parseTop(data, 'the top file (salt://top.sls)'), {
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
    return buildHighState(targets, async (name, env) => {
      const loaded = await this.#loader.load(name, env, vars);
      if (!loaded && ignoreMissing.has(`${env}:${name}`)) {
        return { name, env, file: '', data: {}, keyLines: new Map() };
      }
      return loaded;
    });
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

  /** Low chunks, checked against the state modules (unknown function, bad argument: nothing runs). */
  low(high: HighState): LowChunk[] {
    const chunks = compileLow(high);
    this.#functions.verify(chunks);
    return chunks;
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
    };
    return runPlan(plan, {
      test: this.#run.test,
      failhard: this.#options.failhard ?? false,
      call: this.#functions.dispatcher(rt, this.#ctx.signal),
      hasModWatch: (chunk) => this.#functions.hasModWatch(chunk),
      now: () => this.#ctx.now(),
      signal: this.#ctx.signal,
      ...(select === undefined ? {} : { select }),
    });
  }
}
