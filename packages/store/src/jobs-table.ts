import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { expiresAt } from './options.js';
import type { StoreOptions } from './options.js';
import { JobRecordSchema } from './records.js';
import type { JobRecord, JobSummary, StoredJob } from './records.js';
import { decodeCursor, encodeCursor } from './pagination.js';
import type { Page } from './pagination.js';
import { ConditionFailedError } from './errors.js';
import { Table } from './table.js';
import type { ReadCount } from './table.js';

export type NewJob = Omit<JobRecord, 'day' | 'expiresAt' | 'summary'>;

const DAY_MS = 86_400_000;
/** Masters' clocks differ a little: a job created just after midnight elsewhere is still listed. */
const CLOCK_SKEW_MS = 60_000;

/** The UTC day ('YYYY-MM-DD') a job is listed under. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A position in the newest-first listing: the day being read and the cursor within it. */
const JobsCursorSchema = z.object({ d: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), c: z.string().optional() });

/**
 * The jobs table. Jids must sort by creation time within a day (Salt-style timestamp jids do),
 * because newest-first listing reads the byDay index backwards.
 */
export class JobsTable {
  readonly #table: Table<JobRecord>;

  constructor(
    doc: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly options: StoreOptions,
  ) {
    this.#table = new Table(doc, tableName, ['jid'], JobRecordSchema, options.pageSize);
  }

  get reads(): ReadCount {
    return this.#table.reads;
  }

  /** Stores a new job; a jid that already exists is a ConditionFailedError, never an overwrite. */
  async put(job: NewJob): Promise<JobRecord> {
    const record = {
      ...job,
      day: dayOf(job.createdAt),
      expiresAt: expiresAt(job.createdAt, this.options.jobRetentionMs),
    };
    const stored: StoredJob = { ...record, args: JSON.stringify(job.args), kwargs: JSON.stringify(job.kwargs) };
    await this.#table.put(stored, { expression: 'attribute_not_exists(jid)' });
    return record;
  }

  /**
   * Keeps what the job's listing shows of its returns on its row (one writer: the master it was
   * submitted on). A final summary is never replaced by one that is not (false then, and for a
   * job that is not in the table).
   */
  async recordSummary(jid: string, summary: JobSummary): Promise<boolean> {
    try {
      await this.#table.update(
        { jid },
        { summary },
        summary.final === true
          ? { expression: 'attribute_exists(jid)' }
          : {
              expression: 'attribute_exists(jid) AND attribute_not_exists(#s.#f)',
              names: { '#s': 'summary', '#f': 'final' },
            },
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionFailedError) return false;
      throw err;
    }
  }

  get(jid: string): Promise<JobRecord | undefined> {
    return this.#table.get({ jid });
  }

  /**
   * Every job created at `fromMs` or later (to `now` and a little beyond, for other masters'
   * clocks), oldest first: what a master may still owe a minion that connects now. Bounded by
   * `limit`; the newest are kept when there are more.
   */
  async listSince(
    fromMs: number,
    { limit = 1_000, now = Date.now() }: { limit?: number; now?: number } = {},
  ): Promise<JobRecord[]> {
    // A jid is its creation time to the microsecond: `from` as a jid bounds the sort key.
    const from = new Date(fromMs).toISOString().replace(/\D/g, '').slice(0, 17) + '000';
    const items: JobRecord[] = [];
    for (let day = dayOf(now + CLOCK_SKEW_MS); day >= dayOf(fromMs); day = dayOf(Date.parse(day) - DAY_MS)) {
      let cursor: string | undefined;
      do {
        const page = await this.#table.query(
          {
            IndexName: 'byDay',
            KeyConditionExpression: '#day = :day AND jid >= :from',
            ExpressionAttributeNames: { '#day': 'day' },
            ExpressionAttributeValues: { ':day': day, ':from': from },
            ScanIndexForward: false,
          },
          { limit: limit - items.length, cursor },
        );
        items.push(...page.items);
        cursor = page.cursor;
      } while (cursor !== undefined && items.length < limit);
      if (items.length >= limit) break;
    }
    return items.reverse();
  }

  /** Newest first, across the days still within retention. */
  async listRecent({
    limit = 50,
    cursor,
    now = Date.now(),
  }: { limit?: number; cursor?: string; now?: number } = {}): Promise<Page<JobRecord>> {
    const oldest = dayOf(now - this.options.jobRetentionMs);
    let position = cursor === undefined ? { d: dayOf(now + CLOCK_SKEW_MS) } : decodeCursor(JobsCursorSchema, cursor);
    const items: JobRecord[] = [];
    while (items.length < limit && position.d >= oldest) {
      const page = await this.#table.query(
        {
          IndexName: 'byDay',
          KeyConditionExpression: '#day = :day',
          ExpressionAttributeNames: { '#day': 'day' },
          ExpressionAttributeValues: { ':day': position.d },
          ScanIndexForward: false,
        },
        { limit: limit - items.length, cursor: position.c },
      );
      items.push(...page.items);
      position =
        page.cursor === undefined ? { d: dayOf(Date.parse(position.d) - DAY_MS) } : { ...position, c: page.cursor };
    }
    return position.d >= oldest ? { items, cursor: encodeCursor(position) } : { items };
  }
}
