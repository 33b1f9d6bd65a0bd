import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiFailure, client } from './api.js';
import { ago, errorText, osText, roleText, searchText } from './format.js';
import { useClusterEvents, type ClusterEventFeed } from './live.js';
import type { KeyState, MinionView } from '@phoenix/api';

/** Tags that change what a minion's row shows; each event names the minion to read again. */
const ROW_EVENTS = ['minion/', 'key/', 'lifecycle/', 'highstate/'];
const MAX_PAGES = 50;
const RESYNC_MS = 30_000;
/** More minions than this waiting to be read again: read the whole table instead. */
const MAX_ROW_READS = 50;
const WHOLE_TABLE = '\u0000all';

async function loadAll(): Promise<Map<string, MinionView>> {
  const all = new Map<string, MinionView>();
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await client.call('listMinions', {
      query: { limit: 1000, ...(cursor === undefined ? {} : { cursor }) },
    });
    for (const minion of page.minions) if (minion.lifecycle?.state !== 'terminated') all.set(minion.minionId, minion);
    cursor = page.cursor;
  } while (cursor !== undefined && ++pages < MAX_PAGES);
  return all;
}

/** The fleet: every minion with its key, connection, lifecycle and last highstate, kept live by events. */
export function Instances({ feed }: { feed: ClusterEventFeed }) {
  const [minions, setMinions] = useState<Map<string, MinionView>>(new Map());
  const [error, setError] = useState<string | undefined>();
  const [loaded, setLoaded] = useState(false);
  const [search, setSearch] = useState('');
  const [keyFilter, setKeyFilter] = useState<KeyState | ''>('');
  const timers = useRef(new Map<string, ReturnType<typeof setTimeout>>());

  const reload = useCallback(() => {
    loadAll()
      .then((all) => {
        setMinions(all);
        setError(undefined);
        setLoaded(true);
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, []);
  useEffect(() => {
    reload();
    const stop = feed.onReconnect(reload);
    // The event stream is the answering master's: a minion on another master that changes without a
    // key event (connects, reports grains) shows up at the next full read.
    const resync = setInterval(reload, RESYNC_MS);
    const pending = timers.current;
    return () => {
      stop();
      clearInterval(resync);
      for (const timer of pending.values()) clearTimeout(timer);
    };
  }, [feed, reload]);

  // A burst of events about one minion (connected, key accepted, highstate…) becomes one read; a
  // burst about many (a scale-out) becomes one read of the whole table.
  const refresh = useCallback(
    (minionId: string) => {
      clearTimeout(timers.current.get(minionId));
      if (timers.current.size >= MAX_ROW_READS) {
        for (const timer of timers.current.values()) clearTimeout(timer);
        timers.current.clear();
        const all = setTimeout(() => {
          timers.current.delete(WHOLE_TABLE);
          reload();
        }, 1_000);
        timers.current.set(WHOLE_TABLE, all);
        return;
      }
      if (timers.current.has(WHOLE_TABLE)) return;
      timers.current.set(
        minionId,
        setTimeout(() => {
          timers.current.delete(minionId);
          client
            .call('getMinion', { params: { id: minionId } })
            .then(({ minion }) =>
              setMinions((old) => {
                const next = new Map(old);
                // A terminated instance leaves the table as soon as its event says so.
                if (minion.lifecycle?.state === 'terminated') next.delete(minionId);
                else next.set(minionId, minion);
                return next;
              }),
            )
            .catch((err: unknown) => {
              if (err instanceof ApiFailure && err.status === 404) {
                setMinions((old) => {
                  const next = new Map(old);
                  next.delete(minionId);
                  return next;
                });
              }
            });
        }, 200),
      );
    },
    [reload],
  );
  useClusterEvents(feed, ROW_EVENTS, (event) => {
    const id = event.data.minionId;
    if (typeof id === 'string') refresh(id);
  });

  const rows = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return [...minions.values()]
      .filter((m) => keyFilter === '' || m.keyState === keyFilter)
      .filter((m) => needle === '' || searchText(m).includes(needle))
      .sort((a, b) => a.minionId.localeCompare(b.minionId));
  }, [minions, search, keyFilter]);

  return (
    <section class="wide" id="instances">
      <h2>
        Instances <span class="count">{loaded ? `${rows.length} of ${minions.size}` : 'loading…'}</span>
      </h2>
      <div class="row">
        <input
          class="grow"
          type="search"
          name="search"
          placeholder="Search id, state, master, os, role…"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
        <select
          name="keyState"
          value={keyFilter}
          onChange={(e) => setKeyFilter(e.currentTarget.value as KeyState | '')}
        >
          <option value="">any key state</option>
          <option value="accepted">accepted</option>
          <option value="pending">pending</option>
          <option value="rejected">rejected</option>
          <option value="denied">denied</option>
        </select>
      </div>
      {error !== undefined && <p class="error">{error}</p>}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Minion</th>
              <th>Key</th>
              <th>Connected to</th>
              <th>Lifecycle</th>
              <th>OS · role</th>
              <th>Last highstate</th>
              <th>Disabled</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.minionId} data-minion-id={m.minionId}>
                <td>{m.minionId}</td>
                <td>
                  <span class={`badge ${m.keyState ?? ''}`}>{m.keyState ?? 'none'}</span>
                </td>
                <td>
                  {m.connected ? (
                    <span class="badge ok">connected</span>
                  ) : (
                    <span class={m.keyState === 'accepted' ? 'badge bad' : 'badge'}>offline</span>
                  )}{' '}
                  {m.connectedMaster !== undefined && (
                    <span class={m.connected ? '' : 'muted'}>
                      {m.connected ? m.connectedMaster : `last on ${m.connectedMaster}`}
                    </span>
                  )}
                </td>
                <td>{m.lifecycle === undefined ? <span class="muted">—</span> : m.lifecycle.state}</td>
                <td>
                  {osText(m) || <span class="muted">no os</span>} · {roleText(m) || <span class="muted">no role</span>}
                </td>
                <td>
                  {m.highstate?.result === undefined ? (
                    <span class="muted">{m.highstate?.startedAt === undefined ? '—' : 'running'}</span>
                  ) : (
                    <>
                      <span class={`badge ${m.highstate.result}`}>{m.highstate.result}</span>{' '}
                      {ago(m.highstate.finishedAt)}
                    </>
                  )}
                </td>
                <td>
                  {m.disabled !== undefined && (
                    <>
                      <span class="badge warn">disabled</span> {m.disabled.reason}{' '}
                      <span class="muted">
                        ({m.disabled.by}, {ago(m.disabled.at)})
                      </span>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
