import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { client } from './api.js';
import { ago, errorText } from './format.js';
import { coalesce, useClusterEvents, type ClusterEventFeed } from './live.js';
import type { MasterView } from '@phoenix/api';

/** Liveness is a heartbeat's age, so the panel reads again every few seconds besides on events. */
const POLL_MS = 5_000;

export function Masters({ feed }: { feed: ClusterEventFeed }) {
  const [masters, setMasters] = useState<MasterView[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const reload = useCallback(() => {
    client
      .call('masters')
      .then((answer) => {
        setMasters(answer.masters.sort((a, b) => a.masterId.localeCompare(b.masterId)));
        setError(undefined);
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, []);
  useEffect(() => {
    reload();
    const timer = setInterval(reload, POLL_MS);
    const stop = feed.onReconnect(reload);
    return () => {
      clearInterval(timer);
      stop();
    };
  }, [feed, reload]);
  const reloadSoon = useMemo(() => coalesce(reload, 300), [reload]);
  useClusterEvents(feed, ['master/'], reloadSoon);

  return (
    <section id="masters">
      <h2>
        Masters <span class="count">{masters === undefined ? 'loading…' : masters.length}</span>
      </h2>
      {error !== undefined && <p class="error">{error}</p>}
      <table>
        <thead>
          <tr>
            <th>Master</th>
            <th>State</th>
            <th>Minions</th>
            <th>Heartbeat</th>
          </tr>
        </thead>
        <tbody>
          {(masters ?? []).map((m) => (
            <tr key={m.masterId} data-master-id={m.masterId}>
              <td>
                {m.masterId}
                <div class="muted">
                  {m.host}:{m.ports.api} · v{m.version}
                </div>
              </td>
              <td>
                <span class={`badge ${m.liveness}`}>{m.liveness}</span>
              </td>
              <td>{m.minionCount}</td>
              <td>{ago(m.heartbeatAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
