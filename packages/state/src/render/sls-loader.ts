import type { StateFiles } from '../files/state-files.js';
import { isValidSlsName, slsCandidates, slsDirectory } from '../files/sls-names.js';
import type { TemplateRenderer, TemplateServices } from './template-renderer.js';
import { checkSlsData, checkSlsText, parseYaml } from './yaml.js';

/** The data every template sees (besides `salt` and the names of the file). */
export interface RenderVars {
  readonly grains: Readonly<Record<string, unknown>>;
  readonly pillar: Readonly<Record<string, unknown>>;
  readonly opts: Readonly<Record<string, unknown>>;
}

/** Calls an execution module for a template (`salt['cmd.run'](...)`). */
export type ModuleCaller = (fun: string, args: unknown[], kwargs: Record<string, unknown>) => Promise<unknown>;

export interface LoadedSls {
  readonly name: string;
  readonly env: string;
  /** Relative path in the roots: `web/init.sls`. */
  readonly file: string;
  readonly data: unknown;
  /** Line (in the rendered output) of each top-level key. */
  readonly keyLines: ReadonlyMap<string, number>;
}

/** Rendering or parsing one SLS failed; the message names the SLS, the file and the line. */
export class SlsLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlsLoadError';
  }
}

type Stage = 'jinja' | 'yaml' | 'json';
const DEFAULT_PIPELINE: readonly Stage[] = ['jinja', 'yaml'];

/**
 * Finds, renders and parses SLS files (states or pillar, whichever roots it is given). The
 * renderer pipeline is Salt's default `jinja|yaml`; a first line `#!yaml`, `#!json`, `#!jinja|json`
 * chooses another one.
 */
export class SlsLoader {
  readonly #files: StateFiles;
  readonly #renderer: TemplateRenderer;
  readonly #call: ModuleCaller;

  constructor(files: StateFiles, renderer: TemplateRenderer, call: ModuleCaller) {
    this.#files = files;
    this.#renderer = renderer;
    this.#call = call;
  }

  get files(): StateFiles {
    return this.#files;
  }

  /** The file of an SLS and its text, or undefined when no candidate exists. */
  async find(name: string, env: string): Promise<{ file: string; text: string } | undefined> {
    if (!isValidSlsName(name)) return undefined;
    for (const candidate of slsCandidates(name)) {
      const found = await this.#files.read(candidate, env);
      if (found) return { file: candidate, text: found.content.toString('utf8') };
    }
    return undefined;
  }

  async exists(name: string, env: string): Promise<boolean> {
    return (await this.find(name, env)) !== undefined;
  }

  /** Undefined when the SLS does not exist; SlsLoadError when it does not render or parse. */
  async load(name: string, env: string, vars: RenderVars): Promise<LoadedSls | undefined> {
    if (!isValidSlsName(name)) throw new SlsLoadError(`'${name}' is not a valid SLS name`);
    const found = await this.find(name, env);
    if (!found) return undefined;
    const dir = slsDirectory(found.file);
    // Salt's generate_sls_context: where the SLS is, in each of the spellings formulas use.
    const parsed = await this.renderData(found.text, found.file, env, vars, {
      sls: name,
      slspath: dir,
      slsdotpath: dir.replace(/\//g, '.'),
      slscolonpath: dir.replace(/\//g, ':'),
      sls_path: dir.replace(/\//g, '_'),
      tpldir: dir === '' ? '.' : dir,
      tpldot: dir.replace(/\//g, '.'),
      tplpath: found.file,
      tplfile: found.file,
    }).catch((err: unknown) => {
      throw new SlsLoadError(
        `Rendering SLS '${env}:${name}' failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
    return { name, env, file: found.file, ...parsed };
  }

  /** Renders a text through its pipeline and parses it; errors name `file`. */
  async renderData(
    text: string,
    file: string,
    env: string,
    vars: RenderVars,
    names: Record<string, string>,
  ): Promise<{ data: unknown; keyLines: ReadonlyMap<string, number> }> {
    const { pipeline, body } = readPipeline(text, file);
    let output = body;
    if (pipeline.includes('jinja')) {
      output = await this.renderText(body, file, env, { ...vars, ...names, saltenv: env });
    }
    const url = `salt://${file}`;
    if (pipeline.includes('json')) {
      checkSlsText(output, url);
      let data: unknown;
      try {
        data = output.trim() === '' ? null : (JSON.parse(output) as unknown);
      } catch (err) {
        throw new SlsLoadError(`JSON error in ${url}: ${err instanceof Error ? err.message : String(err)}`);
      }
      checkSlsData(data, url);
      return { data, keyLines: new Map() };
    }
    const { value, keyLines } = parseYaml(output, url);
    return { data: value, keyLines };
  }

  /** Jinja alone (file.managed `template: jinja`). */
  renderText(source: string, file: string, env: string, context: Record<string, unknown>): Promise<string> {
    const services: TemplateServices = {
      call: this.#call,
      read: async (path) => (await this.#files.read(path, env))?.content.toString('utf8'),
      slsExists: (name) => this.exists(name, env),
    };
    return this.#renderer.render({ source, path: `salt://${file}`, context, services });
  }
}

function readPipeline(text: string, file: string): { pipeline: readonly Stage[]; body: string } {
  if (!text.startsWith('#!')) return { pipeline: DEFAULT_PIPELINE, body: text };
  const end = text.indexOf('\n');
  const header = (end === -1 ? text : text.slice(0, end)).slice(2).trim();
  const stages = header.split('|').map((stage) => stage.trim());
  for (const stage of stages) {
    if (stage !== 'jinja' && stage !== 'yaml' && stage !== 'json') {
      throw new SlsLoadError(
        `salt://${file} asks for the renderer '${stage}', which Phoenix does not have (jinja, yaml and json are available)`,
      );
    }
  }
  // The header line stays as an empty line, so line numbers in errors still match the file.
  return { pipeline: stages as Stage[], body: end === -1 ? '' : `\n${text.slice(end + 1)}` };
}
