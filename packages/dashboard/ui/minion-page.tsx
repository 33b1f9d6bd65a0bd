import type { VNode } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { Job, MinionHistory, RouteOutput } from '@phoenix/api';
import { parseCommandLine } from '@phoenix/protocol/arguments';
import { ApiFailure, client } from './api.js';
import { ConfirmDialog, type Question } from './confirm.js';
import { ago, errorText, osText, roleText } from './format.js';
import { useClusterEvents, type ClusterEventFeed } from './live.js';
import { jobHref } from './route.js';
import { Tree } from './results.js';
import type { Role } from '@phoenix/api';

type Shown = RouteOutput<'getMinion'>;
const STATE_RUNS = new Set(['state.highstate', 'state.apply', 'state.sls']);

/**
 * One minion at its own URL (`#/minions/ID`): its key, connection, lifecycle, killswitch, last
 * state runs and grains, and what an operator does to it — each action asks first, naming it.
 */
export function MinionPage({ minionId, feed, role }: { minionId: string; feed: ClusterEventFeed; role: Role }) {
  const [shown, setShown] = useState<Shown | undefined>();
  const [runs, setRuns] = useState<Job[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [question, setQuestion] = useState<Question | undefined>();
  const [fun, setFun] = useState('test.ping');
  const [args, setArgs] = useState('');
  const [reason, setReason] = useState('');
  const operate = role !== 'read';
  const admin = role === 'admin';

  // Reads can answer out of order (a burst of events): only the latest one asked is shown.
  const asked = useRef(0);
  const reload = useCallback(() => {
    const read = ++asked.current;
    client
      .call('getMinion', { params: { id: minionId } })
      .then((answer) => {
        if (read !== asked.current) return;
        setShown(answer);
        setError(undefined);
      })
      .catch((err: unknown) => setError(errorText(err)));
    // Its last state runs, among the recent jobs.
    client
      .call('listJobs', { query: { limit: 200 } })
      .then((page) =>
        setRuns(page.jobs.filter((j) => STATE_RUNS.has(j.fun) && j.expected.includes(minionId)).slice(0, 5)),
      )
      .catch(() => undefined);
  }, [minionId]);
  useEffect(() => {
    reload();
    return feed.onReconnect(reload);
  }, [feed, reload]);
  useClusterEvents(feed, ['minion/', 'key/', 'lifecycle/', 'highstate/', 'job/submitted'], (event) => {
    if (event.data.minionId === minionId || event.tag === 'job/submitted') reload();
  });

  const submit = (jobFun: string, jobArgs: unknown[], kwargs: Record<string, unknown>): void => {
    client
      .call('submitJob', { body: { target: [minionId], targetType: 'list', fun: jobFun, args: jobArgs, kwargs } })
      .then((answer) => {
        if (!('jid' in answer)) throw new ApiFailure(500, 'PHX_API_INTERNAL', 'the API answered a job with a run');
        location.hash = jobHref(answer.jid);
      })
      .catch((err: unknown) => setError(errorText(err)));
  };
  const ask = (title: string, confirm: string, run: () => void, detail?: string): void =>
    setQuestion({ title, subject: minionId, confirm, run, ...(detail === undefined ? {} : { detail }) });
  const then = (promise: Promise<unknown>): void => {
    promise.then(reload, (err: unknown) => setError(errorText(err)));
  };

  const m = shown?.minion;
  return (
    <main>
      <section class="wide" id="minion-page" data-minion-id={minionId}>
        <p>
          <a href="#/">← Dashboard</a>
        </p>
        <h2>
          Minion <code>{minionId}</code>
        </h2>
        {error !== undefined && (
          <p class="error" role="alert" id="minion-error">
            {error}
          </p>
        )}
        {m !== undefined && shown !== undefined && (
          <>
            <dl class="facts" id="minion-facts">
              <dt>Key</dt>
              <dd>
                <span class={`badge ${m.keyState ?? ''}`}>{m.keyState ?? 'no key'}</span>{' '}
                <span class="fingerprint">{m.fingerprint}</span>
              </dd>
              <dt>Connection</dt>
              <dd>
                {m.connected ? <span class="badge ok">connected</span> : <span class="badge bad">offline</span>}{' '}
                {m.connectedMaster !== undefined &&
                  `${m.connected ? 'to' : 'last on'} ${m.connectedMaster}${m.connectedAt === undefined ? '' : `, since ${ago(m.connectedAt)}`}`}
              </dd>
              <dt>Lifecycle</dt>
              <dd>
                {m.lifecycle === undefined
                  ? 'not launched by an auto-scaling group'
                  : `${m.lifecycle.state} in ${m.lifecycle.group}${m.lifecycle.launchedAt === undefined ? '' : `, launched ${ago(m.lifecycle.launchedAt)}`}, updated ${ago(m.lifecycle.updatedAt)}`}
              </dd>
              <dt>OS · role</dt>
              <dd>
                {osText(m) || 'no os'} · {roleText(m) || 'no role'}
              </dd>
              <dt>First highstate</dt>
              <dd>
                {m.highstate === undefined ? (
                  'none recorded'
                ) : (
                  <>
                    <span class={`badge ${m.highstate.result ?? 'running'}`}>{m.highstate.result ?? 'running'}</span>{' '}
                    {m.highstate.claimedBy !== undefined && `by ${m.highstate.claimedBy} `}
                    {m.highstate.jid !== undefined && <a href={jobHref(m.highstate.jid)}>{m.highstate.jid}</a>}
                  </>
                )}
              </dd>
              <dt>Killswitch</dt>
              <dd id="minion-killswitch">
                {m.disabled === undefined ? (
                  'enabled: state runs go through'
                ) : (
                  <>
                    <span class="badge warn">disabled</span> {m.disabled.reason} — by {m.disabled.by},{' '}
                    {new Date(m.disabled.at).toISOString().replace('T', ' ').slice(0, 19)} UTC ({m.disabled.source})
                  </>
                )}
              </dd>
            </dl>

            <h3>Actions</h3>
            {!operate && <p class="muted">Actions need an operate or admin token.</p>}
            <form
              class="row"
              id="minion-run"
              onSubmit={(e) => {
                e.preventDefault();
                const parsed = parseCommandLine(args);
                if ('error' in parsed) {
                  setError(`arguments: ${parsed.error}`);
                  return;
                }
                ask(`Run ${fun} on this minion?`, `Run ${fun} on ${minionId}`, () =>
                  submit(fun, parsed.args, parsed.kwargs),
                );
              }}
            >
              <input name="fun" aria-label="function" value={fun} onInput={(e) => setFun(e.currentTarget.value)} />
              <input
                class="grow"
                name="args"
                aria-label="arguments"
                placeholder="arguments as for phoenix run"
                value={args}
                onInput={(e) => setArgs(e.currentTarget.value)}
              />
              <button type="submit" name="run" disabled={!operate}>
                Run
              </button>
            </form>
            <div class="row">
              <button
                type="button"
                name="highstate"
                disabled={!operate}
                onClick={() =>
                  ask('Apply the highstate to this minion?', `Highstate ${minionId}`, () =>
                    submit('state.highstate', [], {}),
                  )
                }
              >
                Highstate
              </button>
              <button
                type="button"
                name="highstate-test"
                disabled={!operate}
                onClick={() =>
                  ask('Show what the highstate would change on this minion (test=True)?', `Dry-run ${minionId}`, () =>
                    submit('state.highstate', [], { test: true }),
                  )
                }
              >
                Highstate test=True
              </button>
              {m.disabled === undefined ? (
                <>
                  <input
                    name="reason"
                    aria-label="why disable it"
                    placeholder="why disable it"
                    value={reason}
                    onInput={(e) => setReason(e.currentTarget.value)}
                  />
                  <button
                    type="button"
                    name="disable"
                    disabled={!admin || reason.trim() === ''}
                    onClick={() =>
                      ask(
                        'Disable state runs on this minion?',
                        `Disable ${minionId}`,
                        () =>
                          then(
                            client.call('disableMinion', { params: { id: minionId }, body: { reason: reason.trim() } }),
                          ),
                        `Reason: ${reason.trim()}`,
                      )
                    }
                  >
                    Disable
                  </button>
                </>
              ) : (
                <button
                  type="button"
                  name="enable"
                  disabled={!admin}
                  onClick={() =>
                    ask('Enable state runs on this minion again?', `Enable ${minionId}`, () =>
                      then(client.call('enableMinion', { params: { id: minionId }, body: {} })),
                    )
                  }
                >
                  Enable
                </button>
              )}
              <button
                type="button"
                name="delete-key"
                disabled={!admin || m.keyState === undefined}
                onClick={() =>
                  ask(
                    "Delete this minion's key?",
                    `Delete ${minionId}'s key`,
                    () =>
                      then(
                        client.call('changeKeys', {
                          params: { action: 'delete' },
                          body: { match: minionId, include: false },
                        }),
                      ),
                    'It can no longer receive jobs until it enrols again and its key is accepted.',
                  )
                }
              >
                Delete key
              </button>
            </div>

            <History history={shown.history} />

            <h3>Last state runs</h3>
            {runs.length === 0 ? (
              <p class="muted">None among the recent jobs.</p>
            ) : (
              <ul id="minion-runs">
                {runs.map((j) => (
                  <li key={j.jid}>
                    <a href={jobHref(j.jid)}>{j.jid}</a> {j.fun}
                    {j.kwargs.test === true ? ' test=True' : ''} by {j.submitter}, {ago(j.createdAt)}
                  </li>
                ))}
              </ul>
            )}

            <h3>Grains</h3>
            <div id="minion-grains">
              <p class="muted">What the master vouches for:</p>
              <Tree value={shown.vouchedGrains} open />
              <p class="muted">What the minion reports:</p>
              <Tree value={shown.grains} />
            </div>
          </>
        )}
        <ConfirmDialog question={question} onClose={() => setQuestion(undefined)} />
      </section>
    </main>
  );
}

const LIFECYCLE_WORDS: Record<MinionHistory['lifecycle'][number]['event'], string> = {
  warming: 'warming (its warm-pool highstate to run)',
  warmed: 'warmed, in the pool',
  launching: 'launching, held by its hook',
  'key-accepted': 'key accepted',
  'highstate-started': 'first highstate started',
  'highstate-succeeded': 'first highstate succeeded',
  'highstate-failed': 'first highstate failed',
  'in-service': 'in service',
  abandoned: 'launch abandoned',
  terminating: 'terminating',
  terminated: 'terminated',
};
const BADGE: Partial<Record<MinionHistory['lifecycle'][number]['event'], string>> = {
  'highstate-succeeded': 'ok',
  'in-service': 'ok',
  'highstate-failed': 'bad',
  abandoned: 'bad',
  terminated: 'never',
};

const when = (at: number): string => new Date(at).toISOString().replace('T', ' ').slice(0, 19);

/** The instance's lifecycle and the masters it was on, newest first, each with its time (UTC). */
function History({ history }: { history: MinionHistory }) {
  return (
    <div class="histories">
      <HistoryTable
        title="Lifecycle history"
        id="minion-lifecycle-history"
        empty="Nothing recorded: not launched by an auto-scaling group the reactor follows."
        columns={['When (UTC)', 'What', 'Recorded by']}
      >
        {[...history.lifecycle].reverse().map((entry, i) => (
          <tr key={`${entry.at}-${i}`} data-event={entry.event}>
            <td title={ago(entry.at)}>{when(entry.at)}</td>
            <td>
              <span class={`badge ${BADGE[entry.event] ?? ''}`}>{LIFECYCLE_WORDS[entry.event]}</span>
              {entry.jid !== undefined && (
                <>
                  {' '}
                  <a href={jobHref(entry.jid)}>{entry.jid}</a>
                </>
              )}
            </td>
            <td>{entry.by ?? '—'}</td>
          </tr>
        ))}
      </HistoryTable>
      <HistoryTable
        title="Master history"
        id="minion-master-history"
        empty="Never connected."
        columns={['When (UTC)', 'Master', 'What']}
      >
        {[...history.masters].reverse().map((entry, i) => (
          <tr key={`${entry.at}-${i}`} data-master-id={entry.masterId} data-event={entry.event}>
            <td title={ago(entry.at)}>{when(entry.at)}</td>
            <td>{entry.masterId}</td>
            <td>
              <span class={`badge ${entry.event === 'connected' ? 'ok' : 'never'}`}>{entry.event}</span>
            </td>
          </tr>
        ))}
      </HistoryTable>
    </div>
  );
}

/** One history: its heading, then its rows in a table that scrolls by keyboard, or what says there are none. */
function HistoryTable(props: { title: string; id: string; empty: string; columns: string[]; children: VNode[] }) {
  return (
    <div>
      <h3>{props.title}</h3>
      {props.children.length === 0 ? (
        <p class="muted">{props.empty}</p>
      ) : (
        <div class="scroll" tabIndex={0} aria-label={`${props.title.toLowerCase()}, scrollable`}>
          <table id={props.id}>
            <thead>
              <tr>
                {props.columns.map((column) => (
                  <th scope="col" key={column}>
                    {column}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>{props.children}</tbody>
          </table>
        </div>
      )}
    </div>
  );
}
