import { z } from 'zod';
import { JidSchema, KeyStateSchema, TargetTypeSchema } from '@phoenix/protocol';
import type { RouteName } from './routes.js';
import {
  ClusterEventSchema,
  GitRootStatusSchema,
  JobSchema,
  KeyChangeSchema,
  KeyInfoSchema,
  KeyStateEnum,
  LifecycleStateEnum,
  MasterViewSchema,
  MinionHistorySchema,
  MinionViewSchema,
  ReturnSchema,
  RoleSchema,
  RunRecordViewSchema,
  RunViewSchema,
  TokenViewSchema,
} from './schemas.js';

/**
 * What each route takes and answers, under the names of routes.ts: the master validates requests
 * with these (fastify's own validation), writes the OpenAPI document from them, and the client's
 * types are theirs. Inputs are strict (an unknown field is a 400 naming it); outputs are not.
 */
export interface RouteSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The success answer; for a stream, one event (`{ event, data }` when the events are named). */
  response: z.ZodType;
}

const MinionId = z.string().min(1).max(255);
const Pattern = z.string().min(1).max(1024);
const JidParams = z.strictObject({ jid: JidSchema });
const MinionParams = z.strictObject({ id: MinionId });
const Skipped = z.array(z.object({ minionId: z.string(), reason: z.string() }));
const TagPrefix = z.string().min(1).max(200);

