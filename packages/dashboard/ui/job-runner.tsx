import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiFailure, client } from './api.js';
import { errorText } from './format.js';
import { ReturnsTable } from './returns.js';
import type { JobReturn, Role, TargetType } from '@phoenix/api';

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
  finished: boolean;
}

/** Arguments as typed: a JSON array as it is, anything else split on spaces into strings. */
export function parseArgs(text: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[')) {
    const parsed = JSON.parse(trimmed) as unknown;
    if (!Array.isArray(parsed)) throw new Error('arguments: a JSON array, or words separated by spaces');
    return parsed;
  }
  return trimmed.split(/\s+/);
}

/** Target + function + arguments → POST /jobs, then the returns as the job's stream delivers them. */
export function JobRunner({ role }: { role: Role }) {
  const [target, setTarget] = useState('*');
  const [targetType, setTargetType] = useState<TargetType>('glob');
  const [fun, setFun] = useState('test.ping');
  const [args, setArgs] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [run, setRun] = useState<Run | undefined>();
  const stream = useRef<AbortController | undefined>(undefined);
  const allowed = role !== 'read';

  useEffect(() => () => stream.current?.abort(), []);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    stream.current?.abort();
    try {
      const answer = await client.call('submitJob', { body: { target, targetType, fun, args: parseArgs(args) } });
      if (!('jid' in answer)) throw new ApiFailure(500, 'PHX_API_INTERNAL', 'the API answered a job with a run');
      const current: Run = { jid: answer.jid, fun, expected: answer.minions, returns: new Map(), finished: false };
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
        <input name="target" placeholder="target" value={target} onInput={(e) => setTarget(e.currentTarget.value)} />
        <select
          name="targetType"
          value={targetType}
          onChange={(e) => setTargetType(e.currentTarget.value as TargetType)}
        >
          {TARGET_TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <input name="fun" placeholder="module.function" value={fun} onInput={(e) => setFun(e.currentTarget.value)} />
        <input
          class="grow"
          name="args"
          placeholder='arguments: words, or a JSON array like ["a", 1]'
          value={args}
          onInput={(e) => setArgs(e.currentTarget.value)}
        />
        <button class="primary" type="submit" name="run" disabled={!allowed}>
          Run
        </button>
      </form>
      {error !== undefined && <p class="error">{error}</p>}
      {run !== undefined && (
        <div id="job-results" data-jid={run.jid} data-finished={String(run.finished)}>
          <p>
            <code>{run.fun}</code> job <code>{run.jid}</code>: {run.returns.size} of {run.expected.length} returned
            {run.finished ? '' : '…'}
          </p>
          <ReturnsTable expected={run.expected} returns={run.returns} finished={run.finished} />
        </div>
      )}
    </section>
  );
}
