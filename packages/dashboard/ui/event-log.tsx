import { useState } from 'preact/hooks';
import { useClusterEvents, type ClusterEventFeed } from './live.js';
import type { ClusterEvent } from '@phoenix/api';

const KEEP = 100;

/** The latest cluster events heard by the answering master, newest first. */
export function EventLog({ feed }: { feed: ClusterEventFeed }) {
  const [events, setEvents] = useState<ClusterEvent[]>([]);
  useClusterEvents(feed, [''], (event) => setEvents((old) => [event, ...old].slice(0, KEEP)));
  return (
    <section id="events">
      <h2>
        Events <span class="count">{events.length}</span>
      </h2>
      {events.length === 0 && <p class="muted">Nothing yet: events appear here as the cluster reports them.</p>}
      <ul class="events">
        {events.map((e, i) => (
          <li key={`${e.at}-${i}`} data-tag={e.tag}>
            {new Date(e.at).toLocaleTimeString()} <strong>{e.tag}</strong>{' '}
            {typeof e.data.minionId === 'string' ? e.data.minionId : ''}
            {typeof e.data.jid === 'string' ? ` ${e.data.jid}` : ''}
            {typeof e.data.to === 'string' ? ` → ${e.data.to}` : ''}
          </li>
        ))}
      </ul>
    </section>
  );
}
