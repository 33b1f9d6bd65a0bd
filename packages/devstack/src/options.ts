import { z } from 'zod';
import { parseConfig } from '@phoenix/protocol';

const Port = z.int().min(0).max(65535);

const GroupOptions = z
  .strictObject({
    /** Named `service-service_instance-region`, the convention Phoenix derives grains from. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'letters, digits, ".", "_" and "-" only'),
    desired: z.int().min(0).max(10_000),
    min: z.int().min(0).max(10_000).default(0),
    max: z.int().min(0).max(10_000).default(100),
    /** A warm pool: instances launched ahead and prepared, kept stopped (or running) until needed. */
    warmPool: z
      .strictObject({
        minSize: z.int().min(0).max(1_000),
        poolState: z.enum(['Stopped', 'Running']).default('Stopped'),
        reuseOnScaleIn: z.boolean().default(false),
      })
      .optional(),
  })
  .refine((g) => g.min <= g.desired && g.desired <= g.max, { message: 'needs min <= desired <= max' });

export const DevstackOptionsSchema = z.strictObject({
  /** Loopback only: the devstack is a test cloud and must never listen on a public address. */
  host: z.enum(['127.0.0.1', 'localhost', '::1']).default('127.0.0.1'),
  ports: z
    .strictObject({
      dynamodb: Port.default(0),
      messaging: Port.default(0),
      autoscaling: Port.default(0),
      resources: Port.default(0),
    })
    .prefault({}),
  /** DynamoDB keeps its tables here across restarts; in memory when absent. */
  dataDir: z.string().min(1).optional(),
  region: z.string().min(1).default('us-east-1'),
  accountId: z
    .string()
    .regex(/^\d{12}$/, 'twelve digits')
    .default('000000000000'),
  tablePrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,200}$/, 'letters, digits, "_", "." and "-" only')
    .default('phoenix'),
  queueName: z.string().min(1).default('phoenix-lifecycle'),
  /** Receives before SQS moves a message to the dead-letter queue. */
  maxReceiveCount: z.int().min(1).max(1000).default(5),
  /**
   * How lifecycle-hook messages reach the lifecycle queue: `queue`, each hook's notification
   * target (AWS's classic route), or `eventbridge`, hooks without a target and an EventBridge rule
   * for source aws.autoscaling whose target is the queue (lifecycle actions and scaling events).
   */
  lifecycleDelivery: z.enum(['queue', 'eventbridge']).default('queue'),
  /** Seconds an instance may wait in Pending:Wait / Terminating:Wait before the hook's default result. */
  hookTimeoutSeconds: z.number().positive().max(7200).default(300),
  groups: z
    .strictObject({
      masters: GroupOptions.prefault({ name: 'phoenix-master-devstack', desired: 0 }),
      minions: GroupOptions.prefault({ name: 'demo-web-devstack', desired: 0, max: 10_000 }),
    })
    .prefault({}),
});

export type DevstackOptions = z.input<typeof DevstackOptionsSchema>;
export type ResolvedDevstackOptions = z.output<typeof DevstackOptionsSchema>;

export function resolveDevstackOptions(input: unknown, source = 'devstack options'): ResolvedDevstackOptions {
  return parseConfig(DevstackOptionsSchema, input ?? {}, source);
}
