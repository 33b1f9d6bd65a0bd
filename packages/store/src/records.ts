import { z } from 'zod';

// The schemas validate what is READ from a table: an item written by another version or by hand
// becomes a CorruptItemError instead of a crash deep inside a caller.

const epochMs = z.number();
const epochSeconds = z.number();

export const MasterRecordSchema = z.object({
  masterId: z.string(),
  host: z.string(),
  ports: z.object({ minion: z.number(), enrol: z.number(), peer: z.number(), api: z.number() }),
  /** `starting`: up, but not yet serving the cluster's commit of its git trees; in no minion's list. */
  status: z.enum(['starting', 'active', 'draining']),
  heartbeatAt: epochMs,
  startedAt: epochMs,
  version: z.string(),
  minionCount: z.number(),
  treeHash: z.string().optional(),
  /** The commit this master serves of each git root (`file:base:states` → commit id). */
  gitCommits: z.record(z.string(), z.string()).optional(),
  /** Why the last fetch or check of a git root failed (the last good commit is still served). */
  fileServerErrors: z.array(z.string()).optional(),
  publicKey: z.string().optional(),
  instanceId: z.string().optional(),
  expiresAt: epochSeconds,
});
export type MasterRecord = z.output<typeof MasterRecordSchema>;
export type MasterStatus = MasterRecord['status'];

export const KEY_STATES = ['pending', 'accepted', 'rejected', 'denied'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export const LifecycleSchema = z.object({
  /**
   * launching → in-service → terminating → terminated; with a warm pool, `warming` (its warm-pool
   * highstate to run) and `warmed` (prepared, in the pool) come before launching, and an instance
   * returned to the pool is `warmed` again.
   */
  state: z.enum(['warming', 'warmed', 'launching', 'in-service', 'terminating', 'terminated']),
  group: z.string(),
  hookName: z.string().optional(),
  token: z.string().optional(),
  launchedAt: epochMs.optional(),
  updatedAt: epochMs,
});
export type Lifecycle = z.output<typeof LifecycleSchema>;

export const HighstateSchema = z.object({
  claimedBy: z.string().optional(),
  /** The attempt holding the claim (see MinionsTable.claimHighstate). */
  claimId: z.string().optional(),
  leaseUntil: epochMs.optional(),
  jid: z.string().optional(),
  result: z.enum(['success', 'failure']).optional(),
  startedAt: epochMs.optional(),
  finishedAt: epochMs.optional(),
});
export type Highstate = z.output<typeof HighstateSchema>;

/**
 * What happened to a minion's instance and key, in order: the lifecycle states the reactor
 * recorded, the key's acceptance, the first highstate's start and outcome, an abandoned launch.
 */
export const LIFECYCLE_EVENTS = [
  'warming',
  'warmed',
  'launching',
  'key-accepted',
  'highstate-started',
  'highstate-succeeded',
  'highstate-failed',
  'in-service',
  'abandoned',
  'terminating',
  'terminated',
] as const;
export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];

export const LifecycleEventSchema = z.object({
  at: epochMs,
  event: z.enum(LIFECYCLE_EVENTS),
  /** The master that recorded it. */
  by: z.string().optional(),
  /** The first highstate's job. */
  jid: z.string().optional(),
});
export type LifecycleEvent = z.output<typeof LifecycleEventSchema>;

/** A minion's connection to a master began or ended, as that master's session saw it. */
export const MasterEventSchema = z.object({
  at: epochMs,
  masterId: z.string(),
  event: z.enum(['connected', 'disconnected']),
});
export type MasterEvent = z.output<typeof MasterEventSchema>;

export const QuarantineSchema = z.object({ at: epochMs, reason: z.string(), by: z.string() });
export type Quarantine = z.output<typeof QuarantineSchema>;

export const MinionRecordSchema = z.object({
  minionId: z.string(),
  keyState: z.enum(KEY_STATES).optional(),
  publicKey: z.string().optional(),
  fingerprint: z.string().optional(),
  keyUpdatedAt: epochMs.optional(),
  attestation: z.record(z.string(), z.unknown()).optional(),
  /**
   * More than one key claimed this id while its key was pending: none is auto-accepted, and the
   * launch is held until an operator accepts one of them by fingerprint. `claimants` are the keys
   * besides the one the row holds, first come first kept.
   */
  contested: z
    .object({
      at: epochMs,
      claimants: z.array(
        z.object({
          publicKey: z.string(),
          fingerprint: z.string(),
          at: epochMs,
          attestation: z.record(z.string(), z.unknown()).optional(),
        }),
      ),
    })
    .optional(),
  /** The last key refused because another key is accepted (or pending) for this id. */
  deniedKey: z.object({ publicKey: z.string(), fingerprint: z.string(), at: epochMs }).optional(),
  grains: z.record(z.string(), z.unknown()).optional(),
  /** Grains operators set through the master (grains.setval jobs): the master vouches for these. */
  vouchedGrains: z.record(z.string(), z.unknown()).optional(),
  connectedMaster: z.string().optional(),
  connectedAt: epochMs.optional(),
  /** The minion's own time of the hello that wrote the presence above: orders the masters' writes. */
  helloAt: z.number().optional(),
  lifecycle: LifecycleSchema.optional(),
  /** The lifecycle step's order (warming, warmed, launching 1 … terminated 4), so a late message never moves it back. */
  lifecycleRank: z.number().optional(),
  highstate: HighstateSchema.optional(),
  /** Oldest first, the newest `historyLength` kept (see MinionsTable). */
  lifecycleHistory: z.array(LifecycleEventSchema).optional(),
  /** Oldest first, the newest `historyLength` kept: which masters the minion was on, and when. */
  masterHistory: z.array(MasterEventSchema).optional(),
  /** An admin's disable: `states` are the names it disabled, `*` every state run (absent: `*`). */
  disabled: z
    .object({ by: z.string(), at: epochMs, reason: z.string(), states: z.array(z.string()).optional() })
    .optional(),
  /**
   * Set when the minion kept sending messages its masters had to refuse: its accepted key is held,
   * every master refuses its connection, until an operator accepts the key again.
   */
  quarantine: QuarantineSchema.optional(),
  /** Refused messages of the current window, over every master (see quarantine). */
  strikes: z.object({ count: z.number(), since: epochMs }).optional(),
  expiresAt: epochSeconds.optional(),
});
export type MinionRecord = z.output<typeof MinionRecordSchema>;

