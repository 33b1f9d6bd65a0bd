import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { ConditionFailedError } from './errors.js';
import { expiresAt } from './options.js';
import type { StoreOptions } from './options.js';
import { Table } from './table.js';

/**
 * The item that claims one tick of one schedule entry. It lives in the jobs table under a key no
 * jid can take (jids are 20 digits) and without the `day` attribute, so the byDay index — every
 * job listing — never sees it; it expires with the jobs.
 */
export function scheduleClaimKey(name: string, tickAt: number): string {
  return `schedule#${name}#${new Date(tickAt).toISOString()}`;
}

const ClaimSchema = z.object({
  jid: z.string(),
  schedule: z.string(),
  tickAt: z.number(),
  claimedBy: z.string(),
  claimedAt: z.number(),
  expiresAt: z.number(),
});
export type ScheduleClaim = z.output<typeof ClaimSchema>;

/** Claims of scheduled ticks: every master's cron fires, the first conditional write wins. */
export class ScheduleClaims {
  readonly #table: Table<ScheduleClaim>;

  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly options: StoreOptions,
  ) {
    this.#table = new Table(doc, tableName, ['jid'], ClaimSchema, options.pageSize);
  }

  /**
   * Claims the tick for `masterId`: true when this call wrote the claim, false when another master
   * (or an earlier call) already holds it. A claim is never taken over: a tick fires at most once.
   */
  async claim(name: string, tickAt: number, masterId: string, now = Date.now()): Promise<boolean> {
    const claim: ScheduleClaim = {
      jid: scheduleClaimKey(name, tickAt),
      schedule: name,
      tickAt,
      claimedBy: masterId,
      claimedAt: now,
      expiresAt: expiresAt(tickAt, this.options.jobRetentionMs),
    };
    try {
      await this.#table.put(claim, { expression: 'attribute_not_exists(jid)' });
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }

  /** The claim of a tick, if any master made it. */
  get(name: string, tickAt: number): Promise<ScheduleClaim | undefined> {
    return this.#table.get({ jid: scheduleClaimKey(name, tickAt) });
  }
}
