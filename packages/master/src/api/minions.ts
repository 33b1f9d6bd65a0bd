import { compileTarget, stateRunsDisabled, PhoenixError } from '@phoenix/protocol';
import type { MinionRecord, Page } from '@phoenix/store';
import { SUMMARY_GRAINS, type MinionView } from '@phoenix/api';
import { adminStates, ALL_STATE_RUNS } from '../jobs.js';
import { route, type AnyRoute } from './route.js';
import type { ApiContext } from './context.js';
import { MasterErrors } from '../errors.js';

/** How many rows one listing request may read before it answers with what it has and a cursor. */
const SCAN_BUDGET = 5_000;

/** Minions: the fleet as the minions table holds it, and disabling or enabling one (admin, audited). */
export function minionRoutes(deps: ApiContext): AnyRoute[] {
  const liveMasters = async (): Promise<Set<string>> =>
    new Set((await deps.masters()).filter((m) => m.liveness !== 'dead').map((m) => m.masterId));
  const find = async (id: string): Promise<MinionRecord> => {
    const record = await deps.minions.get(id);
    if (record === undefined) {
      throw new PhoenixError(MasterErrors.PHX_API_NOT_FOUND, `no minion ${id} in the minions table`);
    }
    return record;
  };

  return [
    route('listMinions', async ({ query }) => {
      const matcher = compileTarget(query.match, 'glob');
      const now = Date.now();
      const keep = (record: MinionRecord): boolean =>
        (query.all === 'true' || !retentionPassed(record, now)) &&
        matcher.matches({ id: record.minionId, grains: {} }) &&
        (query.keyState === undefined || record.keyState === query.keyState) &&
        (query.lifecycle === undefined || record.lifecycle?.state === query.lifecycle) &&
        (query.master === undefined || record.connectedMaster === query.master) &&
        (query.disabled === undefined || (disabledOf(record) !== undefined) === (query.disabled === 'true'));
      // Each read asks for no more rows than are still wanted, so every match fits on this page and
      // the store's cursor is exactly where the next page starts.
      const read = (limit: number, cursor: string | undefined): Promise<Page<MinionRecord>> => {
        const request = { limit, ...(cursor === undefined ? {} : { cursor }) };
        return query.keyState !== undefined && query.keyState !== 'denied'
          ? deps.minions.listByKeyState(query.keyState, request)
          : deps.minions.list(request);
      };
      const found: MinionRecord[] = [];
      let cursor = query.cursor;
      let scanned = 0;
      do {
        const page = await read(query.limit - found.length, cursor);
        scanned += page.items.length;
        found.push(...page.items.filter(keep));
        cursor = page.cursor;
      } while (cursor !== undefined && found.length < query.limit && scanned < SCAN_BUDGET);
      const live = await liveMasters();
      return {
        minions: found.map((record) => view(record, live)),
        ...(cursor === undefined ? {} : { cursor }),
      };
    }),
    route('getMinion', async ({ params }) => {
      const record = await find(params.id);
      deps.jobs.noteRecord(record);
      return {
        minion: view(record, await liveMasters()),
        grains: record.grains ?? {},
        vouchedGrains: deps.jobs.vouchedGrains(params.id),
        history: { lifecycle: record.lifecycleHistory ?? [], masters: record.masterHistory ?? [] },
      };
    }),
    route('disableMinion', async ({ params, body }, request) => {
      await find(params.id);
      const by = request.caller?.name ?? 'unknown';
      // Every state run, besides whatever names an admin disabled already.
      const mark = deps.jobs.adminDisabled(params.id);
      const states = [...new Set([...(mark === undefined ? [] : adminStates(mark)), ALL_STATE_RUNS])];
      const record = await deps.minions.setDisabled(params.id, { by, reason: body.reason, states });
      await tellKillswitch(deps, params.id, 'state.disable', { reason: body.reason, by }, by);
      deps.log.info(
        { audit: 'minion', action: 'disable', minionId: params.id, by, reason: body.reason },
        'minion disabled',
      );
      deps.events.emit('minion/disabled', {
        minionId: params.id,
        by,
        reason: body.reason,
        at: record.disabled?.at,
        states,
      });
      return { minion: view(record, await liveMasters()) };
    }),
    route('enableMinion', async ({ params }, request) => {
      await find(params.id);
      const by = request.caller?.name ?? 'unknown';
      // The whole-minion killswitch is lifted; states an admin disabled by name stay so.
      const mark = deps.jobs.adminDisabled(params.id);
      const states = mark === undefined ? [] : adminStates(mark).filter((name) => name !== ALL_STATE_RUNS);
      const record = await deps.minions.setDisabled(
        params.id,
        mark === undefined || states.length === 0 ? undefined : { by: mark.by, reason: mark.reason, states },
      );
      await tellKillswitch(deps, params.id, 'state.enable', {}, by);
      deps.log.info({ audit: 'minion', action: 'enable', minionId: params.id, by }, 'minion enabled');
      if (states.length === 0) deps.events.emit('minion/enabled', { minionId: params.id, by });
      else deps.events.emit('minion/disabled', { ...record.disabled, minionId: params.id, states });
      return { minion: view(record, await liveMasters()) };
    }),
  ];
}

