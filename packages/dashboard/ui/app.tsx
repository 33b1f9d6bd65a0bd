import { useCallback, useEffect, useState } from 'preact/hooks';
import type { RouteOutput } from '@phoenix/api/client';
import { ApiFailure, client, onTokenRefused, tokenStore } from './api.js';
import { EventLog } from './event-log.js';
import { errorText } from './format.js';
import { FleetOverview } from './fleet.js';
import { Instances, useFleet } from './instances.js';
import { JobHistory } from './job-history.js';
import { JobPage } from './job-page.js';
import { JobRunner } from './job-runner.js';
import { Keys } from './keys.js';
import { ClusterEventFeed, useLinkState } from './live.js';
import { Login } from './login.js';
import { Masters } from './masters.js';
import { MinionPage } from './minion-page.js';
import { useRoute } from './route.js';
import { Runs } from './runs.js';

type Whoami = RouteOutput<'whoami'>;

type Session = { state: 'checking' } | { state: 'signed-out'; error?: string } | { state: 'signed-in'; who: Whoami };

export function App() {
  const [session, setSession] = useState<Session>(
    tokenStore.get() === null ? { state: 'signed-out' } : { state: 'checking' },
  );
  const check = useCallback(() => {
    client
      .call('whoami')
      .then((who) => setSession({ state: 'signed-in', who }))
      .catch((err: unknown) => {
        if (err instanceof ApiFailure && err.status === 401) tokenStore.clear();
        setSession({ state: 'signed-out', error: errorText(err) });
      });
  }, []);
  useEffect(() => {
    if (session.state === 'checking') check();
  }, [session, check]);
  // A token that expires or is revoked while the page is open: back to the login, saying why.
  useEffect(
    () =>
      onTokenRefused((failure) => {
        tokenStore.clear();
        setSession({ state: 'signed-out', error: `Signed out: ${failure.message} (${failure.code})` });
      }),
    [],
  );

  if (session.state === 'checking') return <p class="loading">Checking the token…</p>;
  if (session.state === 'signed-out') {
    return (
      <Login
        error={session.error}
        onToken={(token) => {
          tokenStore.set(token);
          setSession({ state: 'checking' });
        }}
      />
    );
  }
  return (
    <Dashboard
      who={session.who}
      onSignOut={() => {
        tokenStore.clear();
        setSession({ state: 'signed-out' });
      }}
    />
  );
}

function Dashboard({ who, onSignOut }: { who: Whoami; onSignOut: () => void }) {
  const [feed] = useState(() => new ClusterEventFeed());
  useEffect(() => {
    feed.start();
    return () => feed.stop();
  }, [feed]);
  const link = useLinkState(feed);
  const route = useRoute();
  const fleet = useFleet(feed);
  const [reconnectedAt, setReconnectedAt] = useState<number | undefined>();
  useEffect(() => feed.onReconnect(() => setReconnectedAt(Date.now())), [feed]);
  return (
    <>
      <header>
        <h1>
          <a href="#/">Phoenix</a>
        </h1>
        <span class={`badge ${link === 'live' ? 'live' : 'warn'}`} id="link-state" role="status">
          events: {link}
          {link === 'live' &&
            reconnectedAt !== undefined &&
            ` (reconnected ${new Date(reconnectedAt).toLocaleTimeString()})`}
          {link === 'retrying' && ' — the event stream was lost, reconnecting…'}
        </span>
        <span class="spacer" />
        <span class="who">
          {who.name} ({who.role}) via {who.masterId}
        </span>
        <button type="button" name="sign-out" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {route.page === 'job' ? (
        <JobPage jid={route.jid} />
      ) : route.page === 'minion' ? (
        // Keyed by the id: another minion's page starts empty, never showing the last one's facts meanwhile.
        <MinionPage key={route.minionId} minionId={route.minionId} feed={feed} role={who.role} />
      ) : (
        <main>
          <FleetOverview fleet={fleet} feed={feed} />
          <Instances fleet={fleet} query={route.query} />
          <Masters feed={feed} />
          <Keys feed={feed} role={who.role} />
          <JobRunner role={who.role} />
          <JobHistory feed={feed} />
          <Runs feed={feed} />
          <EventLog feed={feed} />
        </main>
      )}
    </>
  );
}
