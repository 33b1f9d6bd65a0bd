import { z } from 'zod';
import { validateDetailed } from 'node-cron';
import { AwsSettingsSchema, compileTarget, loadConfig, TargetTypeSchema } from '@phoenix/protocol';
import { gitSources, RootEntrySchema } from './gitfs/git-root.js';
import { tagProblem } from './event-tags.js';

const Port = z.int().min(0).max(65535);
/** Environment → roots in order: directories and git remotes (see gitfs/git-root.ts). */
const Roots = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.array(RootEntrySchema).min(1));

export const ApiTokenSchema = z.strictObject({
  name: z.string().min(1),
  /** SHA-256 of the token, hex: the master never stores a token itself. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 hex characters (sha256 of the token)'),
  role: z.enum(['read', 'operate', 'admin']),
  /** When the token stops working (ISO 8601); without it a config token works until removed. */
  expires: z.iso.datetime({ offset: true }).optional(),
});
export type ApiToken = z.output<typeof ApiTokenSchema>;

const ReactorGroupSchema = z.strictObject({
  /** What the group's instances are: minions are enrolled and highstated, masters just proceed. */
  role: z.enum(['minions', 'masters']),
  /** The lifecycle action after a failed first highstate: ABANDON terminates the instance. */
  onHighstateFailure: z.enum(['ABANDON', 'CONTINUE']).default('ABANDON'),
  /**
   * Grains every instance of this group has, vouched for by the master (the lifecycle record, from
   * Auto Scaling, says the instance is in the group): `{ role: web }` for pillar and `-G role:web`.
   */
  grains: z.record(z.string().min(1).max(128), z.json()).optional(),
  /**
   * Run a highstate on an instance entering the group's warm pool before it is stopped there; the
   * instance still gets its first highstate in service when it leaves the pool.
   */
  warmPoolHighstate: z.boolean().default(false),
  /**
   * For the masters' group: the name of its launching hook. Each master of the group then completes
   * its own launch (CONTINUE) once it serves, so Auto Scaling puts it in service only when it is
   * ready, and the first masters of a new cluster need no other master to let them in. Unset, the
   * reactor completes a master's launch as soon as it hears of it.
   */
  launchingHook: z.string().min(1).max(255).optional(),
});

const TEMPLATED = /\{\{|\{%/;

/**
 * One reaction (Salt's reactor): an event tag glob and what to do, once per matching event in the
 * whole cluster. String values may be Jinja templates over the event's `tag` and `data`.
 */
export const ReactionRuleSchema = z
  .strictObject({
    /** Names the rule in logs, claims and events; default `rule-<index>`. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
      .optional(),
    /** A tag glob: `phoenix/minion/*\/start`, or a minion's own tag (`event.send`). */
    event: z.string().min(1).max(255),
    run: z
      .strictObject({
        target: z.string().min(1).max(4096),
        targetType: TargetTypeSchema.default('glob'),
        function: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'module.function'),
        args: z.array(z.unknown()).max(1000).default([]),
        kwargs: z.record(z.string(), z.unknown()).default({}),
        timeoutSeconds: z.int().min(1).max(86_400).optional(),
      })
      .optional(),
    orchestrate: z
      .strictObject({
        name: z.string().min(1).max(1024),
        saltenv: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,64}$/)
          .default('base'),
        /** Merged over the master's pillar, with `event_tag` and `event_data` (as Salt's reactor idiom passes them). */
        pillar: z.record(z.string(), z.unknown()).default({}),
        test: z.boolean().default(false),
      })
      .optional(),
  })
  .superRefine((rule, ctx) => {
    const problem = tagProblem(rule.event);
    if (problem !== undefined)
      ctx.addIssue({ code: 'custom', path: ['event'], message: `"${rule.event}": ${problem}` });
    if ((rule.run === undefined) === (rule.orchestrate === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a rule takes one of run or orchestrate' });
    }
    if (rule.run !== undefined && !TEMPLATED.test(rule.run.target)) {
      try {
        compileTarget(rule.run.target, rule.run.targetType);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          path: ['run', 'target'],
          message: `"${rule.run.target}": ${err instanceof Error ? err.message : String(err)}`,
        });
      }
    }
  });
export type ReactionRule = z.output<typeof ReactionRuleSchema>;

