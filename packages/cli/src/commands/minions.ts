import { resolveApi, request } from '../api-client.js';
import { emit, type OutputFormat } from '../output.js';
import { ProtocolErrors, PhoenixError } from '@phoenix/protocol/errors';

interface MinionView {
  minionId: string;
  keyState?: string;
  lifecycle?: { state: string; group: string };
  connectedMaster?: string;
  connected: boolean;
  grains: Record<string, unknown>;
  highstate?: { result?: string; finishedAt?: number };
  disabled?: { by: string; reason: string };
  contested?: { fingerprints: string[] };
}

const KEY_STATES = ['pending', 'accepted', 'rejected', 'denied'];
const LIFECYCLE_STATES = ['warming', 'warmed', 'launching', 'in-service', 'terminating', 'terminated'];

export interface MinionsOptions {
  state?: string;
  master?: string;
  all?: boolean;
  out?: OutputFormat;
  api?: string;
  token?: string;
  ca?: string;
}

/**
 * `phoenix minions [PATTERN]`: the fleet as any master sees it. --state takes a key state or a
 * lifecycle state (the two vocabularies do not overlap); every page is followed.
 */
export async function minions(pattern: string, options: MinionsOptions): Promise<number> {
  const query = new URLSearchParams({ match: pattern, limit: '1000' });
  const state = options.state;
  if (state !== undefined) {
    if (KEY_STATES.includes(state)) query.set('keyState', state);
    else if (LIFECYCLE_STATES.includes(state)) query.set('lifecycle', state);
    else
      throw new PhoenixError(
        ProtocolErrors.PHX_CLI_USAGE,
        `phoenix minions: --state must be a key state (${KEY_STATES.join(', ')}) or a lifecycle state (${LIFECYCLE_STATES.join(', ')}), not "${state}"`,
      );
  }
  if (options.all === true) query.set('all', 'true');
  if (options.master !== undefined) query.set('master', options.master);
  const api = await resolveApi(options);
  const list: MinionView[] = [];
  for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
    if (cursor !== undefined) query.set('cursor', cursor);
    const page = await request<{ minions: MinionView[]; cursor?: string }>(api, 'GET', `/minions?${query.toString()}`);
    list.push(...page.minions);
    cursor = page.cursor;
  }
  list.sort((a, b) => a.minionId.localeCompare(b.minionId));
  await emit(options.out ?? 'text', { minions: list }, () =>
    list.length === 0 ? 'No minions.' : list.map(formatMinion).join('\n'),
  );
  return 0;
}

function formatMinion(m: MinionView): string {
  const os = [m.grains.os, m.grains.osrelease].filter((v) => v !== undefined).join(' ');
  const highstate = m.highstate?.result ?? (m.highstate === undefined ? '-' : 'running');
  return [
    m.minionId.padEnd(24),
    (m.keyState ?? '-').padEnd(9),
    (m.lifecycle?.state ?? '-').padEnd(12),
    (m.connected ? (m.connectedMaster ?? '') : 'offline').padEnd(20),
    `highstate:${highstate}`.padEnd(20),
    os,
    (m.disabled === undefined ? '' : ` DISABLED by ${m.disabled.by} (${m.disabled.reason})`) +
      (m.contested === undefined
        ? ''
        : ` CONTESTED by ${m.contested.fingerprints.length} keys (phoenix keys list ${m.minionId})`),
  ].join(' ');
}
