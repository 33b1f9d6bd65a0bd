import { splitArguments } from '@phoenix/protocol/arguments';
import { ProtocolErrors, PhoenixError } from '@phoenix/protocol/errors';
import { formatHighstate, useColour } from '@phoenix/state/highstate-output';
import type { RunView } from '@phoenix/api';
import { apiClient, resolveApi } from '../api-client.js';
import { yaml } from '../output.js';

export interface OrchestrateOptions {
  async?: boolean;
  out?: 'highstate' | 'json' | 'yaml';
  color: boolean;
  forceColor?: boolean;
  api?: string;
  token?: string;
  ca?: string;
}

/** How often the run is read while it goes on. */
const POLL_MS = 500;

/**
 * `phoenix orchestrate NAME [pillar=…] [saltenv=…] [test=True]`: Salt's `salt-run state.orchestrate`.
 * A master renders and checks the SLS (an error there runs nothing), then drives its steps; this
 * follows the run from any master, shows each step as it starts and ends on a terminal, and prints
 * the results as Salt's orchestrate outputter does. Exit status 1 when a step failed.
 */
export async function orchestrate(name: string, words: string[], options: OrchestrateOptions): Promise<number> {
  const { args, kwargs } = splitArguments(words);
  const unknown = [
    ...args.map(String),
    ...Object.keys(kwargs).filter((k) => !['pillar', 'saltenv', 'test'].includes(k)),
  ];
  if (unknown.length > 0) {
    throw new PhoenixError(
      ProtocolErrors.PHX_CLI_USAGE,
      `phoenix orchestrate: ${unknown.join(', ')}: only pillar=…, saltenv=… and test=True follow the name`,
    );
  }
  const pillar = await pillarOf(kwargs.pillar);
  if (kwargs.saltenv !== undefined && typeof kwargs.saltenv !== 'string') {
    throw new PhoenixError(ProtocolErrors.PHX_CLI_USAGE, 'phoenix orchestrate: saltenv= takes an environment name');
  }
  const out = options.out ?? 'highstate';
  const client = apiClient(await resolveApi(options));
  const submitted = await client.call('submitOrchestration', {
    body: {
      name,
      pillar,
      test: kwargs.test === true,
      ...(typeof kwargs.saltenv === 'string' ? { saltenv: kwargs.saltenv } : {}),
    },
  });
  if (options.async === true) {
    process.stdout.write(out === 'json' ? `${JSON.stringify(submitted)}\n` : `${submitted.runId}\n`);
    return 0;
  }
  const progress = process.stderr.isTTY && out === 'highstate';
  const told = new Map<string, string>();
  let view: RunView;
  for (;;) {
    view = await client.call('getRun', { params: { runId: submitted.runId } });
    if (progress) {
      for (const [index, step] of Object.entries(view.run.steps)) {
        const said = step.status === 'running' ? 'running' : `done: ${resultWord(step.result)}`;
        if (told.get(index) === said) continue;
        told.set(index, said);
        const meta = submitted.steps[Number(index)];
        process.stderr.write(`${meta?.id ?? index} (${meta?.function ?? '?'}): ${said}\n`);
      }
    }
    if (view.run.status !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const orchestrator = view.orchestrator ?? 'master';
  const retcode = view.run.status === 'succeeded' ? 0 : 1;
  const document = {
    runId: submitted.runId,
    status: view.run.status,
    summary: view.run.summary ?? '',
    drivers: view.run.drivers,
    outputter: 'highstate',
    retcode,
    data: { [orchestrator]: view.results ?? {} },
  };
  if (out === 'json') process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  else if (out === 'yaml') process.stdout.write(await yaml(document));
  else {
    const colour = useColour({ noColor: !options.color, forceColor: options.forceColor === true }, process.stdout);
    process.stdout.write(`${formatHighstate(view.results ?? {}, { colour, minion: orchestrator })}\n`);
    process.stderr.write(`orchestration ${submitted.runId} ${view.run.status}: ${document.summary}\n`);
  }
  return retcode;
}

function resultWord(result: boolean | null | undefined): string {
  return result === null ? 'None' : result === false ? 'False' : 'True';
}

/** `pillar=` as JSON or YAML (Salt takes either): a mapping. */
async function pillarOf(value: unknown): Promise<Record<string, unknown>> {
  if (value === undefined) return {};
  let parsed: unknown = value;
  if (typeof value === 'string') {
    const { parse } = await import('yaml');
    try {
      parsed = parse(value) as unknown;
    } catch {
      parsed = undefined;
    }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new PhoenixError(
      ProtocolErrors.PHX_CLI_USAGE,
      `phoenix orchestrate: pillar= takes a mapping, e.g. pillar='{"version": "7.0"}', not ${JSON.stringify(value)}`,
    );
  }
  return parsed as Record<string, unknown>;
}
