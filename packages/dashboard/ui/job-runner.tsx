import { useEffect, useRef, useState } from 'preact/hooks';
import { parseCommandLine } from '@phoenix/protocol/arguments';
import { ApiFailure, client } from './api.js';
import { errorText } from './format.js';
import { ReturnsTable, type Skipped } from './returns.js';
import type { JobReturn, Role, RouteOutput, TargetType } from '@phoenix/api';

// Every target type the API takes (`satisfies` fails the build when it gains one this list lacks).
const TARGET_TYPES = Object.keys({
  glob: true,
  list: true,
  grain: true,
  pcre: true,
  compound: true,
} satisfies Record<TargetType, true>) as TargetType[];

interface Run {
  jid: string;
  fun: string;
  expected: string[];
  returns: Map<string, JobReturn>;
  skipped: Skipped[];
  notConnected: string[];
  finished: boolean;
}

/** Target + function + arguments → POST /jobs, then the returns as the job's stream delivers them. */
export function JobRunner({ role }: { role: Role }) {
  const [target, setTarget] = useState('*');
  const [targetType, setTargetType] = useState<TargetType>('glob');
  const [fun, setFun] = useState('test.ping');
  const [args, setArgs] = useState('');
  const [dryRun, setDryRun] = useState(false);
  const [batch, setBatch] = useState('');
  const [rollout, setRollout] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [run, setRun] = useState<Run | undefined>();
  const stream = useRef<AbortController | undefined>(undefined);
  const allowed = role !== 'read';

  useEffect(() => () => stream.current?.abort(), []);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    stream.current?.abort();
    // The arguments as `phoenix run` gets them from a shell: quoted words, then key=value keywords.
    const parsed = parseCommandLine(args);
    if ('error' in parsed) {
      setError(`arguments: ${parsed.error}`);
      return;
    }
    setRollout(undefined);
    try {
      const answer = await client.call('submitJob', {
        body: {
          // As the CLI's -L: a comma-separated list.
          target: targetType === 'list' ? target.split(',') : target,
          targetType,
          fun,
          args: parsed.args,
          // The checkbox is `test=True` typed in the arguments.
          kwargs: dryRun ? { ...parsed.kwargs, test: true } : parsed.kwargs,
          // As phoenix run -b N|N%: a rollout, followed in the runs panel.
          ...(batch.trim() === '' ? {} : { batch: { size: batch.trim() } }),
        },
      });
      if ('runId' in answer) {
        setRun(undefined);
        setRollout(answer.runId);
        return;
      }
      if (!('jid' in answer)) throw new ApiFailure(500, 'PHX_API_INTERNAL', 'the API answered a job with a run');
      const current: Run = {
        jid: answer.jid,
        fun,
        expected: answer.minions,
        returns: new Map(),
        skipped: answer.skipped,
        notConnected: answer.notConnected,
        finished: false,
      };
      setRun(current);
      const controller = new AbortController();
      stream.current = controller;
      const update = (change: Partial<Run>): void =>
        setRun((old) => (old?.jid === current.jid ? { ...old, ...change } : old));
      await client.stream(
        'jobStream',
        { params: { jid: answer.jid } },
        ({ event: kind, data }) => {
          if (kind === 'return') {
            const ret = data;
            setRun((old) =>
              old?.jid === current.jid ? { ...old, returns: new Map(old.returns).set(ret.minionId, ret) } : old,
            );
          } else if (kind === 'done') {
            update({ finished: true });
          }
        },
        { signal: controller.signal },
      );
      update({ finished: true });
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(errorText(err));
    }
  };

  return (
    <section class="wide" id="job-runner">
      <h2>Run a job</h2>
      {!allowed && <p class="muted">Running jobs needs an operate or admin token.</p>}
      <form class="row" onSubmit={(e) => void submit(e)}>
        <input
          name="target"
          aria-label="target"
          placeholder="target"
          value={target}
          onInput={(e) => setTarget(e.currentTarget.value)}
        />
        <select
          name="targetType"
          aria-label="target type"
          value={targetType}
          onChange={(e) => setTargetType(e.currentTarget.value as TargetType)}
        >
          {TARGET_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <input
          name="fun"
          aria-label="function"
          placeholder="module.function"
          value={fun}
          onInput={(e) => setFun(e.currentTarget.value)}
        />
        <input
          class="grow"
          name="args"
          aria-label="arguments"
          placeholder="arguments as for phoenix run: 'exit 3' cwd=/tmp"
          title="quoted as in a shell; key=value is a keyword argument; numbers, true/false and JSON are typed"
          value={args}
          onInput={(e) => setArgs(e.currentTarget.value)}
        />
        <label>
          <input type="checkbox" name="test" checked={dryRun} onChange={(e) => setDryRun(e.currentTarget.checked)} />{' '}
          test=True
        </label>
        <input
          name="batch"
          aria-label="batch size: N or N%"
          placeholder="batch N or N%"
          size={10}
          value={batch}
          onInput={(e) => setBatch(e.currentTarget.value)}
        />
        <button class="primary" type="submit" name="run" disabled={!allowed}>
          Run
        </button>
      </form>
      <TargetPreview target={target} targetType={targetType} fun={fun} args={args} dryRun={dryRun} />
      {rollout !== undefined && (
        <p id="job-rollout" data-run-id={rollout}>
          Rollout <code>{rollout}</code> started, {batch.trim()} at a time: follow it under Rollouts and orchestrations.
        </p>
      )}
      {error !== undefined && (
        <p class="error" role="alert" id="job-error">
          {error}
        </p>
      )}
      {run !== undefined && (
        <div id="job-results" data-jid={run.jid} data-finished={String(run.finished)}>
          <p>
            <code>{run.fun}</code> job <code>{run.jid}</code>: {run.returns.size} of {run.expected.length} returned
            {run.finished ? '' : '…'}
            {run.skipped.length > 0 && `, ${run.skipped.length} skipped`}
            {run.notConnected.length > 0 && `, ${run.notConnected.length} not connected`}
          </p>
          <ReturnsTable
            expected={run.expected}
            returns={run.returns}
            finished={run.finished}
            skipped={run.skipped}
            notConnected={run.notConnected}
          />
        </div>
      )}
    </section>
  );
}

