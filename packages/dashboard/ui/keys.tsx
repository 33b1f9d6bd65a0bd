import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { client } from './api.js';
import { errorText } from './format.js';
import { coalesce, useClusterEvents, type ClusterEventFeed } from './live.js';
import type { KeyInfo, Role } from '@phoenix/api';

type Action = 'accept' | 'reject' | 'delete';

/** Keys waiting for a decision (and rejected or denied ones); accepting and the rest need an admin token. */
export function Keys({ feed, role }: { feed: ClusterEventFeed; role: Role }) {
  const [keys, setKeys] = useState<KeyInfo[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const admin = role === 'admin';
  const reload = useCallback(() => {
    client
      .call('listKeys')
      .then((answer) => {
        setKeys(answer.keys.filter((k) => k.state !== 'accepted').sort((a, b) => a.minionId.localeCompare(b.minionId)));
        setError(undefined);
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, []);
  useEffect(() => {
    reload();
    return feed.onReconnect(reload);
  }, [feed, reload]);
  const reloadSoon = useMemo(() => coalesce(reload, 300), [reload]);
  useClusterEvents(feed, ['key/'], reloadSoon);

  const act = (action: Action, match: string, include = false): void => {
    setBusy(true);
    client
      .call('changeKeys', { params: { action }, body: { match, include } })
      .then(() => setError(undefined))
      .catch((err: unknown) => setError(errorText(err)))
      .finally(() => {
        setBusy(false);
        reload();
      });
  };
  const pending = (keys ?? []).filter((k) => k.state === 'pending');

  return (
    <section id="keys">
      <h2>
        Keys awaiting a decision <span class="count">{keys === undefined ? 'loading…' : keys.length}</span>
        {admin && pending.length > 1 && (
          <button type="button" name="accept-all" disabled={busy} onClick={() => act('accept', '*')}>
            Accept all {pending.length} pending
          </button>
        )}
      </h2>
      {!admin && <p class="muted">Key actions need an admin token.</p>}
      {error !== undefined && <p class="error">{error}</p>}
      {keys !== undefined && keys.length === 0 && <p class="muted">No pending, rejected or denied keys.</p>}
      <table>
        <tbody>
          {(keys ?? []).map((k) => (
            <tr key={`${k.minionId}/${k.state}/${k.fingerprint}`} data-key-id={k.minionId}>
              <td>
                {k.minionId}
                <div class="muted fingerprint">{k.fingerprint}</div>
              </td>
              <td>
                <span class={`badge ${k.state}`}>{k.state}</span>
              </td>
              <td class="actions">
                {admin && k.state !== 'denied' && (
                  <button
                    type="button"
                    name="accept"
                    disabled={busy}
                    onClick={() => act('accept', k.minionId, k.state === 'rejected')}
                  >
                    Accept
                  </button>
                )}{' '}
                {admin && k.state === 'pending' && (
                  <button type="button" name="reject" disabled={busy} onClick={() => act('reject', k.minionId)}>
                    Reject
                  </button>
                )}{' '}
                {admin && (
                  <button type="button" name="delete" disabled={busy} onClick={() => act('delete', k.minionId)}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
