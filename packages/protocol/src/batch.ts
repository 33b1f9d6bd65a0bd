import { PhoenixError, ProtocolErrors } from './errors.js';

/**
 * Batch runs as Salt's `-b` and AWS SSM's MaxConcurrency/MaxErrors read them: a size is a count
 * (`10`) or a share of the targeted minions (`25%`); a failure limit likewise. Parsed where the
 * operator typed them (the CLI, the API, an orchestration's `batch:`), so a bad one is refused
 * before anything runs.
 */

/** `N` minions, or `N%` of the targeted ones. */
export type Amount = { readonly count: number } | { readonly percent: number };

const COUNT = /^[0-9]{1,7}$/;
const PERCENT = /^([0-9]{1,3}(?:\.[0-9]{1,3})?)%$/;

function parseAmount(text: string, what: string, allowZero: boolean): Amount {
  const value = text.trim();
  const percent = PERCENT.exec(value);
  if (percent !== null) {
    const share = Number(percent[1]);
    if ((share > 0 || (allowZero && share === 0)) && share <= 100) return { percent: share };
    throw new PhoenixError(
      ProtocolErrors.PHX_BATCH_INVALID,
      `${what} ${JSON.stringify(text)} is not a share of the minions: ${allowZero ? 'from 0%' : 'above 0%'} to 100%`,
      { details: { [what]: text } },
    );
  }
  if (COUNT.test(value)) {
    const count = Number(value);
    if (count > 0 || allowZero) return { count };
  }
  throw new PhoenixError(
    ProtocolErrors.PHX_BATCH_INVALID,
    `${what} ${JSON.stringify(text)} must be ${allowZero ? 'a whole number from 0' : 'a whole number from 1'} or a share such as 25%`,
    { details: { [what]: text } },
  );
}

/** `-b N|N%`: at least one minion, at most all of them (`0`, `150%` and `abc` are refused). */
export function parseBatchSize(text: string): Amount {
  return parseAmount(text, 'batch size', false);
}

/** `--max-failures N|N%`: how many failures a rollout tolerates; 0 stops it at the first. */
export function parseFailureLimit(text: string): Amount {
  return parseAmount(text, 'max failures', true);
}

/** An amount as typed: `10` or `25%`. */
export function formatAmount(amount: Amount): string {
  return 'count' in amount ? String(amount.count) : `${amount.percent}%`;
}

/**
 * The window of a batch of `total` minions, as Salt's get_bnum: a share below one minion is one
 * minion, otherwise it is rounded down; never more than the total.
 */
export function batchWindow(size: Amount, total: number): number {
  if ('count' in size) return Math.max(1, Math.min(size.count, total));
  const share = (size.percent / 100) * total;
  return Math.max(1, Math.min(total, share < 1 ? Math.ceil(share) : Math.floor(share)));
}

/** The failures a rollout of `total` minions tolerates, as SSM's MaxErrors: a share rounds down. */
export function failureAllowance(limit: Amount, total: number): number {
  if ('count' in limit) return limit.count;
  return Math.floor((limit.percent / 100) * total);
}
