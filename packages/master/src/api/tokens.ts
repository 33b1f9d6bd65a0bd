import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ConditionFailedError, type ApiTokenRecord, type ApiTokensTable } from '@phoenix/store';
import { MasterError, MasterErrorCodes } from '../errors.js';
import { hashToken, roleAtLeast, type Caller } from './auth.js';
import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';

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
      if (err instanceof ConditionFailedError) throw new MasterError(MasterErrorCodes.NOT_FOUND, `no API token ${id}`);
      throw err;
    }
  }

  list(): Promise<ApiTokenRecord[]> {
    return this.table.list();
  }
}

const TokenView = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(['read', 'operate', 'admin']),
  createdAt: z.number(),
  createdBy: z.string(),
  validUntil: z.number().optional(),
  revokedAt: z.number().optional(),
  revokedBy: z.string().optional(),
  state: z.enum(['active', 'expired', 'revoked']),
});

function view(record: ApiTokenRecord, now: number): z.output<typeof TokenView> {
  const { sha256: _hash, ...rest } = record;
  const state =
    record.revokedAt !== undefined
      ? 'revoked'
      : record.validUntil !== undefined && record.validUntil <= now
        ? 'expired'
        : 'active';
  return { ...rest, state };
}

/** Tokens: made, listed and revoked by admins (audited); the token itself is shown once, at creation. */
export function tokenRoutes(deps: ApiContext, tokens: TokenRegistry): AnyRoute[] {
  return [
    route({
      method: 'POST',
      url: '/tokens',
      summary: 'make an API token (admin, audited); the answer holds the token, shown this once',
      tag: 'tokens',
      role: 'admin',
      status: 201,
      body: z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, '1-64 letters, digits, ".", "_", "@" or "-"'),
        role: z.enum(['read', 'operate', 'admin']),
        /** Without it the token works until revoked. */
        ttlSeconds: z
          .int()
          .min(1)
          .max(10 * 365 * 86_400)
          .optional(),
      }),
      response: z.object({ token: z.string(), info: TokenView }),
      handler: async ({ body }, request) => {
        const by = request.caller?.name ?? 'unknown';
        if (!roleAtLeast(request.caller, body.role)) {
          throw new MasterError(
            MasterErrorCodes.FORBIDDEN,
            `a ${request.caller?.role} token cannot make a ${body.role} token`,
          );
        }
        const { token, record } = await tokens.create({ ...body, by });
        deps.log.info(
          { audit: 'token', action: 'create', id: record.id, name: record.name, role: record.role, by },
          'token made',
        );
        deps.events.emit('token/created', { id: record.id, name: record.name, role: record.role, by });
        return { token, info: view(record, Date.now()) };
      },
    }),
    route({
      method: 'GET',
      url: '/tokens',
      summary: 'the API tokens made with phoenix tokens create (never the tokens themselves)',
      tag: 'tokens',
      role: 'admin',
      response: z.object({ tokens: z.array(TokenView) }),
      handler: async () => {
        const now = Date.now();
        const all = await tokens.list();
        return { tokens: all.sort((a, b) => a.createdAt - b.createdAt).map((record) => view(record, now)) };
      },
    }),
    route({
      method: 'POST',
      url: '/tokens/:id/revoke',
      summary: 'revoke an API token at once, on every master (admin, audited)',
      tag: 'tokens',
      role: 'admin',
      params: z.strictObject({ id: z.string().regex(/^[0-9a-f]{12}$/, 'a token id (12 hex digits)') }),
      body: z.strictObject({}),
      response: z.object({ info: TokenView }),
      handler: async ({ params }, request) => {
        const by = request.caller?.name ?? 'unknown';
        const record = await tokens.revoke(params.id, by);
        deps.log.info({ audit: 'token', action: 'revoke', id: record.id, name: record.name, by }, 'token revoked');
        deps.events.emit('token/revoked', { id: record.id, name: record.name, by });
        return { info: view(record, Date.now()) };
      },
    }),
  ];
}
