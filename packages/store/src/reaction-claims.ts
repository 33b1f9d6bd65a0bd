import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { ConditionFailedError } from './errors.js';
import { expiresAt } from './options.js';
import type { StoreOptions } from './options.js';
import { Table } from './table.js';

/**
 * The item that claims one reaction: one rule's answer to one cluster event. Every master that
 * hears the event tries the claim; the first conditional write wins, so each event is reacted to
 * once in the cluster (where Salt's reactor fires once per master). It lives in the jobs table
 * under a key no jid can take and without `day`, so no listing sees it; it expires with the jobs.
 */
export function reactionClaimKey(eventId: string, rule: string): string {
  return `reaction#${eventId}#${rule}`;
}

const ClaimSchema = z.object({
  jid: z.string(),
  eventId: z.string(),
  rule: z.string(),
  tag: z.string(),
  claimedBy: z.string(),
  claimedAt: z.number(),
  expiresAt: z.number(),
});
export type ReactionClaim = z.output<typeof ClaimSchema>;

export class ReactionClaims {
  readonly #table: Table<ReactionClaim>;

  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly options: StoreOptions,
  ) {
    this.#table = new Table(doc, tableName, ['jid'], ClaimSchema, options.pageSize);
  }

  /** True when this call claimed the reaction, false when a master (this one included) already had. */
  async claim(eventId: string, rule: string, tag: string, masterId: string, now = Date.now()): Promise<boolean> {
    try {
      await this.#table.put(
        {
          jid: reactionClaimKey(eventId, rule),
          eventId,
          rule,
          tag,
          claimedBy: masterId,
          claimedAt: now,
          expiresAt: expiresAt(now, this.options.jobRetentionMs),
        },
        { expression: 'attribute_not_exists(jid)' },
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }

  get(eventId: string, rule: string): Promise<ReactionClaim | undefined> {
    return this.#table.get({ jid: reactionClaimKey(eventId, rule) });
  }
}
