import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from '@tanstack/virtual-core';
import type { MinionView } from '@phoenix/api';
import { ApiFailure, client } from './api.js';
import { ago, errorText, osText, roleText } from './format.js';
import {
  applyView,
  highstateState,
  viewFromQuery,
  viewToQuery,
  type Column,
  type InstanceView,
} from './instance-view.js';
import { useClusterEvents, type ClusterEventFeed } from './live.js';
import { minionHref, setHomeQuery } from './route.js';

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
    for (const minion of page.minions) all.set(minion.minionId, minion);
    cursor = page.cursor;
  } while (cursor !== undefined && ++pages < MAX_PAGES);
  return all;
}

export interface Fleet {
  minions: ReadonlyMap<string, MinionView>;
  error: string | undefined;
  loaded: boolean;
}

/**
 * Every minion with its key, connection, lifecycle and last highstate, kept live by events: one
 * copy for the page, which the fleet overview and the instance table both show.
 */
export function useFleet(feed: ClusterEventFeed): Fleet {
  const [minions, setMinions] = useState<Map<string, MinionView>>(new Map());
  const [error, setError] = useState<string | undefined>();
  const [loaded, setLoaded] = useState(false);
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
                // A terminated instance stays in the fleet (its page, the terminated filter) but
                // leaves the default view as soon as its event says so.
                return new Map(old).set(minionId, minion);
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

  return { minions, error, loaded };
}

