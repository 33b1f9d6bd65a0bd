import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import type { RunRecordView as RunRecord, RunView } from '@phoenix/api';
import { client } from './api.js';
import { ago, errorText } from './format.js';
import { coalesce, useClusterEvents, type ClusterEventFeed } from './live.js';

/** A running run's minions change without an event each: the open one is read again this often. */
const POLL_MS = 1_000;

type MinionState = 'ok' | 'failed' | 'no return' | 'never ran' | 'running' | 'waiting';

/** Where each minion of a run stands: done (ok, failed, no return), running, waiting, never ran. */
export function minionStates(
  view: RunView,
): Array<{ minionId: string; step: number; state: MinionState; note?: string }> {
  const finished = view.run.status !== 'running';
  return view.items.flatMap((item) => {
    const states = item.minions.map((minionId) => {
      const job = item.jobs.find((j) => j.minions.includes(minionId));
      const outcome = job?.outcomes[minionId];
      let state: MinionState;
      if (job === undefined) state = finished ? 'never ran' : 'waiting';
      else if (outcome === undefined) state = finished ? 'no return' : 'running';
      else if (outcome.missed !== undefined) state = 'never ran';
      else if (outcome.timedOut === true) state = 'no return';
      else state = outcome.ok ? 'ok' : 'failed';
      const note = outcome?.missed ?? (outcome !== undefined && !outcome.ok ? `retcode ${outcome.retcode}` : undefined);
      return { minionId, step: item.step, state, ...(note === undefined ? {} : { note }) };
    });
    const offline = item.notConnected.map((minionId) => ({
      minionId,
      step: item.step,
      state: 'never ran' as const,
      note: 'not connected',
    }));
    return [...states, ...offline];
  });
}

/** Rollouts (phoenix run -b) and orchestrations: recent ones, and one live with its steps and minions. */
export function Runs({ feed }: { feed: ClusterEventFeed }) {
  const [runs, setRuns] = useState<RunRecord[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [selected, setSelected] = useState<string | undefined>();
  const [view, setView] = useState<RunView | undefined>();

  const reload = useCallback(() => {
    client
      .call('listRuns', { query: { limit: 20 } })
      .then((answer) => {
        setRuns(answer.runs);
        setError(undefined);
      })
      .catch((err: unknown) => setError(errorText(err)));
  }, []);
  useEffect(() => {
    reload();
    return feed.onReconnect(reload);
  }, [feed, reload]);
  const reloadSoon = useMemo(() => coalesce(reload, 300), [reload]);
  useClusterEvents(feed, ['run/'], reloadSoon);

  useEffect(() => {
    if (selected === undefined) return undefined;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = (): void => {
      client
        .call('getRun', { params: { runId: selected } })
        .then((answer) => {
          if (stopped) return;
          setView(answer);
          if (answer.run.status === 'running') timer = setTimeout(read, POLL_MS);
          else reload();
        })
        .catch((err: unknown) => setError(errorText(err)));
    };
    read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [selected, reload]);

  const shown = view !== undefined && view.run.runId === selected ? view : undefined;
  return (
    <section class="wide" id="runs">
      <h2>
        Rollouts and orchestrations <span class="count">{runs === undefined ? 'loading…' : runs.length}</span>
      </h2>
      {error !== undefined && <p class="error">{error}</p>}
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th>Run</th>
              <th>What</th>
              <th>Status</th>
              <th>Driven by</th>
              <th>By</th>
              <th>When</th>
            </tr>
          </thead>
          <tbody>
            {(runs ?? []).map((run) => (
              <tr
                key={run.runId}
                data-run-id={run.runId}
                class={selected === run.runId ? 'clickable selected' : 'clickable'}
                onClick={() => setSelected(run.runId)}
              >
                <td>
                  <code>{run.runId}</code> <span class="muted">{run.kind}</span>
                </td>
                <td>{run.title}</td>
                <td>
                  <span class={`badge ${run.status === 'running' || run.status === 'succeeded' ? 'live' : 'warn'}`}>
                    {run.status}
                  </span>
                </td>
                <td>{run.drivers.join(' → ')}</td>
                <td>{run.submitter}</td>
                <td>{ago(run.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {shown !== undefined && <RunDetail view={shown} />}
    </section>
  );
}

function RunDetail({ view }: { view: RunView }) {
  const { run } = view;
  const minions = minionStates(view);
  const count = (state: MinionState): number => minions.filter((m) => m.state === state).length;
  return (
    <div id="run-detail" data-run-id={run.runId} data-status={run.status}>
      <h2>
        {run.title} <code>{run.runId}</code> <span class="count">{run.status}</span>
      </h2>
      <p class="muted">
        driven by {run.drivers.join(', then ')}
        {run.lease === undefined ? '' : ` (now ${run.lease.holder})`}
        {run.summary === undefined ? '' : ` · ${run.summary}`}
      </p>
      <p id="run-counts">
        {count('ok')} ok · {count('failed') + count('no return')} failed · {count('running')} running ·{' '}
        {count('waiting')} waiting · {count('never ran')} never ran
      </p>
      {view.plan !== undefined && (
        <table id="run-steps">
          <thead>
            <tr>
              <th>Step</th>
              <th>Function</th>
              <th>State</th>
              <th>Comment</th>
            </tr>
          </thead>
          <tbody>
            {view.plan.map((step, index) => {
              const state = run.steps[String(index)];
              const word =
                state === undefined
                  ? 'waiting'
                  : state.status === 'running'
                    ? 'running'
                    : state.result === null
                      ? 'None'
                      : state.result === false
                        ? 'failed'
                        : 'ok';
              return (
                <tr key={step.id} data-run-step={step.id} data-state={word}>
                  <td>{step.id}</td>
                  <td>{step.function}</td>
                  <td>{word}</td>
                  <td class="muted">{state?.comment?.split('\n')[0] ?? ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <table id="run-minions">
        <thead>
          <tr>
            <th>Minion</th>
            <th>Step</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {minions.map((m) => (
            <tr key={`${m.step}/${m.minionId}`} data-run-minion={m.minionId} data-step={m.step} data-state={m.state}>
              <td>{m.minionId}</td>
              <td>{view.plan?.[m.step]?.id ?? m.step}</td>
              <td>
                {m.state}
                {m.note === undefined ? '' : <span class="muted"> ({m.note})</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
