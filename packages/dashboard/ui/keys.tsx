import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { client } from './api.js';
import { ConfirmDialog, type Question } from './confirm.js';
import { errorText } from './format.js';
import { coalesce, useClusterEvents, type ClusterEventFeed } from './live.js';
import type { KeyInfo, Role } from '@phoenix/api';

type Action = 'accept' | 'reject' | 'delete';

const VERB: Record<Action, string> = { accept: 'Accept', reject: 'Reject', delete: 'Delete' };
const CONSEQUENCE: Record<Action, string> = {
  accept: 'The minion may then receive jobs from every master.',
  reject: 'The minion will be refused until its key is accepted again.',
  delete: 'The key is forgotten; the minion must enrol again.',
};

/**
 * Keys awaiting a decision (pending), and apart from them the refused ones (rejected, denied).
 * Every action asks first, naming the key; they need an admin token.
 */
export function Keys({ feed, role }: { feed: ClusterEventFeed; role: Role }) {
  const [keys, setKeys] = useState<KeyInfo[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [question, setQuestion] = useState<Question | undefined>();
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

  const act = (action: Action, match: string, include = false, fingerprint?: string): void => {
    setBusy(true);
    client
      .call('changeKeys', {
        params: { action },
        body: { match, include, ...(fingerprint === undefined ? {} : { fingerprint }) },
      })
      .then(() => setError(undefined))
      .catch((err: unknown) => setError(errorText(err)))
      .finally(() => {
        setBusy(false);
        reload();
      });
  };
  const ask = (action: Action, key: KeyInfo): void =>
    setQuestion({
      title: `${VERB[action]} the key of this minion?`,
      subject: `${key.minionId}  ${key.fingerprint}`,
      detail: CONSEQUENCE[action],
      confirm: `${VERB[action]} ${key.minionId}`,
      run: () => act(action, key.minionId, action === 'accept' && key.state === 'rejected', key.fingerprint),
    });
  const pending = (keys ?? []).filter((k) => k.state === 'pending');
  const refused = (keys ?? []).filter((k) => k.state !== 'pending');

  const table = (list: KeyInfo[], label: string) => (
    <table aria-label={label}>
      <thead>
        <tr>
          <th scope="col">Minion and fingerprint</th>
          <th scope="col">State</th>
          <th scope="col">
            <span class="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {list.map((k) => (
          <tr key={`${k.minionId}/${k.state}/${k.fingerprint}`} data-key-id={k.minionId}>
            <td>
              {k.minionId}
              {k.contested === true && <span class="badge warn">contested</span>}
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
                  aria-label={`Accept ${k.minionId}`}
                  onClick={() => ask('accept', k)}
                >
                  Accept
                </button>
              )}{' '}
              {admin && k.state === 'pending' && (
                <button
                  type="button"
                  name="reject"
                  disabled={busy}
                  aria-label={`Reject ${k.minionId}`}
                  onClick={() => ask('reject', k)}
                >
                  Reject
                </button>
              )}{' '}
              {admin && (
                <button
                  type="button"
                  name="delete"
                  disabled={busy}
                  aria-label={`Delete ${k.minionId}`}
                  onClick={() => ask('delete', k)}
                >
                  Delete
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );

  return (
    <section id="keys" aria-labelledby="keys-title">
      <h2 id="keys-title">
        Keys awaiting a decision <span class="count">{keys === undefined ? 'loading…' : pending.length}</span>
        {admin && pending.length > 1 && (
          <button
            type="button"
            name="accept-all"
            disabled={busy}
            onClick={() =>
              setQuestion({
                title: `Accept all ${pending.length} pending keys?`,
                subject: pending.map((k) => k.minionId).join(', '),
                detail: CONSEQUENCE.accept,
                confirm: `Accept ${pending.length} keys`,
                run: () => act('accept', '*'),
              })
            }
          >
            Accept all {pending.length} pending
          </button>
        )}
      </h2>
      {!admin && <p class="muted">Key actions need an admin token.</p>}
      {error !== undefined && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div id="keys-pending" class="scroll">
        {keys !== undefined && pending.length === 0 ? (
          <p class="muted">No key is waiting.</p>
        ) : (
          table(pending, 'Pending keys')
        )}
      </div>
      {refused.length > 0 && (
        <div id="keys-refused" class="scroll">
          <h3>
            Rejected and denied <span class="count">{refused.length}</span>
          </h3>
          {table(refused, 'Rejected and denied keys')}
        </div>
      )}
      <ConfirmDialog question={question} onClose={() => setQuestion(undefined)} />
    </section>
  );
}