export const CONTRACT = {
  health: { response: z.object({ status: z.literal('ok'), masterId: z.string() }) },
  ready: { response: z.object({ status: z.literal('ready'), masterId: z.string() }) },
  masters: { response: z.object({ masters: z.array(MasterViewSchema) }) },
  whoami: { response: z.object({ name: z.string(), role: RoleSchema, masterId: z.string() }) },
  openapi: { response: z.record(z.string(), z.unknown()) },
  metrics: { response: z.string() },

  listMinions: {
    query: z.strictObject({
      match: Pattern.default('*').describe('glob on the minion id'),
      keyState: KeyStateEnum.optional(),
      lifecycle: LifecycleStateEnum.optional(),
      master: z.string().min(1).max(255).optional().describe('the master the minion is connected to'),
      disabled: z.enum(['true', 'false']).optional(),
      /** Also terminated instances past their retention window (DynamoDB deletes them by TTL; dynalite never does). */
      all: z.enum(['true', 'false']).optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      cursor: z.string().max(4096).optional(),
    }),
    response: z.object({ minions: z.array(MinionViewSchema), cursor: z.string().optional() }),
  },
  getMinion: {
    params: MinionParams,
    response: z.object({
      minion: MinionViewSchema,
      grains: z.record(z.string(), z.unknown()).describe('self-reported: what the minion says about itself'),
      vouchedGrains: z
        .record(z.string(), z.unknown())
        .describe('what the master vouches for (id, lifecycle and naming grains, grains set through the master)'),
      history: MinionHistorySchema,
    }),
  },
  disableMinion: {
    params: MinionParams,
    body: z.strictObject({ reason: z.string().min(1).max(1024) }),
    response: z.object({ minion: MinionViewSchema }),
  },
  enableMinion: {
    params: MinionParams,
    body: z.strictObject({}),
    response: z.object({ minion: MinionViewSchema }),
  },

  fileServerUpdate: { response: z.object({ masterId: z.string(), roots: z.array(GitRootStatusSchema) }) },

  listKeys: {
    query: z.strictObject({ match: Pattern.default('*'), state: KeyStateSchema.optional() }),
    response: z.object({ keys: z.array(KeyInfoSchema) }),
  },
  changeKeys: {
    params: z.strictObject({ action: z.enum(['accept', 'reject', 'delete']) }),
    body: z.strictObject({
      match: Pattern,
      /** accept: also rejected keys; reject: also accepted keys (salt-key's --include-rejected / --include-accepted). */
      include: z.boolean().default(false),
      /** Only the key with this fingerprint (as listed): how an operator settles a contested id. */
      fingerprint: z
        .string()
        .regex(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/, 'a key fingerprint as listed (32 hex pairs)')
        .optional(),
    }),
    response: z.object({ changes: z.array(KeyChangeSchema) }),
  },

  submitJob: {
    body: z.strictObject({
      target: z.union([z.string().min(1).max(4096), z.array(z.string().min(1).max(255)).min(1).max(100_000)]),
      targetType: TargetTypeSchema.default('glob'),
      fun: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'module.function'),
      args: z.array(z.unknown()).max(1000).default([]),
      kwargs: z.record(z.string(), z.unknown()).default({}),
      timeoutMs: z.int().min(1).max(86_400_000).optional(),
      /**
       * A rollout (Salt's -b, SSM's MaxConcurrency/MaxErrors): at most `size` minions at once (`2`,
       * `25%`), each freed place used `waitSeconds` after its minion returned, and nothing new
       * started once more than `maxFailures` failed. The answer names the run instead of a job.
       */
      batch: z
        .strictObject({
          size: z.string().min(1).max(16),
          waitSeconds: z.number().min(0).max(86_400).default(0),
          maxFailures: z.string().min(1).max(16).optional(),
        })
        .optional(),
    }),
    response: z.union([
      z.object({
        jid: z.string(),
        minions: z.array(z.string()),
        /** Minions the target selected that were not sent the job (state runs disabled there). */
        skipped: Skipped,
        /** Minions connected to no master: they cannot get the job, and nothing waits for them. */
        notConnected: z.array(z.string()),
        job: JobSchema,
      }),
      z.object({
        /** A batch rollout: follow it at GET /runs/:runId. */
        runId: z.string(),
        minions: z.array(z.string()),
        skipped: Skipped,
        notConnected: z.array(z.string()),
        run: RunRecordViewSchema,
      }),
    ]),
  },
  previewTarget: {
    body: z.strictObject({
      target: z.union([z.string().min(1).max(4096), z.array(z.string().min(1).max(255)).min(1).max(100_000)]),
      targetType: TargetTypeSchema.default('glob'),
      /** The job it is for: a state run skips minions whose state runs are disabled (test=True does not). */
      fun: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'module.function')
        .default('test.ping'),
      args: z.array(z.unknown()).max(1000).default([]),
      kwargs: z.record(z.string(), z.unknown()).default({}),
      /** Ids listed at most (the counts are always whole). */
      limit: z.int().min(0).max(100_000).default(100),
    }),
    response: z.object({
      /** How many minions the job would be sent to, and the first `limit` of them, sorted. */
      count: z.number(),
      minions: z.array(z.string()),
      /** Selected but skipped (state runs disabled there), with the reason; the first `limit`. */
      skipped: Skipped,
      skippedCount: z.number(),
      /** Of `count`, those connected to no master now: they would not get the job. */
      notConnected: z.array(z.string()),
      notConnectedCount: z.number(),
    }),
  },
  listRuns: {
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
    response: z.object({ runs: z.array(RunRecordViewSchema) }),
  },
  getRun: { params: z.strictObject({ runId: JidSchema }), response: RunViewSchema },
  submitOrchestration: {
    body: z.strictObject({
      /** The orchestration SLS, by name: `orch.mongo` is salt://orch/mongo.sls (or orch/mongo/init.sls). */
      name: z.string().min(1).max(1024),
      saltenv: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,64}$/)
        .default('base'),
      /** Merged over the master's pillar, as Salt's `pillar=` is. */
      pillar: z.record(z.string(), z.unknown()).default({}),
      test: z.boolean().default(false),
    }),
    response: z.object({
      runId: z.string(),
      run: RunRecordViewSchema,
      steps: z.array(z.object({ id: z.string(), function: z.string(), name: z.string() })),
    }),
  },
  listJobs: {
    query: z.strictObject({
      limit: z.coerce.number().int().min(1).max(1000).default(50),
      cursor: z.string().max(4096).optional(),
    }),
    response: z.object({ jobs: z.array(JobSchema), cursor: z.string().optional() }),
  },
  getJob: {
    params: JidParams,
    response: z.object({
      job: JobSchema,
      returns: z.array(ReturnSchema),
      missing: z.array(z.string()),
      notConnected: z.array(z.string()),
    }),
  },
  jobStream: {
    params: JidParams,
    query: z.strictObject({
      timeoutMs: z.coerce.number().int().min(1).max(86_400_000).optional(),
      /** Also wait for minions that were not connected when the job was sent (Salt waits for every one). */
      waitOffline: z.enum(['true', 'false']).optional(),
    }),
    response: z.union([
      z.object({ event: z.literal('job'), data: z.object({ jid: z.string(), minions: z.array(z.string()) }) }),
      z.object({ event: z.literal('return'), data: ReturnSchema }),
      z.object({
        event: z.literal('done'),
        data: z.object({ jid: z.string(), missing: z.array(z.string()), notConnected: z.array(z.string()) }),
      }),
    ]),
  },
  events: {
    query: z.strictObject({
      tag: z
        .union([TagPrefix, z.array(TagPrefix).max(50)])
        .optional()
        .describe('only events whose tag starts with one of these (repeatable: ?tag=lifecycle/&tag=key/)'),
      keepAliveMs: z.coerce.number().int().min(1_000).max(60_000).default(15_000),
    }),
    response: ClusterEventSchema,
  },

  createToken: {
    body: z.strictObject({
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, '1-64 letters, digits, ".", "_", "@" or "-"'),
      role: RoleSchema,
      /** Without it the token works until revoked. */
      ttlSeconds: z
        .int()
        .min(1)
        .max(10 * 365 * 86_400)
        .optional(),
    }),
    response: z.object({ token: z.string(), info: TokenViewSchema }),
  },
  listTokens: { response: z.object({ tokens: z.array(TokenViewSchema) }) },
  revokeToken: {
    params: z.strictObject({ id: z.string().regex(/^[0-9a-f]{12}$/, 'a token id (12 hex digits)') }),
    body: z.strictObject({}),
    response: z.object({ info: TokenViewSchema }),
  },
} satisfies Record<RouteName, RouteSchemas>;

