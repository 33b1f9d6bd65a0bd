import { z } from 'zod';
import {
  JobSummarySchema,
  KEY_STATES,
  LifecycleEventSchema,
  LifecycleSchema,
  MasterEventSchema,
  MasterRecordSchema,
  RUN_KINDS,
  RUN_STATUSES,
  RunOutcomeSchema,
  RunStepSchema,
} from '@phoenix/store';
import { ROLES } from './routes.js';

// Output shapes shared by several routes. Output objects are not strict: a field added to a record
// later is documented when it is added here, and never breaks an answer.

export const RoleSchema = z.enum(ROLES);

export const KeyStateEnum = z.enum(KEY_STATES);
export const LifecycleStateEnum = LifecycleSchema.shape.state;

export const MasterViewSchema = MasterRecordSchema.extend({
  liveness: z.enum(['starting', 'live', 'draining', 'dead']),
});

export const JobSchema = z.object({
  jid: z.string(),
  fun: z.string(),
  args: z.array(z.unknown()),
  kwargs: z.record(z.string(), z.unknown()),
  target: z.string(),
  targetType: z.enum(['glob', 'list', 'grain', 'pcre', 'compound']),
  submitter: z.string(),
  originMaster: z.string(),
  expected: z.array(z.string()),
  /** Selected minions the job was not sent to (state runs disabled there), with the reason. */
  skipped: z.array(z.object({ minionId: z.string(), reason: z.string() })).optional(),
  /** Expected minions connected to no master when the job was sent (they cannot get it). */
  notConnected: z.array(z.string()).optional(),
  /** The schedule entry and tick that fired the job. */
  schedule: z.object({ name: z.string(), tickAt: z.number() }).optional(),
  createdAt: z.number(),
  /**
   * Its returns as far as the master it was submitted on heard them (a listing needs no read of
   * them): `final` once every expected minion returned or the job's time was up.
   */
  summary: JobSummarySchema.optional(),
});

export const ReturnSchema = z.object({
  jid: z.string(),
  minionId: z.string(),
  success: z.boolean(),
  retcode: z.number(),
  ret: z.unknown(),
  truncated: z.object({ originalBytes: z.number() }).optional(),
  masterId: z.string().optional(),
  receivedAt: z.number(),
});

export const KeyInfoSchema = z.object({
  minionId: z.string(),
  state: KeyStateEnum,
  fingerprint: z.string(),
  updatedAt: z.number().optional(),
  /** More than one key claims this pending id; none is accepted until an operator picks one. */
  contested: z.boolean().optional(),
  /** An accepted key held because its minion kept sending what masters refuse; `keys accept` lifts it. */
  quarantined: z.object({ at: z.number(), reason: z.string(), by: z.string() }).optional(),
});

export const KeyChangeSchema = z.object({
  minionId: z.string(),
  from: z.union([KeyStateEnum, z.literal('quarantined')]).optional(),
  to: z.union([KeyStateEnum, z.literal('deleted'), z.literal('quarantined')]),
});

/** The grains worth a column in a fleet listing; the rest are in GET /minions/:id. */
export const SUMMARY_GRAINS = [
  'os',
  'os_family',
  'osrelease',
  'kernel',
  'kernelrelease',
  'cpuarch',
  'num_cpus',
  'mem_total',
  'fqdn',
  'ipv4',
  'service_group',
  'role',
  'roles',
] as const;

