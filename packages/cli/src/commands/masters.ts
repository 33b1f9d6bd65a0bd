import { resolveApi, request } from '../api-client.js';
import { parseCommand } from '../args.js';
import { emit, outputFormat } from '../output.js';

interface MasterView {
  masterId: string;
  host: string;
  ports: { minion: number; api: number };
  status: string;
  liveness: 'live' | 'draining' | 'dead';
  heartbeatAt: number;
  minionCount: number;
  version: string;
}

/** `phoenix masters`: every master in the table, live, draining or dead, as any master sees it. */
export async function masters(argv: readonly string[]): Promise<number> {
  const { values } = parseCommand(
    'masters',
    argv,
    { out: { type: 'string' }, api: { type: 'string' }, token: { type: 'string' } },
    false,
  );
  const out = outputFormat(values.out);
  const api = await resolveApi(values);
  const { masters: list } = await request<{ masters: MasterView[] }>(api, 'GET', '/masters');
  const now = Date.now();
  emit(
    out,
    { masters: list },
    () =>
      list
        .map(
          (m) =>
            `${m.masterId.padEnd(24)} ${m.liveness.padEnd(9)} ${`${m.host}:${m.ports.minion}`.padEnd(22)} ` +
            `${String(m.minionCount).padStart(6)} minions  heartbeat ${((now - m.heartbeatAt) / 1000).toFixed(1)} s ago`,
        )
        .join('\n') || 'No masters.',
  );
  return 0;
}