/**
 * The minion's own killswitch follows the operator's word: it refuses state runs itself, and its
 * `state_runs_disabled` grain makes every master skip it. A minion that cannot be reached now keeps
 * the mark in the table; the operator can send `state.disable` again once it is back.
 */
async function tellKillswitch(
  deps: ApiContext,
  minionId: string,
  fun: 'state.disable' | 'state.enable',
  kwargs: Record<string, unknown>,
  by: string,
): Promise<void> {
  try {
    await deps.jobs.submit({ target: [minionId], targetType: 'list', fun, args: [], kwargs, submitter: by });
  } catch (err) {
    deps.log.warn({ err, minionId, fun }, 'could not send the killswitch to the minion');
  }
}

/** A terminated instance whose TTL has come: every reader treats it as gone, whether or not DynamoDB deleted it yet. */
function retentionPassed(record: MinionRecord, now: number): boolean {
  return record.lifecycle?.state === 'terminated' && record.expiresAt !== undefined && record.expiresAt * 1000 <= now;
}

function view(record: MinionRecord, liveMasters: ReadonlySet<string>): MinionView {
  const grains: Record<string, unknown> = {};
  for (const name of SUMMARY_GRAINS) if (record.grains?.[name] !== undefined) grains[name] = record.grains[name];
  const minion: MinionView = {
    minionId: record.minionId,
    connected: record.connectedMaster !== undefined && liveMasters.has(record.connectedMaster),
    grains,
  };
  if (record.keyState !== undefined) minion.keyState = record.keyState;
  if (record.fingerprint !== undefined) minion.fingerprint = record.fingerprint;
  if (record.deniedKey !== undefined)
    minion.deniedKey = { fingerprint: record.deniedKey.fingerprint, at: record.deniedKey.at };
  if (record.contested !== undefined) {
    minion.contested = {
      at: record.contested.at,
      fingerprints: [record.fingerprint ?? '', ...record.contested.claimants.map((c) => c.fingerprint)],
    };
  }
  if (record.lifecycle !== undefined) {
    const { state, group, launchedAt, updatedAt } = record.lifecycle;
    minion.lifecycle = { state, group, updatedAt, ...(launchedAt === undefined ? {} : { launchedAt }) };
  }
  if (record.connectedMaster !== undefined) minion.connectedMaster = record.connectedMaster;
  if (record.connectedAt !== undefined) minion.connectedAt = record.connectedAt;
  if (record.highstate !== undefined) {
    const { result, jid, startedAt, finishedAt, claimedBy } = record.highstate;
    minion.highstate = {
      ...(result === undefined ? {} : { result }),
      ...(jid === undefined ? {} : { jid }),
      ...(startedAt === undefined ? {} : { startedAt }),
      ...(finishedAt === undefined ? {} : { finishedAt }),
      ...(claimedBy === undefined ? {} : { claimedBy }),
    };
  }
  const disabled = disabledOf(record);
  if (disabled !== undefined) minion.disabled = disabled;
  return minion;
}

/**
 * Whether the minion is disabled, and by whom: its own killswitch (`state.disable`, reported in
 * its grains: state runs are skipped) wins over a mark made through this API.
 */
function disabledOf(record: MinionRecord): MinionView['disabled'] {
  const killswitch = record.grains === undefined ? undefined : stateRunsDisabled(record.grains);
  if (killswitch !== undefined) {
    const at = Date.parse(killswitch.at);
    return { by: killswitch.by, at: Number.isNaN(at) ? 0 : at, reason: killswitch.reason, source: 'killswitch' };
  }
  // A mark of named states only (state.disable highstate) leaves the minion's other runs allowed.
  if (record.disabled === undefined || !adminStates(record.disabled).includes(ALL_STATE_RUNS)) return undefined;
  const { by, at, reason } = record.disabled;
  return { by, at, reason, source: 'api' };
}
