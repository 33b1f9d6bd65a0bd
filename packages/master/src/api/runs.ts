import type { RunRecordView, RunView } from '@phoenix/api';
import type { LoadedRun, RunRecord } from '@phoenix/store';
import { orchestrationPlan, orchestrationResults, orchestratorId } from '../runs/orchestration.js';
import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';

/** A run as listed: everything but its spec, which stays with the masters. */
export function runRecordView(run: RunRecord): RunRecordView {
  const { spec: _spec, lease, steps, ...rest } = run;
  return {
    ...rest,
    ...(lease === undefined ? {} : { lease: { holder: lease.holder, until: lease.until } }),
    steps: Object.fromEntries(Object.entries(steps)),
  };
}

function runView(loaded: LoadedRun): RunView {
  const steps = new Set([...loaded.targets.keys(), ...loaded.dispatches.keys()]);
  return {
    run: runRecordView(loaded.run),
    items: [...steps]
      .sort((a, b) => a - b)
      .map((step) => ({
        step,
        ...(loaded.targets.get(step) ?? { minions: [], skipped: [], notConnected: [] }),
        jobs: (loaded.dispatches.get(step) ?? []).map(({ jid, minions, sentAt, sentBy, outcomes }) => ({
          jid,
          minions,
          sentAt,
          sentBy,
          outcomes,
        })),
      })),
  };
}

/** Runs (batch rollouts, orchestrations): started, listed and shown live from any master. */
export function runRoutes(deps: ApiContext): AnyRoute[] {
  return [
    route('listRuns', async ({ query }) => ({ runs: (await deps.runs.list(query.limit)).map(runRecordView) })),
    route('getRun', async ({ params }) => {
      const loaded = await deps.runs.get(params.runId);
      const view = runView(loaded);
      if (loaded.run.kind !== 'orchestration') return view;
      return {
        ...view,
        orchestrator: orchestratorId(loaded.run.originMaster),
        plan: orchestrationPlan(loaded),
        results: await orchestrationResults(loaded, (jid) => deps.jobs.returns(jid)),
      };
    }),
    route('submitOrchestration', async ({ body }, request) => {
      const { run, chunks } = await deps.runs.submitOrchestration({
        ...body,
        submitter: request.caller?.name ?? 'unknown',
        role: request.caller?.role ?? 'read',
      });
      return {
        runId: run.runId,
        run: runRecordView(run),
        steps: chunks.map((chunk) => ({ id: chunk.id, function: `${chunk.state}.${chunk.fun}`, name: chunk.name })),
      };
    }),
  ];
}
