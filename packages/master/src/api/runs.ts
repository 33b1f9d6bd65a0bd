import { z } from 'zod';
import { JidSchema } from '@phoenix/protocol';
import {
  RUN_KINDS,
  RUN_STATUSES,
  RunOutcomeSchema,
  RunStepSchema,
  type LoadedRun,
  type RunRecord,
} from '@phoenix/store';
import { route, type AnyRoute } from './route.js';
import { orchestrationPlan, orchestrationResults, orchestratorId } from '../runs/orchestration.js';
import type { ApiContext } from './context.js';

/** A run as listed: what it is, who drives it, how far it got (its spec stays with the masters). */
export const RunRecordViewSchema = z.object({
  runId: z.string(),
  kind: z.enum(RUN_KINDS),
  title: z.string(),
  submitter: z.string(),
  originMaster: z.string(),
  status: z.enum(RUN_STATUSES),
  createdAt: z.number(),
  updatedAt: z.number(),
  finishedAt: z.number().optional(),
  /** Who drives it now, until when (absent once it finished). */
  lease: z.object({ holder: z.string(), until: z.number() }).optional(),
  /** Every master that drove it, in order: more than one when a master died and another resumed it. */
  drivers: z.array(z.string()),
  summary: z.string().optional(),
  steps: z.record(z.string(), RunStepSchema),
});
export type RunRecordView = z.output<typeof RunRecordViewSchema>;

const RunStepItemsSchema = z.object({
  step: z.number(),
  /** The minions the step runs on, fixed when it started, and those it could not run on. */
  minions: z.array(z.string()),
  skipped: z.array(z.object({ minionId: z.string(), reason: z.string() })),
  notConnected: z.array(z.string()),
  /** Every job the step sent, in order, with its minions' outcomes so far. */
  jobs: z.array(
    z.object({
      jid: z.string(),
      minions: z.array(z.string()),
      sentAt: z.number(),
      sentBy: z.string(),
      outcomes: z.record(z.string(), RunOutcomeSchema),
    }),
  ),
});

export const RunViewSchema = z.object({
  run: RunRecordViewSchema,
  items: z.array(RunStepItemsSchema),
  /** An orchestration: its id in outputs (`<master>_master`, Salt's) and its steps' results so far, as Salt's orchestrate runner returns them. */
  orchestrator: z.string().optional(),
  /** An orchestration's steps, by index: their ID and function (run.steps is keyed by the same index). */
  plan: z.array(z.object({ id: z.string(), function: z.string() })).optional(),
  results: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
});

const OrchestrateBody = z.strictObject({
  /** The orchestration SLS, by name: `orch.mongo` is salt://orch/mongo.sls (or orch/mongo/init.sls). */
  name: z.string().min(1).max(1024),
  saltenv: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('base'),
  /** Merged over the master's pillar, as Salt's `pillar=` is. */
  pillar: z.record(z.string(), z.unknown()).default({}),
  test: z.boolean().default(false),
});

export function runRecordView(run: RunRecord): RunRecordView {
  const { spec: _spec, lease, steps, ...rest } = run;
  return {
    ...rest,
    ...(lease === undefined ? {} : { lease: { holder: lease.holder, until: lease.until } }),
    steps: Object.fromEntries(Object.entries(steps)),
  };
}

export function runView(loaded: LoadedRun): z.output<typeof RunViewSchema> {
  const steps = new Set([...loaded.targets.keys(), ...loaded.dispatches.keys()]);
  return {
    run: runRecordView(loaded.run),
    items: [...steps]
      .sort((a, b) => a - b)
      .map((step) => {
        const targets = loaded.targets.get(step) ?? { minions: [], skipped: [], notConnected: [] };
        return {
          step,
          ...targets,
          jobs: (loaded.dispatches.get(step) ?? []).map(({ jid, minions, sentAt, sentBy, outcomes }) => ({
            jid,
            minions,
            sentAt,
            sentBy,
            outcomes,
          })),
        };
      }),
  };
}

const ListQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50) });
const RunParams = z.strictObject({ runId: JidSchema });

/** Runs (batch rollouts, orchestrations): listed and shown live from any master. */
export function runRoutes(deps: ApiContext): AnyRoute[] {
  return [
    route({
      method: 'GET',
      url: '/runs',
      summary: 'recent batch rollouts and orchestrations, newest first',
      tag: 'runs',
      role: 'read',
      query: ListQuery,
      response: z.object({ runs: z.array(RunRecordViewSchema) }),
      handler: async ({ query }) => ({ runs: (await deps.runs.list(query.limit)).map(runRecordView) }),
    }),
    route({
      method: 'GET',
      url: '/runs/:runId',
      summary: 'one run as it stands: its steps, the jobs each sent and every minion outcome so far',
      tag: 'runs',
      role: 'read',
      params: RunParams,
      response: RunViewSchema,
      handler: async ({ params }) => {
        const loaded = await deps.runs.get(params.runId);
        const view = runView(loaded);
        if (loaded.run.kind !== 'orchestration') return view;
        return {
          ...view,
          orchestrator: orchestratorId(loaded.run.originMaster),
          plan: orchestrationPlan(loaded),
          results: await orchestrationResults(loaded, (jid) => deps.jobs.returns(jid)),
        };
      },
    }),
    route({
      method: 'POST',
      url: '/orchestrations',
      summary: "start an orchestration SLS from the masters' file server (Salt's state.orchestrate; audited)",
      tag: 'runs',
      role: 'operate',
      body: OrchestrateBody,
      status: 201,
      response: z.object({
        runId: z.string(),
        run: RunRecordViewSchema,
        steps: z.array(z.object({ id: z.string(), function: z.string(), name: z.string() })),
      }),
      handler: async ({ body }, request) => {
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
      },
    }),
  ];
}
