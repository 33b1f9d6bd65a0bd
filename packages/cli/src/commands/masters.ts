import type { MasterView } from '@phoenix/api';
import { apiClient, resolveApi } from '../api-client.js';
import { emit, type OutputFormat } from '../output.js';

export interface ApiOptions {
  out?: OutputFormat;
  api?: string;
  token?: string;
  ca?: string;
}

/** `phoenix masters`: every master in the table, live, draining or dead, as any master sees it. */
export async function masters(options: ApiOptions): Promise<number> {
  const { masters: list } = await apiClient(await resolveApi(options)).call('masters');
  const now = Date.now();
  const differing = treesDiffering(list);
  await emit(
    options.out ?? 'text',
    { masters: list.map((m) => ({ ...m, treeDiffers: differing.has(m.masterId) })) },
    () => {
      const lines = list.flatMap((m) => [
        `${m.masterId.padEnd(24)} ${m.liveness.padEnd(9)} ${`${m.host}:${m.ports.minion}`.padEnd(22)} ` +
          `${String(m.minionCount).padStart(6)} minions  tree ${(m.treeHash ?? 'unknown').slice(0, 12).padEnd(12)}` +
          `${differing.has(m.masterId) ? ' DIFFERS' : ''}  heartbeat ${((now - m.heartbeatAt) / 1000).toFixed(1)} s ago`,
        // The commit of each git root (kind:environment:name), then what failed.
        ...Object.entries(m.gitCommits ?? {})
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, commit]) => `    ${key.padEnd(32)} ${commit.slice(0, 12)}`),
        ...(m.fileServerErrors ?? []).map((error) => `    ERROR ${error}`),
      ]);
      if (differing.size > 0) {
        lines.push(
          '',
          `Warning: ${[...differing].join(', ')} serve${differing.size === 1 ? 's' : ''} a different state tree ` +
            'than most live masters; minions get different states depending on their master.',
        );
      }
      return lines.join('\n') || 'No masters.';
    },
  );
  return 0;
}

/**
 * Live masters whose state tree differs from the one most live masters serve (on a tie, from the
 * first in id order). Dead masters are not compared: they serve nothing.
 */
export function treesDiffering(list: readonly Pick<MasterView, 'masterId' | 'liveness' | 'treeHash'>[]): Set<string> {
  const live = list.filter((m) => m.liveness !== 'dead' && m.treeHash !== undefined);
  const counts = new Map<string, number>();
  for (const m of live) counts.set(m.treeHash as string, (counts.get(m.treeHash as string) ?? 0) + 1);
  let common: string | undefined;
  for (const m of [...live].sort((a, b) => a.masterId.localeCompare(b.masterId))) {
    const hash = m.treeHash as string;
    if (common === undefined || (counts.get(hash) ?? 0) > (counts.get(common) ?? 0)) common = hash;
  }
  return new Set(live.filter((m) => m.treeHash !== common).map((m) => m.masterId));
}