export const ReactorConfigSchema = z.strictObject({
  /** The lifecycle queue; no lifecycle reactor runs without it. */
  queueUrl: z.url().optional(),
  /** Operators' reactions to the cluster's events (and minions' own): each event once, cluster-wide. */
  rules: z
    .array(ReactionRuleSchema)
    .max(1_000)
    .default([])
    .superRefine((rules, ctx) => {
      const seen = new Set<string>();
      rules.forEach((rule, index) => {
        const name = rule.name ?? `rule-${index}`;
        if (seen.has(name))
          ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `"${name}" names two rules` });
        seen.add(name);
      });
    }),
  /** Auto-scaling groups by name; a message about any other group is deleted with a log line. */
  groups: z.record(z.string().min(1), ReactorGroupSchema).default({}),
  waitTimeSeconds: z.int().min(0).max(20).default(20),
  /**
   * A row still launching this long after its launch message is checked against its group, and
   * forgotten if the group does not have the instance (it never came to be, or vanished unseen).
   */
  launchingExpiryMs: z
    .int()
    .min(1_000)
    .max(7 * 86_400_000)
    .default(3_600_000),
  attestation: z
    .strictObject({
      /** Auto-accept only minions presenting a valid signed identity document for their own instance. */
      enabled: z.boolean().default(true),
      /** PEM certificate that signs identity documents (AWS publishes one per region). */
      certificate: z.string().min(1).optional(),
      accountId: z
        .string()
        .regex(/^\d{12}$/)
        .optional(),
      region: z.string().min(1).optional(),
      /** A document whose pendingTime is older than this is refused: it is a replay, not a launch. */
      maxDocumentAgeSeconds: z.int().min(1).max(604_800).default(900),
      /**
       * A new key is auto-accepted only once it has been the only claimant of its id this long: a
       * second key in that time (a process racing the real minion) contests the id for an operator.
       */
      contestWindowMs: z.int().min(0).max(600_000).default(1_000),
    })
    .prefault({}),
  highstate: z
    .strictObject({
      /** A claim on a first highstate lasts this long unless renewed; a crashed claimant's lapses. */
      leaseMs: z.int().min(1_000).max(3_600_000).default(60_000),
      /** How often the claimant renews its lease and sends RecordLifecycleActionHeartbeat. */
      heartbeatMs: z.int().min(200).max(3_600_000).default(20_000),
      /** A first highstate that has not returned by then counts as failed. */
      timeoutMs: z.int().min(1_000).max(86_400_000).default(1_800_000),
    })
    .prefault({}),
});
export type ReactorConfig = z.output<typeof ReactorConfigSchema>;

/** One scheduled job (Salt's master schedule): every master runs the cron, one fires each tick. */
export const ScheduleEntrySchema = z
  .strictObject({
    /** Names the entry in claims, job records and logs; unique in the list. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, '1-64 letters, digits, ".", "_" or "-"'),
    /** node-cron syntax: five fields, or six with a seconds field first. */
    cron: z.string().superRefine((cron, ctx) => {
      const checked = validateDetailed(cron);
      if (!checked.valid) {
        const why = checked.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
        ctx.addIssue({ code: 'custom', message: `not a cron expression (${why})` });
      }
    }),
    target: z.string().min(1).max(4096),
    targetType: TargetTypeSchema.default('glob'),
    function: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'module.function')
      .default('state.highstate'),
    args: z.array(z.unknown()).max(1000).default([]),
    kwargs: z.record(z.string(), z.unknown()).default({}),
    /** Each minion waits a random time up to this before it runs the job, so a fleet does not start at once. */
    splaySeconds: z.int().min(0).max(86_400).default(0),
    enabled: z.boolean().default(true),
  })
  .superRefine((entry, ctx) => {
    try {
      compileTarget(entry.target, entry.targetType);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: err instanceof Error ? err.message : String(err) });
    }
  });
export type ScheduleEntry = z.output<typeof ScheduleEntrySchema>;

const ScheduleSchema = z.array(ScheduleEntrySchema).superRefine((entries, ctx) => {
  const seen = new Set<string>();
  entries.forEach((entry, index) => {
    if (seen.has(entry.name)) {
      ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `"${entry.name}" is used by an earlier entry` });
    }
    seen.add(entry.name);
  });
});

