import { z } from 'zod';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Retention and paging of the store; every value has a default, an unknown key is an error. */
export const StoreOptionsSchema = z.strictObject({
  jobRetentionMs: z.number().int().positive().default(DAY),
  returnRetentionMs: z.number().int().positive().default(DAY),
  /** A terminated minion's row (lifecycle, last highstate) is kept this long as history. */
  terminatedMinionRetentionMs: z
    .number()
    .int()
    .positive()
    .default(30 * DAY),
  /** Entries kept in each of a minion's histories (lifecycle, masters): the newest ones. */
  historyLength: z.number().int().min(1).max(1000).default(30),
  /** A master row that stops heartbeating is gone after this; readers already ignore it after deadAfter. */
  masterRetentionMs: z.number().int().positive().default(HOUR),
  /** Items per DynamoDB request when reading lists; unset means DynamoDB's own 1 MB pages. */
  pageSize: z.number().int().positive().optional(),
  /** A return whose JSON exceeds this is stored truncated; stays well under DynamoDB's 400 KB item limit. */
  maxReturnBytes: z.number().int().min(1024).max(380_000).default(350_000),
});
export type StoreOptionsInput = z.input<typeof StoreOptionsSchema>;
export type StoreOptions = z.output<typeof StoreOptionsSchema>;

/** Seconds since the epoch, as DynamoDB's TTL wants, for `ms` after `now`. */
export function expiresAt(now: number, ms: number): number {
  return Math.floor((now + ms) / 1000);
}
