/**
 * A revision: the commit of each git root that one answer of the file server came from, written
 * `key=commit;key=commit` (sorted). A minion sends the revision of its run's first answer with
 * every later request of that run, so the whole run, pillar included, sees one commit of each
 * root even if the cluster moves on meanwhile, and even on another master after a failover: the
 * revision says which commits, not which master.
 */
export type Commits = Readonly<Record<string, string>>;

/** The wire's limit on a revision; a master with more git roots than fit serves runs unpinned. */
export const MAX_REVISION_CHARS = 8192;
const ENTRY = /^([a-z]+:[A-Za-z0-9_.-]{1,64}:[A-Za-z0-9._-]{1,64})=([0-9a-f]{40})$/;

export function encodeRevision(commits: Commits): string {
  return Object.keys(commits)
    .sort()
    .map((key) => `${key}=${commits[key] as string}`)
    .join(';');
}

/** The commits a revision names; undefined when it is not one. */
export function decodeRevision(revision: string): Commits | undefined {
  if (revision === '' || revision.length > MAX_REVISION_CHARS) return undefined;
  const commits: Record<string, string> = {};
  for (const entry of revision.split(';')) {
    const match = ENTRY.exec(entry);
    if (match === null) return undefined;
    commits[match[1] as string] = match[2] as string;
  }
  return commits;
}

/** Where one master stands against the commits the other live masters serve, for one root. */
export type Standing = 'same' | 'ahead' | 'behind' | 'unknown';

/**
 * A master is at the cluster's commit of a root when every other live master serves the same
 * commit or one that is an ancestor of its own. `relation(peerCommit)` says how a peer's commit
 * relates to this master's: 'same', 'older' (an ancestor here), 'newer' or 'unknown' (not here).
 */
export function standing(
  own: string | undefined,
  peers: readonly string[],
  relation: (peer: string) => 'same' | 'older' | 'newer' | 'unknown',
): Standing {
  if (own === undefined) return peers.length === 0 ? 'unknown' : 'behind';
  let ahead = false;
  for (const peer of peers) {
    const r = peer === own ? 'same' : relation(peer);
    if (r === 'newer' || r === 'unknown') return r === 'newer' ? 'behind' : 'unknown';
    if (r === 'older') ahead = true;
  }
  return ahead ? 'ahead' : 'same';
}