/**
 * A job's returns as its listing needs them, so listing jobs is one query whatever their number:
 * the master the job was submitted on hears every return (its peers forward them) and writes this
 * while they arrive, then `final` once every expected minion returned or the job's time is up.
 */
export const JobSummarySchema = z.object({
  returned: z.number(),
  /** Returns that failed: `success` false, or a state run with a state whose result is false. */
  failed: z.number(),
  /** When the last return arrived (a job's duration is from its creation to this). */
  lastReturnAt: epochMs.optional(),
  final: z.boolean().optional(),
});
export type JobSummary = z.output<typeof JobSummarySchema>;

/**
 * A job as stored: `args` and `kwargs` are JSON text, like a return's `ret`, so any value an
 * operator passes (a 20-digit number, deep nesting, empty strings) round-trips exactly.
 */
const StoredJobSchema = z.object({
  jid: z.string(),
  fun: z.string(),
  args: z.string(),
  kwargs: z.string(),
  target: z.string(),
  targetType: z.enum(['glob', 'list', 'grain', 'pcre', 'compound']),
  submitter: z.string(),
  originMaster: z.string(),
  expected: z.array(z.string()),
  /** Minions the target selected but the job was not sent to (state runs disabled there), and why. */
  skipped: z.array(z.object({ minionId: z.string(), reason: z.string() })).optional(),
  /** Expected minions that were connected to no master when the job was sent: nothing waits for them. */
  notConnected: z.array(z.string()).optional(),
  /** Set when a master's schedule fired the job: the entry and the tick it fired for. */
  schedule: z.object({ name: z.string(), tickAt: epochMs }).optional(),
  /** How long the job may run on a minion; also how long a minion that connects late is still sent it. */
  timeoutMs: z.number().optional(),
  /** Each minion waits a random time up to this before it runs the job. */
  splayMs: z.number().optional(),
  /** What a job listing shows of its returns, kept here by the master it was submitted on (see JobSummarySchema). */
  summary: JobSummarySchema.optional(),
  createdAt: epochMs,
  /** UTC 'YYYY-MM-DD' of createdAt: the partition of the byDay index. */
  day: z.string(),
  expiresAt: epochSeconds,
});
export type StoredJob = z.output<typeof StoredJobSchema>;
export type JobRecord = Omit<StoredJob, 'args' | 'kwargs'> & { args: unknown[]; kwargs: Record<string, unknown> };

export const JobRecordSchema = StoredJobSchema.transform((stored, ctx): JobRecord => {
  try {
    const args = JSON.parse(stored.args) as unknown;
    const kwargs = JSON.parse(stored.kwargs) as unknown;
    if (Array.isArray(args) && typeof kwargs === 'object' && kwargs !== null && !Array.isArray(kwargs)) {
      return { ...stored, args, kwargs: kwargs as Record<string, unknown> };
    }
  } catch {
    // reported below
  }
  ctx.addIssue({ code: 'custom', path: ['args'], message: 'args or kwargs are not valid JSON of the right shape' });
  return z.NEVER;
});

/** A return as stored: `ret` is JSON text, so any shape a minion sends fits DynamoDB's types and depth limit. */
const StoredReturnSchema = z.object({
  jid: z.string(),
  minionId: z.string(),
  success: z.boolean(),
  retcode: z.number(),
  ret: z.string(),
  /** Present when `ret` was too large for one item: `ret` is then the leading part of its JSON text. */
  truncated: z.object({ originalBytes: z.number() }).optional(),
  masterId: z.string(),
  receivedAt: epochMs,
  expiresAt: epochSeconds,
});
export type ReturnRecord = Omit<z.output<typeof StoredReturnSchema>, 'ret'> & { ret: unknown };

export const ReturnRecordSchema = StoredReturnSchema.transform((stored, ctx): ReturnRecord => {
  if (stored.truncated) return stored;
  try {
    return { ...stored, ret: JSON.parse(stored.ret) as unknown };
  } catch {
    ctx.addIssue({ code: 'custom', path: ['ret'], message: 'is not valid JSON' });
    return z.NEVER;
  }
});