export const MinionViewSchema = z.object({
  minionId: z.string(),
  keyState: KeyStateEnum.optional(),
  fingerprint: z.string().optional(),
  deniedKey: z.object({ fingerprint: z.string(), at: z.number() }).optional(),
  /** Keys claiming this id at once (the held one first): its launch is held for an operator. */
  contested: z.object({ at: z.number(), fingerprints: z.array(z.string()) }).optional(),
  lifecycle: z
    .object({
      state: LifecycleStateEnum,
      group: z.string(),
      launchedAt: z.number().optional(),
      updatedAt: z.number(),
    })
    .optional(),
  /** The master the minion last said hello to, and whether that master is live now. */
  connectedMaster: z.string().optional(),
  connectedAt: z.number().optional(),
  connected: z.boolean(),
  grains: z.record(z.string(), z.unknown()).describe(`a summary: ${SUMMARY_GRAINS.join(', ')}`),
  highstate: z
    .object({
      result: z.enum(['success', 'failure']).optional(),
      jid: z.string().optional(),
      startedAt: z.number().optional(),
      finishedAt: z.number().optional(),
      claimedBy: z.string().optional(),
    })
    .optional(),
  /** killswitch: the minion's state.disable (state runs are skipped); api: marked through this API. */
  disabled: z
    .object({ by: z.string(), at: z.number(), reason: z.string(), source: z.enum(['killswitch', 'api']) })
    .optional(),
});

/**
 * A minion's histories, oldest first and bounded (the newest entries are kept): its instance's
 * lifecycle (states the reactor recorded, key acceptance, first highstate, an abandoned launch)
 * and the masters it was connected to.
 */
export const MinionHistorySchema = z.object({
  lifecycle: z.array(LifecycleEventSchema),
  masters: z.array(MasterEventSchema),
});

export const ClusterEventSchema = z.object({
  /** The same on every master's stream (a reaction claims the event by it). */
  id: z.string(),
  tag: z.string(),
  at: z.number(),
  masterId: z.string(),
  data: z.record(z.string(), z.unknown()),
});

export const TokenViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  role: RoleSchema,
  createdAt: z.number(),
  createdBy: z.string(),
  validUntil: z.number().optional(),
  revokedAt: z.number().optional(),
  revokedBy: z.string().optional(),
  state: z.enum(['active', 'expired', 'revoked']),
});

/** One git root of the file server (`kind:environment:name`): its remote, its ref and the commit it serves. */
export const GitRootStatusSchema = z.object({
  key: z.string(),
  url: z.string(),
  ref: z.string(),
  commit: z.string().optional(),
  error: z.string().optional(),
  fetchedAt: z.number().optional(),
});

/** Every error answer: the error table's code, its message, and details such as retryAfterSeconds. */
export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});

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
  /** By step index (an orchestration's plan order; a rollout's one step is 0). */
  steps: z.record(z.string(), RunStepSchema),
});

export const RunStepItemsSchema = z.object({
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
  /** An orchestration: its id in outputs (`<master>_master`, as Salt names it). */
  orchestrator: z.string().optional(),
  /** An orchestration's steps by index: their ID and function. */
  plan: z.array(z.object({ id: z.string(), function: z.string() })).optional(),
  /** An orchestration's results so far, as Salt's orchestrate runner returns them (the highstate outputter's input). */
  results: z.record(z.string(), z.unknown()).optional(),
});

export type Job = z.output<typeof JobSchema>;
export type RunRecordView = z.output<typeof RunRecordViewSchema>;
export type RunView = z.output<typeof RunViewSchema>;
export type RunOutcomeView = z.output<typeof RunOutcomeSchema>;
export type JobReturn = z.output<typeof ReturnSchema>;
export type KeyInfo = z.output<typeof KeyInfoSchema>;
export type KeyChange = z.output<typeof KeyChangeSchema>;
export type KeyState = z.output<typeof KeyStateEnum>;
export type LifecycleState = z.output<typeof LifecycleStateEnum>;
export type MasterView = z.output<typeof MasterViewSchema>;
export type MinionView = z.output<typeof MinionViewSchema>;
export type MinionHistory = z.output<typeof MinionHistorySchema>;
export type ClusterEvent = z.output<typeof ClusterEventSchema>;
export type TokenView = z.output<typeof TokenViewSchema>;
export type GitRootStatus = z.output<typeof GitRootStatusSchema>;
