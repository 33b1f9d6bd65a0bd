import type { z } from 'zod';
import { PhoenixError } from '@phoenix/protocol';
import { StoreErrors } from './errors.js';

/** One page of a list; pass `cursor` back to get the next one. No cursor: the list is complete. */
export interface Page<T> {
  readonly items: T[];
  readonly cursor?: string;
}

export interface PageRequest {
  /** Most items to return; unset returns every item. */
  readonly limit?: number;
  readonly cursor?: string;
}

export type StartKey = Record<string, unknown>;

export interface RawPage {
  Items?: Record<string, unknown>[];
  LastEvaluatedKey?: StartKey;
}

/**
 * Follows LastEvaluatedKey until `want` items are read or the list ends. DynamoDB may return fewer
 * items than asked (1 MB pages), so one request is never assumed to be enough.
 */
export async function readPages(
  send: (startKey: StartKey | undefined, limit: number | undefined) => Promise<RawPage>,
  want: number | undefined,
  startKey: StartKey | undefined,
  pageSize: number | undefined,
): Promise<{ items: Record<string, unknown>[]; lastKey?: StartKey }> {
  const items: Record<string, unknown>[] = [];
  let key = startKey;
  while (want === undefined || items.length < want) {
    const remaining = want === undefined ? undefined : want - items.length;
    const limit = remaining === undefined ? pageSize : Math.min(remaining, pageSize ?? remaining);
    const page = await send(key, limit);
    items.push(...(page.Items ?? []));
    key = page.LastEvaluatedKey;
    if (key === undefined) break;
  }
  return key === undefined ? { items } : { items, lastKey: key };
}

/** Cursors are opaque to callers: base64url JSON that is validated again when it comes back. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<S extends z.ZodType>(schema: S, cursor: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new PhoenixError(
    StoreErrors.PHX_STORE_BAD_CURSOR,
    'cursor is not one this list returned; start the list again',
    {
      details: { cursor },
    },
  );
}
