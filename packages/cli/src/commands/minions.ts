import type { KeyState, LifecycleState, MinionView, RouteInput } from '@phoenix/api';
import { apiClient, resolveApi } from '../api-client.js';
import { emit, type OutputFormat } from '../output.js';
import { ProtocolErrors, PhoenixError } from '@phoenix/protocol/errors';

// The API's vocabularies, spelled out here so this command loads no schema library to check a flag;
// `satisfies` holds them to the API's own (a state added there and not here fails the build).
const KEY_STATES = Object.keys({
  pending: true,
  accepted: true,
  rejected: true,
  denied: true,
} satisfies Record<KeyState, true>) as KeyState[];
const LIFECYCLE_STATES = Object.keys({
  warming: true,
  warmed: true,
  launching: true,
  'in-service': true,
  terminating: true,
  terminated: true,
} satisfies Record<LifecycleState, true>) as LifecycleState[];

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
  const query: NonNullable<RouteInput<'listMinions'>['query']> = { match: pattern, limit: 1000 };
  const state = options.state;
  if (state !== undefined) {
    if (isOneOf(KEY_STATES, state)) query.keyState = state;
    else if (isOneOf(LIFECYCLE_STATES, state)) query.lifecycle = state;
    else
      throw new PhoenixError(
        ProtocolErrors.PHX_CLI_USAGE,
        `phoenix minions: --state must be a key state (${KEY_STATES.join(', ')}) or a lifecycle state (${LIFECYCLE_STATES.join(', ')}), not "${state}"`,
      );
  }
  if (options.all === true) query.all = 'true';
  if (options.master !== undefined) query.master = options.master;
  const client = apiClient(await resolveApi(options));
  const list: MinionView[] = [];
  for (let cursor: string | undefined, first = true; first || cursor !== undefined; first = false) {
    if (cursor !== undefined) query.cursor = cursor;
    const page = await client.call('listMinions', { query });
    list.push(...page.minions);
    cursor = page.cursor;
  }
  list.sort((a, b) => a.minionId.localeCompare(b.minionId));
  await emit(options.out ?? 'text', { minions: list }, () =>
    list.length === 0 ? 'No minions.' : list.map(formatMinion).join('\n'),
  );
  return 0;
}

function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
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
