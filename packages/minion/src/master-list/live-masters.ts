import { failoverOrder, MasterEndpointSchema, type MasterEndpoint, PhoenixError } from '@phoenix/protocol';
import { isLive, type MasterRecord } from '@phoenix/store';
import type { MasterAddress } from '../connection/master-address.js';
import { MinionErrors } from '../errors.js';

/** What a table read decided, with what it left out, for the log and `--out json`. */
export interface TableOrder {
  ordered: MasterAddress[];
  /** Rows whose heartbeat is older than deadAfter: out of the list. */
  dead: string[];
  /** Live but leaving: still usable, so at the end of the list. */
  draining: string[];
}

/**
 * A pushed list in this minion's failover order. The master pushes only live masters, so all of
 * them are ranked; one invalid entry refuses the whole push (it came from a broken or hostile peer).
 */
export function orderPushed(minionId: string, pushed: readonly unknown[]): MasterAddress[] {
  const endpoints = unique(pushed.map((entry, index) => endpoint(entry, `pushed master #${index}`)));
  // Draining masters stay usable but go after every active one, as in a table read.
  const ranked = (draining: boolean): MasterEndpoint[] =>
    failoverOrder(
      minionId,
      endpoints.filter((m) => (m.draining === true) === draining),
      (m) => m.id,
    );
  return [...ranked(false), ...ranked(true)].map(address);
}

/**
 * The masters table's rows in this minion's failover order: dead masters (heartbeat older than
 * deadAfter, whatever the row says) are left out, draining ones go after every active one. Only
 * live rows are checked: a crashed master's leftover row must not block every minion until its TTL.
 */
export function orderFromTable(
  minionId: string,
  rows: readonly MasterRecord[],
  deadAfterMs: number,
  now: number,
): TableOrder {
  const live = rows.filter((row) => isLive(row, deadAfterMs, now));
  const dead = rows.filter((row) => !live.includes(row)).map((row) => row.masterId);
  const ranked = (status: MasterRecord['status']): MasterEndpoint[] =>
    failoverOrder(
      minionId,
      live
        .filter((row) => row.status === status)
        .map((row) =>
          endpoint(
            { id: row.masterId, host: row.host, port: row.ports.minion, enrolPort: row.ports.enrol },
            `masters table row "${row.masterId}"`,
          ),
        ),
      (m) => m.id,
    );
  const draining = ranked('draining');
  return {
    ordered: [...ranked('active'), ...draining].map(address),
    dead: dead.sort(),
    draining: draining.map((m) => m.id),
  };
}

/** Same masters in the same order: the test for "nothing to do". */
export function sameMasters(a: readonly MasterAddress[], b: readonly MasterAddress[]): boolean {
  return (
    a.length === b.length &&
    a.every((m, i) => {
      const other = b[i] as MasterAddress;
      return m.id === other.id && m.host === other.host && m.port === other.port && m.enrolPort === other.enrolPort;
    })
  );
}

/** A frozen copy, so no caller can change the manager's list (or the connection's view of it). */
export function frozenList(masters: readonly MasterAddress[]): readonly MasterAddress[] {
  return Object.freeze(masters.map((m) => Object.freeze(address(m))));
}

function endpoint(entry: unknown, what: string): MasterEndpoint {
  const parsed = MasterEndpointSchema.safeParse(entry);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || 'value'}: ${i.message}`);
  throw new PhoenixError(
    MinionErrors.PHX_MASTER_LIST_INVALID_MASTER,
    `${what} is not a usable master address (${problems.join('; ')}); the list was not applied`,
    { details: { problems } },
  );
}

/** One entry per master id, the first one kept. */
function unique(endpoints: readonly MasterEndpoint[]): MasterEndpoint[] {
  const seen = new Set<string>();
  return endpoints.filter((m) => !seen.has(m.id) && seen.add(m.id));
}

/** Key order fixed (id, host, port, enrolPort) so the file reads the same whatever the source. */
function address(m: MasterAddress): MasterAddress {
  return m.id === undefined
    ? { host: m.host, port: m.port, enrolPort: m.enrolPort }
    : { id: m.id, host: m.host, port: m.port, enrolPort: m.enrolPort };
}
