import { z } from 'zod';
import { AwsSettingsSchema, CurveKeySchema, loadConfig } from '@phoenix/protocol';
import { MasterAddressSchema } from './connection/master-address.js';
import { foldSaltKeys } from './salt-config.js';
import { AwsProfileSchema } from './state/functions/aws-profile.js';
import { STATE_OUTPUT_MODES } from '@phoenix/state/highstate-output';

export const MinionConfigSchema = z.strictObject({
  /** The minion id; else the EC2 instance id (IMDSv2), else the host name. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$/)
    .optional(),
  /** Masters in failover order (the master-list manager keeps this list). */
  masters: z.array(MasterAddressSchema).default([]),
  /** The cluster's CURVE public key: the only key a master may answer with (pinned). */
  clusterPublicKey: CurveKeySchema,
  /** Holds `minion.pub` and `minion.key`, created on first start with mode 0600. */
  pkiDir: z.string().min(1),
  /** Custom grains and other state the minion keeps. */
  cacheDir: z.string().min(1),
  /** The auto-scaling group, for the naming-convention grains. */
  autoscalingGroup: z.string().min(1).optional(),
  instanceId: z
    .string()
    .regex(/^i-[0-9a-f]{8,17}$/)
    .optional(),
  /** An EC2 identity document and signature, presented at enrolment for attested acceptance. */
  identityDocument: z.strictObject({ document: z.string(), signature: z.string() }).optional(),
  imds: z
    .strictObject({
      enabled: z.boolean().default(true),
      endpoint: z.url().default('http://169.254.169.254'),
      timeoutMs: z.int().min(10).max(10_000).default(1_000),
    })
    .prefault({}),
  /** The master heartbeat interval assumed until the master announces its own. */
  heartbeatMs: z.int().min(50).max(60_000).default(1_000),
  /** A master silent for this many of its heartbeats is dead: the minion fails over. */
  missedHeartbeats: z.int().min(2).max(100).default(3),
  /** How often the minion tells its master it is alive; keep it well under the master's minionSilenceMs. */
  aliveIntervalMs: z.int().min(50).max(600_000).default(10_000),
  enrolRetryMs: z.int().min(50).max(3_600_000).default(10_000),
  backoffMaxMs: z.int().min(100).max(600_000).default(10_000),
  /**
   * Salt's `file_client`: `remote` gets states from the connected master (cached by content hash,
   * served from the cache when no master answers) and pillar rendered by the master; `local` reads
   * `fileRoots` and `pillarRoots` here, as a masterless minion does.
   */
  fileClient: z.enum(['remote', 'local']).default('remote'),
  /** Where a `local` file client reads states and pillar (Salt's file_roots / pillar_roots), by environment. */
  fileRoots: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.array(z.string().min(1)).min(1))
    .default({ base: ['/srv/salt'] }),
  pillarRoots: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.array(z.string().min(1)).min(1))
    .default({ base: ['/srv/pillar'] }),
  state: z
    .strictObject({
      /** The file system states manage: '/' on a host; a directory when building an image or a chroot. */
      root: z.string().min(1).default('/'),
      failhard: z.boolean().default(false),
      renderTimeoutMs: z.int().min(1_000).max(3_600_000).default(300_000),
      jinjaTrimBlocks: z.boolean().default(false),
      jinjaLstripBlocks: z.boolean().default(false),
      /** Salt's `state_output` for `phoenix call` (full, terse, mixed, changes; `_id` forms). */
      output: z.enum(STATE_OUTPUT_MODES).default('changes'),
      /** Salt's `state_verbose`: false leaves successful states without changes out of the output. */
      verbose: z.boolean().default(true),
      /** Salt's `state_top`: the top file in the base file roots. */
      top: z.string().min(1).default('top.sls'),
      /** Salt's `renderer`: SLS files are Jinja, then YAML (the only pipe Phoenix has). */
      renderer: z.literal('jinja|yaml').default('jinja|yaml'),
      /** Salt's `test`: state runs predict unless a run says test=False. */
      test: z.boolean().default(false),
      /** A remote file or pillar request fails when the master has not answered within this. */
      masterRequestTimeoutMs: z.int().min(1_000).max(3_600_000).default(120_000),
    })
    .prefault({}),
  failover: z
    .strictObject({
      /**
       * A better master must be listed, without failing this minion, this long before the minion
       * moves back to it; a master that failed is passed over this long while another answers.
       */
      returnAfterMs: z.int().min(0).max(3_600_000).default(10_000),
      /** Moves to a better master are spread at random over this window. */
      moveSpreadMs: z.int().min(0).max(3_600_000).default(5_000),
      /**
       * After losing a connected master, the first try of the next one waits a random share of
       * this: the thousands of minions a dead master leaves do not reach the next one in the same
       * instant (a failure to connect, with no connection lost, tries the next master at once).
       */
      reconnectSpreadMs: z.int().min(0).max(60_000).default(500),
    })
    .prefault({}),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Salt's static grains in the minion config: merged over the core grains. */
  grains: z.record(z.string().min(1), z.json()).default({}),
  /** Where the masters table is read (the master-list manager's fallback); unset means pushes only. */
  aws: AwsSettingsSchema.optional(),
  /**
   * Named AWS profiles for the boto_* states (`profile: NAME`), as Salt reads them from the minion
   * config: `region`, `keyid`, `key`, and Phoenix's `endpoint`/`endpoints`. Pillar may name more.
   */
  awsProfiles: z.record(z.string().min(1), AwsProfileSchema).default({}),
  /** DynamoDB table name prefix: the masters table is `<prefix>-masters`. */
  tablePrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,200}$/)
    .default('phoenix'),
  /** The master-list manager: keeps `masters` (or, in Salt mode, a salt-minion drop-in) in failover order. */
  masterList: z
    .strictObject({
      /** Masters-table reads while no master is connected (±20% jitter); none while connected. */
      pollMs: z.int().min(1_000).max(86_400_000).default(60_000),
      /** A master whose heartbeat is older than this is left out (the masters' own `deadAfterMs`). */
      deadAfterMs: z.int().min(500).max(3_600_000).default(6_000),
      /** After start or losing its master, how long the connection may take before the table is read. */
      connectGraceMs: z.int().min(0).max(600_000).default(5_000),
      /** `phoenix` rewrites this file's `masters`; `salt` writes a drop-in for a plain salt-minion. */
      mode: z.enum(['phoenix', 'salt']).default('phoenix'),
      salt: z
        .strictObject({
          /** The drop-in the manager owns the master keys of (other keys in it are kept). */
          configPath: z.string().min(1).default('/etc/salt/minion.d/phoenix-masters.conf'),
          /** Run through /bin/sh once per real change of the drop-in. */
          restartCommand: z.string().min(1).default('systemctl restart salt-minion'),
          restartTimeoutMs: z.int().min(100).max(600_000).default(60_000),
          /** The salt-masters' ret port (`master_port`), when it is not Salt's default 4506. */
          port: z.int().min(1).max(65535).optional(),
          /** Salt's `master_alive_interval`: without it a failover minion never notices a dead master. */
          masterAliveInterval: z.int().min(1).max(86_400).default(30),
        })
        .prefault({}),
    })
    .prefault({}),
});
export type MinionConfig = z.output<typeof MinionConfigSchema>;
export type MinionConfigInput = z.input<typeof MinionConfigSchema>;

export const MINION_ENV_PREFIX = 'PHOENIX_MINION__';

/**
 * The minion's config file, with Salt's names for the keys Phoenix has (see salt-config.ts): a
 * Salt minion config works as Phoenix's. Ignored Salt keys are told to `warn` (default: stderr).
 */
export function loadMinionConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  options: {
    warn?: (message: string) => void;
    /** Top-level keys used where neither the file nor the environment gives them. */
    fallback?: Readonly<Record<string, unknown>>;
  } = {},
): Promise<MinionConfig> {
  const warn = options.warn ?? ((message: string) => process.emitWarning(message));
  const schema = z.preprocess((raw) => {
    const folded = foldSaltKeys(raw, path ?? 'the environment', warn);
    return folded !== null && typeof folded === 'object' && !Array.isArray(folded)
      ? { ...options.fallback, ...folded }
      : folded;
  }, MinionConfigSchema);
  return loadConfig(schema, path, env, MINION_ENV_PREFIX);
}
