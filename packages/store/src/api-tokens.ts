import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { StoreOptions } from './options.js';
import { Table } from './table.js';

/**
 * API tokens made with `phoenix tokens create`, cluster-wide. They live in the returns table in one
 * partition of their own (`jid` "api-tokens", which no 20-digit jid can be; the token id is the sort
 * key), so one query lists them all and no table is added. Only each token's SHA-256 is kept.
 */
const PARTITION = 'api-tokens';
/** A token row stays this long after it expires or is revoked (for `tokens list`), then AWS may drop it. */
const KEPT_AFTER_MS = 30 * 24 * 3600 * 1000;

const StoredTokenSchema = z.object({
  jid: z.literal(PARTITION),
  minionId: z.string(),
  name: z.string(),
  role: z.enum(['read', 'operate', 'admin']),
  sha256: z.string(),
  createdAt: z.number(),
  createdBy: z.string(),
  /** Epoch ms after which the token no longer works; absent: it works until revoked. */
  validUntil: z.number().optional(),
  revokedAt: z.number().optional(),
  revokedBy: z.string().optional(),
  expiresAt: z.number().optional(),
});
type StoredToken = z.output<typeof StoredTokenSchema>;

export interface ApiTokenRecord {
  id: string;
  name: string;
  role: 'read' | 'operate' | 'admin';
  sha256: string;
  createdAt: number;
  createdBy: string;
  validUntil?: number;
  revokedAt?: number;
  revokedBy?: string;
}

function fromStored({ jid: _partition, minionId, expiresAt: _ttl, ...rest }: StoredToken): ApiTokenRecord {
  return { id: minionId, ...rest };
}

export class ApiTokensTable {
  readonly #table: Table<StoredToken>;

  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    options: StoreOptions,
  ) {
    this.#table = new Table(doc, tableName, ['jid', 'minionId'], StoredTokenSchema, options.pageSize);
  }

  async put(token: ApiTokenRecord): Promise<void> {
    const { id, ...rest } = token;
    await this.#table.put(
      {
        jid: PARTITION,
        minionId: id,
        ...rest,
        ...(token.validUntil === undefined ? {} : { expiresAt: Math.ceil((token.validUntil + KEPT_AFTER_MS) / 1000) }),
      },
      { expression: 'attribute_not_exists(minionId)' },
    );
  }

  async list(): Promise<ApiTokenRecord[]> {
    const all: ApiTokenRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.#table.query(
        { KeyConditionExpression: 'jid = :jid', ExpressionAttributeValues: { ':jid': PARTITION } },
        { limit: 1000, ...(cursor === undefined ? {} : { cursor }) },
      );
      all.push(...page.items.map(fromStored));
      cursor = page.cursor;
    } while (cursor !== undefined);
    return all;
  }

  /** Revokes a token (ConditionFailedError when there is none with that id). */
  async revoke(id: string, by: string, now = Date.now()): Promise<ApiTokenRecord> {
    const stored = await this.#table.update(
      { jid: PARTITION, minionId: id },
      { revokedAt: now, revokedBy: by, expiresAt: Math.ceil((now + KEPT_AFTER_MS) / 1000) },
      { expression: 'attribute_exists(minionId)' },
    );
    return fromStored(stored);
  }
}