export const MasterConfigSchema = z
  .strictObject({
    /** Unique in the cluster; defaults to the EC2 instance id or the host name plus the API port. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/)
      .optional(),
    /** Address the sockets bind to. */
    bind: z.string().min(1).default('0.0.0.0'),
    /** Address minions, peers and the CLI reach this master at (written to the masters table). */
    advertise: z.string().min(1).default('127.0.0.1'),
    ports: z
      .strictObject({
        enrol: Port.default(4505),
        minion: Port.default(4506),
        peer: Port.default(4507),
        api: Port.default(8080),
      })
      .prefault({}),
    aws: AwsSettingsSchema.prefault({}),
    tablePrefix: z.string().min(1).default('phoenix'),
    /** The cluster CURVE key pair: `cluster.pub` and `cluster.key` (Z85) in this directory. */
    pkiDir: z.string().min(1),
    api: z
      .strictObject({
        tokens: z.array(ApiTokenSchema).default([]),
        /** HTTPS: PEM files of the certificate (chain) and its key; without them the API speaks HTTP. */
        tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
        /** How often tokens made with `phoenix tokens create` are re-read (revocations elsewhere land by then). */
        tokenRefreshMs: z.int().min(1_000).max(3_600_000).default(10_000),
        /** Event and job streams one token may hold open at once; one more is refused (429). */
        streamsPerToken: z.int().min(1).max(10_000).default(32),
      })
      .prefault({}),
    /** What strangers may ask of the enrol port; the README's "Limits and quarantine" says why. */
    enrolment: z
      .strictObject({
        /** Pending keys the cluster holds at most; an enrolment of a new id beyond it is refused. */
        maxPendingKeys: z.int().min(1).max(1_000_000).default(20_000),
        /** Enrolments one connection may make that need the table: a burst, then `perSecond`. */
        burst: z.int().min(1).max(1_000_000).default(20),
        perSecond: z.number().positive().max(1_000_000).default(2),
        /** Enrolments needing the table this master works on at once; the next ones wait their turn. */
        inFlight: z.int().min(1).max(100_000).default(32),
        /** Enrolments waiting for one of those, taking turns by connection; one more is refused (`busy`). */
        waiting: z.int().min(0).max(1_000_000).default(2_048),
        /**
         * Connections to DynamoDB for key and presence traffic (enrolments, acceptances, the rows a
         * hello writes): a pool of its own, so a herd of those queues there, not ahead of jobs and returns.
         */
        tableConnections: z.int().min(1).max(1_000).default(8),
        /**
         * Minions waiting here whose key was accepted that are told so and not connected yet, at
         * most: the next is told as one says hello (each told minion connects at once).
         */
        tellAcceptedAtOnce: z.int().min(1).max(100_000).default(16),
      })
      .prefault({}),
    /** A minion whose messages masters refused `after` times within `windowMs` (cluster-wide) is quarantined. */
    quarantine: z
      .strictObject({
        after: z.int().min(1).max(1_000_000).default(5),
        windowMs: z.int().min(1_000).max(86_400_000).default(600_000),
      })
      .prefault({}),
    heartbeatIntervalMs: z.int().min(50).max(60_000).default(2_000),
    deadAfterMs: z.int().min(150).max(600_000).default(6_000),
    /** Default time a CLI waits for returns, when the caller gives none. */
    jobTimeoutMs: z.int().min(100).max(86_400_000).default(30_000),
    /**
     * A minion that connects is sent the jobs it missed that are still within their timeout (the
     * default timeout is jobTimeoutMs), going back this far at most.
     */
    jobRedeliveryWindowMs: z.int().min(0).max(86_400_000).default(600_000),
    /** How often this master heartbeats each minion connection (a minion fails over after missing a few). */
    minionHeartbeatMs: z.int().min(50).max(60_000).default(1_000),
    /** A minion's connection counts as gone when nothing was heard from it for this long. */
    minionSilenceMs: z.int().min(100).max(600_000).default(30_000),
    /**
     * A minion between masters (it said goodbye to one, or the one it was on died) still counts as
     * connected this long after: a job sent meanwhile waits for it and reaches it at its hello,
     * instead of skipping it as connected nowhere. For a dead master, counted from when it turned dead.
     */
    minionTransitMs: z.int().min(0).max(600_000).default(5_000),
    /**
     * A terminated instance stays in the minion listings this long, then leaves them (`all=true`
     * still shows it); its row carries the TTL attribute for DynamoDB to delete it then.
     */
    terminatedMinionRetentionMs: z
      .int()
      .min(1_000)
      .max(90 * 86_400_000)
      .default(900_000),
    reactor: ReactorConfigSchema.prefault({}),
    /**
     * Grains a minion reports about itself are its own word. Pillar top files and grain targets match
     * only grains the master vouches for (id, instance_id and naming grains from the lifecycle
     * record, grains operators set through the master) unless these opt in to self-reported ones.
     */
    selfReportedGrains: z
      .strictObject({ pillar: z.boolean().default(false), targeting: z.boolean().default(false) })
      .prefault({}),
    /** The state tree served to minions as `salt://` (Salt's file_roots), by environment. */
    fileRoots: Roots.default({ base: ['/srv/salt'] }),
    /** Pillar, rendered here per minion and never served raw (Salt's pillar_roots). */
    pillarRoots: Roots.default({ base: ['/srv/pillar'] }),
    fileServer: z
      .strictObject({
        /** How often the trees' content hash is recomputed for the masters table. */
        hashIntervalMs: z.int().min(1_000).max(86_400_000).default(30_000),
        /** One minion's pillar render may take this long. */
        pillarTimeoutMs: z.int().min(1_000).max(3_600_000).default(60_000),
        /** Pillar renders at once on this master (each runs in a worker thread). */
        pillarConcurrency: z.int().min(1).max(64).default(4),
        /** Pillar requests of one minion that may wait; more are answered PHX_MASTER_BUSY at once. */
        pillarWaitingPerMinion: z.int().min(1).max(10_000).default(8),
        /** File requests (read, hash, list) at once on this master, and per minion running and waiting. */
        fileRequestsAtOnce: z.int().min(1).max(1_024).default(32),
        fileRunningPerMinion: z.int().min(1).max(1_024).default(4),
        fileWaitingPerMinion: z.int().min(1).max(10_000).default(64),
        /** How often git roots are fetched (also on start and on `phoenix fileserver update`). */
        fetchIntervalMs: z.int().min(1_000).max(86_400_000).default(60_000),
        /** A file of a git root larger than this is not served (an error says so). */
        maxFileBytes: z
          .int()
          .min(1)
          .max(1024 * 1024 * 1024)
          .default(64 * 1024 * 1024),
        /** One git command (a fetch) may take this long. */
        gitTimeoutMs: z.int().min(1_000).max(3_600_000).default(120_000),
        /** Where git roots are mirrored and their commits checked out. */
        gitCacheDir: z.string().min(1).default('/var/cache/phoenix/git'),
      })
      .prefault({}),
    /**
     * Batch rollouts and orchestrations: the master driving one holds a lease on it, renewed every
     * third of `leaseMs`; every master looks each `sweepMs` for runs whose lease lapsed (their master
     * died) and one of them resumes each.
     */
    runs: z
      .strictObject({
        leaseMs: z.int().min(1_000).max(600_000).default(15_000),
        sweepMs: z.int().min(100).max(60_000).default(2_000),
      })
      .prefault({}),
    /** Jobs the cluster runs on a schedule (a scheduled highstate, say); each tick fires once. */
    schedule: ScheduleSchema.default([]),
    /** On SIGTERM, how long a draining master waits for its minions to move to other masters. */
    drainTimeoutMs: z.int().min(0).max(600_000).default(10_000),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .superRefine((config, ctx) => {
    for (const problem of gitSources(config.fileRoots, config.pillarRoots).problems) {
      ctx.addIssue({ code: 'custom', message: problem });
    }
  });
export type MasterConfig = z.output<typeof MasterConfigSchema>;
export type MasterConfigInput = z.input<typeof MasterConfigSchema>;

export const MASTER_ENV_PREFIX = 'PHOENIX_MASTER__';

/** Reads the YAML config file, applies PHOENIX_MASTER__* overrides, validates the result. */
export function loadMasterConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<MasterConfig> {
  return loadConfig(MasterConfigSchema, path, env, MASTER_ENV_PREFIX);
}
