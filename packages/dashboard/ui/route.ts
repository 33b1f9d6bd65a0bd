import { useEffect, useState } from 'preact/hooks';

// Where the page is, in the URL's fragment (`#/jobs/JID`, `#/minions/ID`, `#/?search=web`), so a
// view can be bookmarked and shared, and the fragment never reaches a server's logs.

export type Route =
  | { page: 'home'; query: URLSearchParams }
  | { page: 'job'; jid: string; query: URLSearchParams }
  | { page: 'minion'; minionId: string; query: URLSearchParams };

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?', 2);
  const query = new URLSearchParams(search);
  const parts = path.split('/').filter((p) => p !== '');
  if (parts[0] === 'jobs' && parts[1] !== undefined) return { page: 'job', jid: decodeURIComponent(parts[1]), query };
  if (parts[0] === 'minions' && parts[1] !== undefined) {
    return { page: 'minion', minionId: decodeURIComponent(parts[1]), query };
  }
  return { page: 'home', query };
}

export const jobHref = (jid: string): string => `#/jobs/${encodeURIComponent(jid)}`;
export const minionHref = (minionId: string): string => `#/minions/${encodeURIComponent(minionId)}`;

/** The current route, kept up to date as the fragment changes (links, back and forward). */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = (): void => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** Replaces the home view's query in the URL (no history entry per keystroke). */
export function setHomeQuery(query: URLSearchParams): void {
  const text = query.toString();
  history.replaceState(null, '', `${location.pathname}${location.search}#/${text === '' ? '' : `?${text}`}`);
}