/** The fleet as a table: filtered, searched and sorted as the URL says. */
export function Instances({ fleet, query }: { fleet: Fleet; query: URLSearchParams }) {
  const { minions, error, loaded } = fleet;
  const [view, setViewState] = useState<InstanceView>(() => viewFromQuery(query));
  const setView = (change: Partial<InstanceView>): void => {
    const next = { ...view, ...change };
    setViewState(next);
    setHomeQuery(viewToQuery(next));
  };
  const rows = useMemo(() => applyView(minions.values(), view), [minions, view]);
  const terminated = useMemo(
    () => [...minions.values()].filter((m) => m.lifecycle?.state === 'terminated').length,
    [minions],
  );

  const select = (field: keyof InstanceView, label: string, options: ReadonlyArray<readonly [string, string]>) => (
    <select
      name={field}
      aria-label={label}
      value={String(view[field])}
      onChange={(e) => setView({ [field]: e.currentTarget.value } as Partial<InstanceView>)}
    >
      <option value="">{label}: any</option>
      {options.map(([value, text]) => (
        <option key={value} value={value}>
          {text}
        </option>
      ))}
    </select>
  );
  const text = (field: 'master' | 'os' | 'grain', label: string, placeholder: string) => (
    <input
      type="search"
      name={field}
      aria-label={label}
      placeholder={placeholder}
      value={view[field]}
      onInput={(e) => setView({ [field]: e.currentTarget.value })}
    />
  );
  const header = (column: Column, label: string) => {
    const sorted = view.sort === column;
    return (
      <th scope="col" aria-sort={sorted ? (view.desc ? 'descending' : 'ascending') : 'none'}>
        <button
          type="button"
          class="sort"
          name={`sort-${column}`}
          onClick={() => setView({ sort: column, desc: sorted ? !view.desc : false })}
        >
          {label}
          <span aria-hidden="true">{sorted ? (view.desc ? ' ▼' : ' ▲') : ''}</span>
        </button>
      </th>
    );
  };

  return (
    <section class="wide" id="instances" aria-labelledby="instances-title">
      <h2 id="instances-title">
        Instances{' '}
        <span class="count" id="instances-count">
          {loaded ? `${rows.length} of ${minions.size - terminated}` : 'loading…'}
        </span>
        {loaded && terminated > 0 && view.lifecycle !== 'terminated' && (
          <span class="muted count" id="instances-terminated">
            {' '}
            +{terminated} terminated, hidden (lifecycle filter “terminated” shows them)
          </span>
        )}
      </h2>
      <div class="row filters">
        <input
          class="grow"
          type="search"
          name="search"
          aria-label="search minion ids and grain values"
          placeholder="Search ids and grain values…"
          value={view.search}
          onInput={(e) => setView({ search: e.currentTarget.value })}
        />
        {select('key', 'key', [
          ['accepted', 'accepted'],
          ['pending', 'pending'],
          ['rejected', 'rejected'],
          ['denied', 'denied'],
          ['none', 'no key'],
        ])}
        {select('conn', 'connection', [
          ['connected', 'connected'],
          ['offline', 'offline'],
        ])}
        {select('lifecycle', 'lifecycle', [
          ['warming', 'warming'],
          ['warmed', 'warmed'],
          ['launching', 'launching'],
          ['in-service', 'in-service'],
          ['terminating', 'terminating'],
          ['terminated', 'terminated'],
          ['none', 'not launched by a group'],
        ])}
        {select('highstate', 'last highstate', [
          ['success', 'succeeded'],
          ['failure', 'failed'],
          ['running', 'running'],
          ['never', 'never ran'],
        ])}
        {select('disabled', 'disabled', [
          ['yes', 'disabled'],
          ['no', 'enabled'],
        ])}
        {text('master', 'master', 'master')}
        {text('os', 'os or role', 'os or role')}
        {text('grain', 'grain NAME=VALUE', 'grain=value (* allowed)')}
      </div>
      {error !== undefined && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <InstanceRows
        rows={rows}
        headers={
          <>
            {header('minion', 'Minion')}
            {header('key', 'Key')}
            {header('connection', 'Connection')}
            {header('lifecycle', 'Lifecycle')}
            {header('os', 'OS · role')}
            {header('highstate', 'Last highstate')}
            {header('disabled', 'Disabled')}
          </>
        }
      />
    </section>
  );
}

/** Fixed row height, so the window knows where every row is without measuring it. */
const ROW_PX = 34;

/** The rows, windowed: only those in view (and a few around) are in the page. */
function InstanceRows({ rows, headers }: { rows: readonly MinionView[]; headers: ComponentChildren }) {
  const scroller = useRef<HTMLDivElement>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const options = {
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_PX,
    overscan: 12,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    onChange: () => rerender(undefined),
  };
  const [virtualizer] = useState(() => new Virtualizer<HTMLDivElement, HTMLTableRowElement>(options));
  virtualizer.setOptions({ ...virtualizer.options, ...options });
  useLayoutEffect(() => virtualizer._didMount(), [virtualizer]);
  useLayoutEffect(() => virtualizer._willUpdate());
  const items = virtualizer.getVirtualItems();
  const top = items[0]?.start ?? 0;
  const bottom = virtualizer.getTotalSize() - (items[items.length - 1]?.end ?? 0);
  return (
    <div class="scroll instances-scroll" ref={scroller} tabIndex={0} aria-label="instances, scrollable">
      <table class="instances" aria-rowcount={rows.length + 1}>
        <thead>
          <tr>{headers}</tr>
        </thead>
        <tbody>
          {top > 0 && <tr class="spacer" style={{ height: `${top}px` }} aria-hidden="true" />}
          {items.map((item) => {
            const m = rows[item.index] as MinionView;
            return <InstanceRow key={m.minionId} m={m} index={item.index} />;
          })}
          {bottom > 0 && <tr class="spacer" style={{ height: `${bottom}px` }} aria-hidden="true" />}
        </tbody>
      </table>
    </div>
  );
}

const HIGHSTATE_TEXT = { success: 'succeeded', failure: 'failed', running: 'running', never: 'never ran' } as const;

/** One minion: every status in colour and in words. */
function InstanceRow({ m, index }: { m: MinionView; index: number }) {
  const highstate = highstateState(m);
  return (
    <tr data-minion-id={m.minionId} aria-rowindex={index + 2}>
      <td title={m.minionId}>
        <a href={minionHref(m.minionId)}>{m.minionId}</a>
      </td>
      <td>
        <span class={`badge ${m.keyState ?? ''}`}>{m.keyState ?? 'no key'}</span>
      </td>
      <td title={m.connectedMaster}>
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
      <td>
        {m.lifecycle === undefined ? (
          <span class="muted">—</span>
        ) : (
          <span class={`badge ${m.lifecycle.state}`}>{m.lifecycle.state}</span>
        )}
      </td>
      <td>
        {osText(m) || <span class="muted">no os</span>} · {roleText(m) || <span class="muted">no role</span>}
      </td>
      <td>
        <span class={`badge ${highstate}`}>{HIGHSTATE_TEXT[highstate]}</span>{' '}
        {m.highstate?.finishedAt !== undefined && <span class="muted">{ago(m.highstate.finishedAt)}</span>}
      </td>
      <td title={m.disabled?.reason}>
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
  );
}
