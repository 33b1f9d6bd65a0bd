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
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Bearer-token authentication: tokens are kept as SHA-256 hashes and compared in constant time.
 * Returns a pre-handler that lets a route through only for callers of at least `role`. Failed
 * authentications count against the client address; past the limit it gets 429 for a while.
 */
export function authenticator(
  tokens: readonly ApiToken[],
  failures: AuthFailureLimiter,
  onFailure: (reason: 'missing' | 'invalid' | 'limited') => void = () => undefined,
) {
  const known = tokens.map((token) => ({ ...token, hash: Buffer.from(token.sha256, 'hex') }));
  const identify = (request: FastifyRequest): Caller => {
    const retryAfterMs = failures.retryAfterMs(request.ip);
    if (retryAfterMs > 0) {
      onFailure('limited');
      throw new PhoenixError(
        MasterErrors.PHX_API_RATE_LIMITED,
        `too many failed authentications from ${request.ip}; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
        { details: { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) } },
      );
    }
    const header = request.headers.authorization ?? '';
    const match = /^Bearer ([\x21-\x7e]{8,512})$/.exec(header);
    if (match === null) {
      failures.fail(request.ip);
      onFailure('missing');
      throw new PhoenixError(
        MasterErrors.PHX_API_UNAUTHORIZED,
        'a bearer token is required (Authorization: Bearer TOKEN)',
      );
    }
    const hash = Buffer.from(hashToken(match[1] as string), 'hex');
    const found = known.find((token) => timingSafeEqual(token.hash, hash));
    if (found === undefined) {
      failures.fail(request.ip);
      onFailure('invalid');
      throw new PhoenixError(MasterErrors.PHX_API_UNAUTHORIZED, 'the bearer token is not valid');
    }
    return { name: found.name, role: found.role };
  };
  return (role: Role) =>
    async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
      const caller = identify(request);
      if (RANK[caller.role] < RANK[role]) {
        throw new PhoenixError(
          MasterErrors.PHX_API_FORBIDDEN,
          `this needs the ${role} role; token "${caller.name}" has ${caller.role}`,
        );
      }
      request.caller = caller;
    };
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}
