import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { AwsSettingsSchema, writeFileAtomic } from '@phoenix/protocol';
import { connectionFilePath, processAlive, safeJson } from './home.js';
import { PhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from './errors.js';

/**
 * The local cluster's connection file: written by `phoenix up` once everything listens, removed
 * when it stops. Every other command finds the cluster through it.
 */
export const ConnectionFileSchema = z.strictObject({
  version: z.literal(1),
  pid: z.int().positive(),
  startedAt: z.string(),
  aws: AwsSettingsSchema,
  tablePrefix: z.string(),
  groups: z.strictObject({ masters: z.string(), minions: z.string() }),
  lifecycle: z.strictObject({
    queueUrl: z.string(),
    queueArn: z.string(),
    deadLetterQueueUrl: z.string(),
    deadLetterQueueArn: z.string(),
    topicArns: z.record(z.string(), z.string()),
  }),
  identityCertificate: z.string().optional(),
  /** The local masters' API URLs, and the admin token the local cluster was made with. */
  api: z.array(z.string()).optional(),
  token: z.string().optional(),
  /** What `phoenix up` saw of its first minions before it reported ready. */
  minions: z
    .strictObject({ accepted: z.int().min(0), connected: z.int().min(0), inService: z.int().min(0) })
    .optional(),
});
export type ConnectionFile = z.output<typeof ConnectionFileSchema>;

export async function readConnectionFile(path = connectionFilePath()): Promise<ConnectionFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = ConnectionFileSchema.safeParse(safeJson(text));
  if (!parsed.success) {
    throw new PhoenixError(
      CliErrors.PHX_CLI_CONNECTION_FILE_INVALID,
      `${path} is not a Phoenix connection file (${parsed.error.issues[0]?.message ?? 'unreadable'}); remove it and run phoenix up again`,
    );
  }
  return parsed.data;
}

/** Atomic: a reader sees the old file or the new one, never half of one. */
export async function writeConnectionFile(file: ConnectionFile, path = connectionFilePath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Rewritten whenever the masters change, and only good while this cluster runs: no flush to disk.
  await writeFileAtomic(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, durable: false });
}

export async function removeConnectionFile(path = connectionFilePath()): Promise<void> {
  await rm(path, { force: true });
}

export async function requireLocalCluster(): Promise<ConnectionFile> {
  const file = await readConnectionFile();
  if (file === undefined || !processAlive(file.pid)) {
    throw new PhoenixError(
      CliErrors.PHX_CLI_NO_LOCAL_CLUSTER,
      'no local cluster is running; start one with phoenix up',
    );
  }
  return file;
}
