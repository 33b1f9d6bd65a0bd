import { z } from 'zod';
import { KEY_STATES, LifecycleSchema, MasterRecordSchema } from '@phoenix/store';

// Output shapes shared by several routes. Output objects are not strict: a field added to a record
// later is documented when it is added here, and never breaks an answer.

export const KeyStateEnum = z.enum(KEY_STATES);
export const LifecycleStateEnum = LifecycleSchema.shape.state;

export const MasterViewSchema = MasterRecordSchema.extend({ liveness: z.enum(['live', 'draining', 'dead']) });

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
export type MinionView = z.output<typeof MinionViewSchema>;

export const ClusterEventSchema = z.object({
  /** The same on every master's stream (a reaction claims the event by it). */
  id: z.string(),
  tag: z.string(),
  at: z.number(),
  masterId: z.string(),
  data: z.record(z.string(), z.unknown()),
});
