import { isMapping, deepMerge } from '../data.js';
import { CompileErrors, StateCompileError } from '../errors.js';
import { isValidSlsName, resolveInclude } from '../files/sls-names.js';
import type { StateFiles } from '../files/state-files.js';
import { RunFiles } from '../files/state-files.js';
import type { ModuleCaller } from '../render/sls-loader.js';
import { SlsLoader, SlsLoadError } from '../render/sls-loader.js';
import type { TemplateRenderer } from '../render/template-renderer.js';
import { matchTop, parseTop } from '../top/top-file.js';

export type Pillar = Record<string, unknown>;

/** What a pillar source knows about the minion asking, and the run's tools if it renders locally. */
export interface PillarRequest {
  readonly minionId: string;
  readonly grains: Readonly<Record<string, unknown>>;
  readonly saltenv: string;
  readonly opts: Readonly<Record<string, unknown>>;
  /** For sources that render here (masterless); a master-backed source ignores them. */
  readonly renderer: TemplateRenderer;
  readonly call: ModuleCaller;
  /** The run's view of the file server: a master-backed source asks for pillar at its revision. */
  readonly files?: StateFiles;
}

/**
 * Where a state run's pillar comes from. Masterless: `LocalPillar`, rendered here from
 * pillar_roots. With a master, pillar must be rendered by the master and only this minion's pillar
 * sent to it (a minion must never hold the pillar_roots, which carry every minion's secrets): that
 * source implements this same interface over the wire.
 */
export interface PillarSource {
  compile(request: PillarRequest): Promise<Pillar>;
}

/** Salt's pillar, masterless: the pillar top file and SLS files of `pillar_roots`, rendered here. */
export class LocalPillar implements PillarSource {
  readonly #files: StateFiles;

  constructor(files: StateFiles) {
    this.#files = files;
  }

  compile(request: PillarRequest): Promise<Pillar> {
    return compilePillar(this.#files, request);
  }
}

/** No pillar at all (a minion with no pillar_roots). */
export const emptyPillar: PillarSource = Object.freeze({ compile: () => Promise.resolve({}) });

/**
 * Renders the pillar top file, then each matching SLS in order (an SLS's includes before the SLS
 * itself), merging each into the pillar so far: mappings deep-merged, later wins. So the most
 * generic file comes first in the top file and the most specific (a service group, a host) last.
 * Each SLS sees the pillar merged so far as `pillar`.
 */
export async function compilePillar(files: StateFiles, request: PillarRequest): Promise<Pillar> {
  const errors = new CompileErrors();
  const runFiles = new RunFiles(files);
  const loader = new SlsLoader(runFiles, request.renderer, request.call);
  const vars = (pillar: Pillar) => ({ grains: request.grains, pillar, opts: request.opts });
  const top = await runFiles.read('top.sls', 'base');
  if (!top) return {};
  let matches;
  try {
    const { data } = await loader.renderData(top.content.toString('utf8'), 'top.sls', 'base', vars({}), {
      tplpath: 'top.sls',
      tplfile: 'top.sls',
      tpldir: '',
    });
    matches = matchTop(parseTop(data, 'the pillar top file (salt://top.sls in pillar_roots)'), {
      id: request.minionId,
      grains: request.grains,
    });
  } catch (err) {
    if (err instanceof StateCompileError) throw prefixed(err.errors);
    throw prefixed([`Rendering the pillar top file failed: ${err instanceof Error ? err.message : String(err)}`]);
  }
  let pillar: Pillar = {};
  const visited = new Set<string>();
  const visit = async (name: string, env: string, ignoreMissing: boolean, from?: string): Promise<void> => {
    const key = `${env}:${name}`;
    if (visited.has(key)) return;
    visited.add(key);
    let loaded;
    try {
      loaded = await loader.load(name, env, vars(pillar));
    } catch (err) {
      if (err instanceof SlsLoadError) {
        errors.add(err.message);
        return;
      }
      throw err;
    }
    if (!loaded) {
      if (!ignoreMissing) {
        errors.add(
          `Specified SLS '${name}' in environment '${env}' is not available in pillar_roots${from === undefined ? '' : ` (included from '${from}')`}`,
        );
      }
      return;
    }
    const data = loaded.data ?? {};
    if (!isMapping(data)) {
      errors.add(`The pillar SLS '${name}' (salt://${loaded.file}) is not formed as a dictionary`);
      return;
    }
    const { include, ...own } = data;
    if (include !== undefined && include !== null) {
      if (!Array.isArray(include)) errors.add(`The pillar SLS '${name}': 'include' must be a list`);
      for (const item of Array.isArray(include) ? include : []) {
        const included = typeof item === 'string' ? resolveInclude(item, name, loaded.file) : undefined;
        if (included === undefined || !isValidSlsName(included)) {
          errors.add(`The pillar SLS '${name}': cannot include ${JSON.stringify(item)}`);
          continue;
        }
        await visit(included, env, false, name);
      }
    }
    pillar = deepMerge(pillar, own);
  };
  for (const match of matches) await visit(match.name, match.env, match.ignoreMissing);
  if (errors.count > 0) {
    try {
      errors.throwIfAny();
    } catch (err) {
      throw prefixed((err as StateCompileError).errors);
    }
  }
  return pillar;
}

function prefixed(messages: readonly string[]): StateCompileError {
  return new StateCompileError(messages.map((message) => `Pillar failed to render: ${message}`));
}
