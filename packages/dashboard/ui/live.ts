import { useEffect, useRef, useState } from 'preact/hooks';
import type { ClusterEvent } from '@phoenix/api';
import { client } from './api.js';

export type LinkState = 'connecting' | 'live' | 'retrying';
type Listener = (event: ClusterEvent) => void;

/**
 * One /api/v1/events stream shared by every panel. When it drops it reconnects after a growing
 * pause (at most 10 s) and tells every panel to reload, since events may have been missed meanwhile.
 */
export class ClusterEventFeed {
  readonly #listeners = new Set<Listener>();
  readonly #reloads = new Set<() => void>();
  readonly #states = new Set<(state: LinkState) => void>();
  readonly #abort = new AbortController();
  state: LinkState = 'connecting';

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#abort.abort();
  }

  /** Calls `listener` for every event whose tag starts with one of `prefixes`. Returns the unsubscribe. */
  on(prefixes: readonly string[], listener: Listener): () => void {
    const filtered: Listener = (event) => {
      if (prefixes.some((prefix) => event.tag.startsWith(prefix))) listener(event);
    };
    this.#listeners.add(filtered);
    return () => this.#listeners.delete(filtered);
  }

  onReconnect(reload: () => void): () => void {
    this.#reloads.add(reload);
    return () => this.#reloads.delete(reload);
  }

  onState(listener: (state: LinkState) => void): () => void {
    this.#states.add(listener);
    return () => this.#states.delete(listener);
  }

  #setState(state: LinkState): void {
    this.state = state;
    for (const listener of this.#states) listener(state);
  }

  async #run(): Promise<void> {
    // The client reopens the stream after a drop or a refusal, pausing longer each time (at most 10 s).
    await client
      .follow(
        'events',
        {},
        ({ data }) => {
          for (const listener of this.#listeners) listener(data);
        },
        {
          signal: this.#abort.signal,
          maxPauseMs: 10_000,
          onOpen: () => this.#setState('live'),
          onReconnect: () => {
            for (const reload of this.#reloads) reload();
          },
          onDrop: () => this.#setState('retrying'),
        },
      )
      .catch(() => this.#setState('retrying'));
  }
}

/** The feed's connection state, for the header. */
export function useLinkState(feed: ClusterEventFeed): LinkState {
  const [state, setState] = useState(feed.state);
  useEffect(() => feed.onState(setState), [feed]);
  return state;
}

/**
 * `fn`, called at most once per `ms` however often the result is called (trailing: the last call
 * always runs), so a burst of events becomes one read.
 */
export function coalesce(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    if (timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
}

/** Subscribes a component to events by tag prefix for as long as it is mounted. */
export function useClusterEvents(feed: ClusterEventFeed, prefixes: readonly string[], listener: Listener): void {
  const latest = useRef(listener);
  latest.current = listener;
  const key = prefixes.join('|');
  useEffect(() => feed.on(key.split('|'), (event) => latest.current(event)), [feed, key]);
}
