import { compileGlob } from '@phoenix/protocol';
import type { ClusterEvent } from './events.js';

/**
 * The cluster's events as Salt-style tags, for reactor rules and `salt.wait_for_event`: Salt's
 * `salt/minion/<id>/start` is `phoenix/minion/<id>/start` here. Data carries Salt's `id` (the
 * minion id) beside Phoenix's own fields. Pure: one event in, its tag (or none) out.
 */
export interface TaggedEvent {
  readonly tag: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The tags the cluster itself emits (a minion's own events may not start with `phoenix/`). */
export const CLUSTER_TAGS = [
  'phoenix/minion/ID/start',
  'phoenix/minion/ID/disconnected',
  'phoenix/key/ID/accepted',
  'phoenix/key/ID/rejected',
  'phoenix/key/ID/deleted',
  'phoenix/instance/ID/launched',
  'phoenix/instance/ID/terminated',
  'phoenix/highstate/ID/succeeded',
  'phoenix/highstate/ID/failed',
  'phoenix/job/JID/ret/ID',
  'phoenix/run/RUNID/succeeded',
  'phoenix/run/RUNID/failed',
  'phoenix/run/RUNID/stopped',
] as const;

/** The namespace only the cluster emits in. */
export const CLUSTER_PREFIX = 'phoenix/';

export function taggedEvent(event: ClusterEvent): TaggedEvent | undefined {
  const data = event.data;
  const id = typeof data.minionId === 'string' ? data.minionId : undefined;
  const withId = (tag: string): TaggedEvent => ({ tag, data: { ...data, id, master: event.masterId } });
  switch (event.tag) {
    case 'minion/connected':
      return id === undefined ? undefined : withId(`phoenix/minion/${id}/start`);
    case 'minion/disconnected':
      return id === undefined ? undefined : withId(`phoenix/minion/${id}/disconnected`);
    case 'key/changed':
      // Each master applies every key change and says so: only the master that made it speaks for it.
      if (id === undefined || data.local !== true) return undefined;
      if (data.to === 'accepted' || data.to === 'rejected') return withId(`phoenix/key/${id}/${data.to}`);
      return data.to === 'deleted' ? withId(`phoenix/key/${id}/deleted`) : undefined;
    case 'lifecycle/launching':
    case 'lifecycle/launched':
      return id === undefined ? undefined : withId(`phoenix/instance/${id}/launched`);
    case 'lifecycle/terminated':
      return id === undefined ? undefined : withId(`phoenix/instance/${id}/terminated`);
    case 'highstate/finished':
      if (id === undefined) return undefined;
      return withId(`phoenix/highstate/${id}/${data.result === 'success' ? 'succeeded' : 'failed'}`);
    case 'job/return':
      return id === undefined || typeof data.jid !== 'string' ? undefined : withId(`phoenix/job/${data.jid}/ret/${id}`);
    case 'run/finished':
      return typeof data.runId === 'string' && typeof data.status === 'string'
        ? { tag: `phoenix/run/${data.runId}/${data.status}`, data }
        : undefined;
    case 'minion/event':
      // A minion's own event (event.send): its tag as sent, its data with the sender's id.
      return id === undefined || typeof data.tag !== 'string'
        ? undefined
        : {
            tag: data.tag,
            data: {
              ...(typeof data.data === 'object' && data.data !== null ? (data.data as Record<string, unknown>) : {}),
              id,
            },
          };
    default:
      return undefined;
  }
}

/** The placeholders of CLUSTER_TAGS: any one segment. */
const PLACEHOLDERS = new Set(['ID', 'JID', 'RUNID']);

/**
 * Why a rule's tag glob is wrong, or undefined. A glob inside the cluster's namespace must be able
 * to match one of the tags the cluster emits (`phoenix/minoin/*\/start` never would); one outside
 * it is a minion's own tag (event.send) and may be anything.
 */
export function tagProblem(glob: string): string | undefined {
  if (glob.trim() !== glob || glob === '' || /[\s\0]/.test(glob)) return 'a tag is one word, without spaces';
  if (!glob.startsWith(CLUSTER_PREFIX)) return undefined;
  let matches: (value: string) => boolean;
  try {
    matches = compileGlob(glob, false);
  } catch (err) {
    return `not a glob: ${(err as Error).message}`;
  }
  const segments = glob.split('/');
  const possible = CLUSTER_TAGS.some((template) => {
    const parts = template.split('/');
    if (matches(parts.map((part) => (PLACEHOLDERS.has(part) ? 'x' : part)).join('/'))) return true;
    return (
      parts.length === segments.length &&
      parts.every((part, i) => PLACEHOLDERS.has(part) || compileGlob(segments[i] as string, false)(part))
    );
  });
  return possible
    ? undefined
    : `no event of the cluster has such a tag (they are ${CLUSTER_TAGS.join(', ')}; a minion's own events may not start with ${CLUSTER_PREFIX})`;
}
