import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiToken } from '../config.js';
import type { AuthFailureLimiter } from './auth-failures.js';
import { PhoenixError } from '@phoenix/protocol';
import { MasterErrors } from '../errors.js';

export type Role = ApiToken['role'];
const RANK: Record<Role, number> = { read: 0, operate: 1, admin: 2 };

export interface Caller {
  name: string;
  role: Role;
  /** Set when the token is known but past its expiry or revoked: refused like an unknown one. */
  expired?: boolean;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function roleAtLeast(caller: Pick<Caller, 'role'> | undefined, role: Role): boolean {
  return caller !== undefined && RANK[caller.role] >= RANK[role];
}

/** What failures are counted against besides the address: a token's public part, never its secret. */
export function tokenPrefix(token: string): string {
  // `phx_<id>_<secret>` tokens (phoenix tokens create) are limited by their id; any other by 8 characters.
  const id = /^phx_[0-9a-f]{12}_/.exec(token)?.[0];
  return id ?? token.slice(0, 8);
}

/**
 * Bearer-token authentication: tokens are kept as SHA-256 hashes and compared in constant time.
 * Returns a pre-handler that lets a route through only for callers of at least `role`.
 *
 * The token is checked first (one hash, no I/O): a valid token is never refused because of other
 * people's failures from the same address. Failed authentications count against the client
 * address and against the presented token's prefix; past the limit either way, further failures
 * get 429 until the window ends. Guessing stays futile because tokens are long and random, not
 * because of the limit, which bounds what failures cost the master and its log.
 */
export function authenticator(
  verify: (token: string) => Caller | undefined | Promise<Caller | undefined>,
  failures: AuthFailureLimiter,
  onFailure: (reason: 'missing' | 'invalid' | 'limited' | 'expired') => void = () => undefined,
) {
  const identify = async (request: FastifyRequest): Promise<Caller> => {
    const header = request.headers.authorization ?? '';
    const token = /^Bearer ([\x21-\x7e]{8,512})$/.exec(header)?.[1];
    const found = token === undefined ? undefined : await verify(token);
    if (found !== undefined && found.expired !== true) return found;
    const keys = [`address ${request.ip}`, ...(token === undefined ? [] : [`token ${tokenPrefix(token)}`])];
    const retryAfterMs = Math.max(...keys.map((key) => failures.retryAfterMs(key)));
    if (retryAfterMs > 0) {
      onFailure('limited');
      throw new PhoenixError(
        MasterErrors.PHX_API_RATE_LIMITED,
        `too many failed authentications from ${request.ip} or with this token; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
        { details: { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) } },
      );
    }
    for (const key of keys) failures.fail(key);
    if (token === undefined) {
      onFailure('missing');
      throw new PhoenixError(
        MasterErrors.PHX_API_UNAUTHORIZED,
        'a bearer token is required (Authorization: Bearer TOKEN)',
      );
    }
    onFailure(found === undefined ? 'invalid' : 'expired');
    throw new PhoenixError(
      MasterErrors.PHX_API_UNAUTHORIZED,
      found === undefined
        ? 'the bearer token is not valid'
        : `the bearer token "${found.name}" has expired or was revoked`,
    );
  };
  return (role: Role) =>
    async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
      const caller = await identify(request);
      if (RANK[caller.role] < RANK[role]) {
        throw new PhoenixError(
          MasterErrors.PHX_API_FORBIDDEN,
          `this needs the ${role} role; token "${caller.name}" has ${caller.role}`,
        );
      }
      request.caller = { name: caller.name, role: caller.role };
    };
}

/** The tokens of the master's config, checked by their SHA-256 in constant time. */
export function staticTokens(tokens: readonly ApiToken[], now: () => number = Date.now) {
  const known = tokens.map((token) => ({ ...token, hash: Buffer.from(token.sha256, 'hex') }));
  return (token: string): Caller | undefined => {
    const hash = Buffer.from(hashToken(token), 'hex');
    const found = known.find((candidate) => timingSafeEqual(candidate.hash, hash));
    if (found === undefined) return undefined;
    const expired = found.expires !== undefined && Date.parse(found.expires) <= now();
    return { name: found.name, role: found.role, ...(expired ? { expired } : {}) };
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}
