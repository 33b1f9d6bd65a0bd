import { resolveApi, request } from '../api-client.js';
import { parseCommand } from '../args.js';
import { CliError, CliErrorCodes } from '../errors.js';
import { emit, outputFormat } from '../output.js';
import { USAGES } from '../usage.js';

interface TokenInfo {
  id: string;
  name: string;
  role: string;
  createdAt: number;
  createdBy: string;
  validUntil?: number;
  state: string;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function parseTtl(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)([smhd])$/.exec(value);
  if (match === null)
    throw new CliError(CliErrorCodes.USAGE, `--ttl must be a number and s, m, h or d (30d), not "${value}"`);
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}

/** `phoenix tokens`: API tokens kept cluster-wide (hashed), made, listed and revoked by an admin. */
export async function tokens(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommand('tokens', argv, {
    role: { type: 'string' },
    ttl: { type: 'string' },
    out: { type: 'string' },
    api: { type: 'string' },
    token: { type: 'string' },
  });
  const out = outputFormat(values.out);
  const [action, arg, ...extra] = positionals;
  const usage = (): CliError => new CliError(CliErrorCodes.USAGE, `usage: ${USAGES.tokens}`);
  if (extra.length > 0) throw usage();
  if (action === 'create') {
    if (arg === undefined || values.role === undefined) throw usage();
    const ttlSeconds = parseTtl(values.ttl);
    const api = await resolveApi(values);
    const made = await request<{ token: string; info: TokenInfo }>(api, 'POST', '/tokens', {
      name: arg,
      role: values.role,
      ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    });
    emit(
      out,
      made,
      () =>
        `${made.token}\n(token ${made.info.id} "${made.info.name}", ${made.info.role}${until(made.info)}: shown this once)`,
    );
    return 0;
  }
  if (action === 'list' && arg === undefined) {
    const api = await resolveApi(values);
    const { tokens: list } = await request<{ tokens: TokenInfo[] }>(api, 'GET', '/tokens');
    emit(out, { tokens: list }, () =>
      list.length === 0
        ? 'No tokens made with phoenix tokens create.'
        : list
            .map((t) => `${t.id}  ${t.name.padEnd(20)} ${t.role.padEnd(8)} ${t.state.padEnd(8)}${until(t)}`)
            .join('\n'),
    );
    return 0;
  }
  if (action === 'revoke' && arg !== undefined) {
    const api = await resolveApi(values);
    const { info } = await request<{ info: TokenInfo }>(api, 'POST', `/tokens/${encodeURIComponent(arg)}/revoke`, {});
    emit(out, { info }, () => `token ${info.id} "${info.name}" revoked`);
    return 0;
  }
  throw usage();
}

function until(token: TokenInfo): string {
  return token.validUntil === undefined ? '' : ` until ${new Date(token.validUntil).toISOString()}`;
}
