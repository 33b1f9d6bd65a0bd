import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { ConditionFailedError, type ApiTokenRecord, type ApiTokensTable } from '@phoenix/store';
import { hashToken, type Caller } from './auth.js';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

/** `phx_<12 hex id>_<43 base64url characters>`: the id is public (it names the token), the rest is 256 random bits. */
const TOKEN = /^phx_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;
/** A token unknown here makes this master read the table again, at most this often. */
const REFRESH_ON_MISS_MS = 1_000;

/**
 * The cluster's tokens made with `phoenix tokens create`, as this master caches them: read from
 * the table at start, every `refreshMs`, when a peer says one was made or revoked, and (at most
 * once a second) when an unknown token id is presented. Checking a token reads no table otherwise.
 */
export class TokenRegistry {
  #byId = new Map<string, ApiTokenRecord>();
  #lastRefresh = 0;
  #refreshing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly table: ApiTokensTable,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(refreshMs: number): Promise<void> {
    this.#timer = setInterval(() => void this.refresh(), refreshMs);
    this.#timer.unref();
    return this.refresh();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      this.#lastRefresh = this.now();
      try {
        this.#byId = new Map((await this.table.list()).map((token) => [token.id, token]));
      } catch (err) {
        this.log.warn({ err }, 'could not read the API tokens');
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** The caller a token stands for; `expired` when it is past its time or revoked. */
  async verify(token: string): Promise<Caller | undefined> {
    const id = TOKEN.exec(token)?.[1];
    if (id === undefined) return undefined;
    if (!this.#byId.has(id) && this.now() - this.#lastRefresh >= REFRESH_ON_MISS_MS) await this.refresh();
    const record = this.#byId.get(id);
    if (record === undefined) return undefined;
    const presented = Buffer.from(hashToken(token), 'hex');
    if (!timingSafeEqual(presented, Buffer.from(record.sha256, 'hex'))) return undefined;
    const expired =
      record.revokedAt !== undefined || (record.validUntil !== undefined && record.validUntil <= this.now());
    return { name: record.name, role: record.role, ...(expired ? { expired } : {}) };
  }

  async create(input: { name: string; role: Caller['role']; ttlSeconds?: number; by: string }) {
    const id = randomBytes(6).toString('hex');
    const token = `phx_${id}_${randomBytes(32).toString('base64url')}`;
    const now = this.now();
    const record: ApiTokenRecord = {
      id,
      name: input.name,
      role: input.role,
      sha256: hashToken(token),
      createdAt: now,
      createdBy: input.by,
      ...(input.ttlSeconds === undefined ? {} : { validUntil: now + input.ttlSeconds * 1000 }),
    };
    await this.table.put(record);
    this.#byId.set(id, record);
    return { token, record };
  }

  async revoke(id: string, by: string): Promise<ApiTokenRecord> {
    try {
      const record = await this.table.revoke(id, by, this.now());
      this.#byId.set(id, record);
      return record;
    } catch (err) {
      if (err instanceof ConditionFailedError)
        throw new PhoenixError(MasterErrors.PHX_API_NOT_FOUND, `no API token ${id}`);
      throw err;
    }
  }

  list(): Promise<ApiTokenRecord[]> {
    return this.table.list();
  }
}