type Preview = RouteOutput<'previewTarget'>;
const SHOWN = 12;

/**
 * "matches 3 accepted minions: a, b, c" before the job runs, as the master answers it
 * (POST /targets/preview): its own targeting for every target type, its grains (those it vouches
 * for), the minions a state run would skip and those connected to no master, so the preview
 * cannot disagree with the job. Asked again a moment after the typing stops.
 */
function TargetPreview(props: { target: string; targetType: TargetType; fun: string; args: string; dryRun: boolean }) {
  const { target, targetType, fun, args, dryRun } = props;
  const [preview, setPreview] = useState<Preview | undefined>();
  const [error, setError] = useState<string | undefined>();
  const asked = useRef(0);
  useEffect(() => {
    const ask = ++asked.current;
    const timer = setTimeout(() => {
      if (target.trim() === '') {
        setPreview(undefined);
        setError(undefined);
        return;
      }
      const parsed = parseCommandLine(args);
      const kwargs = 'error' in parsed ? {} : parsed.kwargs;
      client
        .call('previewTarget', {
          body: {
            target: targetType === 'list' ? target.split(',') : target,
            targetType,
            ...(/^[A-Za-z_]\w*\.[A-Za-z_]\w*$/.test(fun) ? { fun } : {}),
            kwargs: dryRun ? { ...kwargs, test: true } : kwargs,
            limit: SHOWN,
          },
        })
        .then((answer) => {
          if (ask !== asked.current) return;
          setPreview(answer);
          setError(undefined);
        })
        .catch((err: unknown) => {
          if (ask !== asked.current) return;
          setPreview(undefined);
          setError(errorText(err));
        });
    }, 250);
    return () => clearTimeout(timer);
  }, [target, targetType, fun, args, dryRun]);
  if (error !== undefined) {
    return (
      <p class="error" id="target-preview" data-count="">
        {error}
      </p>
    );
  }
  if (preview === undefined) return <p class="muted" id="target-preview" />;
  const { count, minions, skippedCount, skipped, notConnectedCount } = preview;
  return (
    <p class="muted" id="target-preview" data-count={count} data-skipped={skippedCount}>
      matches {count} accepted {count === 1 ? 'minion' : 'minions'}
      {count > 0 && `: ${minions.join(', ')}${count > minions.length ? `, … ${count - minions.length} more` : ''}`}
      {skippedCount > 0 &&
        `; skips ${skippedCount}: ${skipped.map((s) => `${s.minionId} (${s.reason})`).join(', ')}${skippedCount > skipped.length ? ', …' : ''}`}
      {notConnectedCount > 0 && `; ${notConnectedCount} connected to no master`}
    </p>
  );
}
