import { z } from 'zod';
import { CurveKeySchema, loadConfig } from '@phoenix/protocol';
import { MasterAddressSchema } from './connection/master-address.js';

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
  heartbeatMs: z.int().min(50).max(60_000).default(1_000),
  missedHeartbeats: z.int().min(2).max(100).default(3),
  enrolRetryMs: z.int().min(50).max(3_600_000).default(10_000),
  backoffMaxMs: z.int().min(100).max(600_000).default(10_000),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});
export type MinionConfig = z.output<typeof MinionConfigSchema>;
export type MinionConfigInput = z.input<typeof MinionConfigSchema>;

export const MINION_ENV_PREFIX = 'PHOENIX_MINION__';

export function loadMinionConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<MinionConfig> {
  return loadConfig(MinionConfigSchema, path, env, MINION_ENV_PREFIX);
}