export type TargetType = z.output<typeof TargetTypeSchema>;

type Contract = typeof CONTRACT;
type Part = 'params' | 'query' | 'body';
type Schema<K extends RouteName, P extends Part | 'response'> =
  Contract[K] extends Record<P, infer S extends z.ZodType> ? S : never;
type Parts<K extends RouteName> = { [P in Part]: Contract[K] extends Record<P, z.ZodType> ? P : never }[Part];

/** What a caller sends to a route: its path parameters, query and body, as the schemas accept them. */
export type RouteInput<K extends RouteName> = {
  [P in Parts<K> as object extends z.input<Schema<K, P>> ? never : P]: z.input<Schema<K, P>>;
} & {
  // A part whose every field is optional may be left out.
  [P in Parts<K> as object extends z.input<Schema<K, P>> ? P : never]?: z.input<Schema<K, P>>;
};
/** What a handler receives: the same, once parsed (defaults filled in, numbers coerced). */
export type RouteParsed<K extends RouteName> = { [P in Part]: P extends Parts<K> ? z.output<Schema<K, P>> : undefined };
/** A route's success answer (for a stream route, one event). */
export type RouteOutput<K extends RouteName> = z.output<Schema<K, 'response'>>;
/** One server-sent event of a stream route: its name (`message` when unnamed) and its data. */
export type StreamMessage<K extends RouteName> =
  RouteOutput<K> extends { event: string; data: unknown } ? RouteOutput<K> : { event: 'message'; data: RouteOutput<K> };
