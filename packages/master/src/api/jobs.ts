import type { JobRecord } from '@phoenix/store';
import { adminStates, killswitchNames, type ReturnEvent } from '../jobs.js';
import { API_ANSWER_HEADERS, route, type AnyRoute } from './route.js';
import { runRecordView } from './runs.js';
import type { ApiContext } from './context.js';

/** Jobs: submit (operate), list and show (read), and a server-sent-events stream of a job's returns. */
export function jobRoutes(deps: ApiContext): AnyRoute[] {
  return [
    route('submitJob', async ({ body }, request) => {
      const submitter = request.caller?.name ?? 'unknown';
      const role = request.caller?.role ?? 'read';
      // Who disabled state runs is the master's word: below admin, not an argument the submitter
      // chooses (an admin may name the person it acts for).
      const kwargs = body.fun === 'state.disable' && role !== 'admin' ? { ...body.kwargs, by: submitter } : body.kwargs;
      const { batch, ...fields } = body;
      if (batch !== undefined) {
        const { run, targets } = await deps.runs.submitBatch({
          target: typeof fields.target === 'string' ? fields.target : [...fields.target],
          targetType: fields.targetType,
          fun: fields.fun,
          args: fields.args,
          kwargs,
          timeoutMs: fields.timeoutMs ?? deps.defaultJobTimeoutMs,
          role,
          submitter,
          batch: {
            size: batch.size,
            waitMs: Math.round(batch.waitSeconds * 1000),
            ...(batch.maxFailures === undefined ? {} : { maxFailures: batch.maxFailures }),
          },
        });
        return { runId: run.runId, ...targets, run: runRecordView(run) };
      }
      const job = await deps.jobs.submit({ ...fields, kwargs, submitter, role });
      const by = typeof kwargs.by === 'string' ? kwargs.by : submitter;
      if (role === 'admin') await markAdminDisables(deps, job, by);
      deps.metrics.jobsSubmitted.inc();
      deps.events.emit('job/submitted', {
        jid: job.jid,
        fun: job.fun,
        target: job.target,
        submitter: job.submitter,
        minions: job.expected.length,
        ...(job.skipped === undefined ? {} : { skipped: job.skipped.length }),
      });
      followReturns(deps, job.jid, job.expected, body.timeoutMs ?? deps.defaultJobTimeoutMs);
      return {
        jid: job.jid,
        minions: job.expected,
        skipped: job.skipped ?? [],
        notConnected: job.notConnected ?? [],
        job,
      };
    }),
    route('previewTarget', ({ body }, request) => {
      // The very steps submit takes, up to storing and sending: the preview cannot disagree with the job.
      const selected = deps.jobs.expectedMinions(body.target, body.targetType);
      const { expected, skipped } = deps.jobs.partitionDisabled(
        { fun: body.fun, args: body.args, kwargs: body.kwargs, role: request.caller?.role ?? 'read' },
        selected,
      );
      const notConnected = expected.filter((minionId) => !deps.jobs.isConnected(minionId));
      return Promise.resolve({
        count: expected.length,
        minions: expected.slice(0, body.limit),
        skipped: skipped.slice(0, body.limit),
        skippedCount: skipped.length,
        notConnected: notConnected.slice(0, body.limit),
        notConnectedCount: notConnected.length,
      });
    }),
    route('listJobs', async ({ query }) => {
      const page = await deps.jobs.list(query.limit, query.cursor);
      return { jobs: page.items, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
    }),
    route('getJob', async ({ params }) => {
      const job = await deps.jobs.get(params.jid);
      const returns = await deps.jobs.returns(params.jid);
      const returned = new Set(returns.map((r) => r.minionId));
      const offline = new Set(job.notConnected ?? []);
      return {
        job,
        returns,
        missing: job.expected.filter((id) => !returned.has(id) && !offline.has(id)),
        notConnected: [...offline].filter((id) => !returned.has(id)),
      };
    }),
    route('jobStream', async ({ params, query }, request, reply) => {
      const { jid } = params;
      const timeoutMs = query.timeoutMs ?? deps.defaultJobTimeoutMs;
      const job = await deps.jobs.get(jid);
      const expected = new Set(job.expected);
      const offline = new Set(job.notConnected ?? []);
      const seen = new Set<string>();
      // Counted against the caller's token before anything is written: over its share is a 429.
      const release = deps.onStreamOpen(() => finish(), request.caller?.name ?? 'unknown');
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        ...API_ANSWER_HEADERS,
        connection: 'keep-alive',
      });
      // The events of one turn of the event loop go out in one write: a job's returns arrive
      // stored a batch at a time, and a socket write per return was most of announcing them.
      let queued: string[] = [];
      let flushing = false;
      const flush = (): void => {
        flushing = false;
        if (queued.length === 0 || raw.destroyed) return;
        raw.write(queued.join(''));
        queued = [];
      };
      const write = (event: string, data: unknown): void => {
        queued.push(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        if (flushing) return;
        flushing = true;
        setImmediate(flush);
      };
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        stop();
        clearTimeout(deadline);
        clearInterval(poll);
        const unseen = [...expected].filter((id) => !seen.has(id)).sort();
        write('done', {
          jid,
          missing: unseen.filter((id) => !offline.has(id)),
          notConnected: unseen.filter((id) => offline.has(id)),
        });
        flush();
        raw.end();
      };
      // Who has yet to return: a set, so a thousand returns cost a thousand deletes, not a million lookups.
      // Minions connected to no master are not waited for, unless the caller asks (as salt waits).
      const waiting = new Set(query.waitOffline === 'true' ? expected : [...expected].filter((id) => !offline.has(id)));
      const emit = (event: ReturnEvent): void => {
        if (finished || seen.has(event.minionId)) return;
        seen.add(event.minionId);
        waiting.delete(event.minionId);
        write('return', event);
        if (waiting.size === 0) finish();
      };
      // Listen first, then read what is stored: no return can fall between the two.
      const stop = deps.jobs.listen(jid, emit);
      const deadline = setTimeout(finish, Math.max(0, job.createdAt + timeoutMs - Date.now()));
      // Returns stored by other masters reach this stream through the table.
      const catchUp = async (): Promise<void> => {
        for (const stored of await deps.jobs.returns(jid)) emit(stored);
      };
      const poll = setInterval(() => void catchUp().catch(() => undefined), 1_000);
      raw.on('close', () => {
        finished = true;
        stop();
        clearTimeout(deadline);
        clearInterval(poll);
        release();
      });
      write('job', { jid, minions: job.expected });
      await catchUp();
      // A job every selected minion skipped, or none of whose minions is connected, has nothing to wait for.
      if (waiting.size === 0) finish();
      return reply;
    }),
  ];
}

/**
 * An admin's state.disable is the master's mark too (as the API's disable is), so only an admin can
 * lift it: the names it disabled (`*` for every state run) join the minion's mark; an admin's
 * state.enable takes the names it enables out of the marks of the minions it went to.
 */
async function markAdminDisables(
  deps: ApiContext,
  job: Pick<JobRecord, 'fun' | 'args' | 'kwargs' | 'expected'>,
  by: string,
): Promise<void> {
  if (job.fun !== 'state.disable' && job.fun !== 'state.enable') return;
  const names = killswitchNames(job.args, job.kwargs);
  const reason = typeof job.kwargs.reason === 'string' ? job.kwargs.reason : '';
  for (const minionId of job.expected) {
    const mark = deps.jobs.adminDisabled(minionId);
    const before = mark === undefined ? [] : adminStates(mark);
    const states =
      job.fun === 'state.disable'
        ? [...new Set([...before, ...names])]
        : before.filter((name) => !names.includes(name));
    if (states.length === before.length && states.every((name) => before.includes(name))) continue;
    if (states.length === 0) {
      await deps.minions.setDisabled(minionId, undefined);
      deps.events.emit('minion/enabled', { minionId, by });
      continue;
    }
    const record = await deps.minions.setDisabled(minionId, {
      by,
      reason: job.fun === 'state.disable' && reason !== '' ? reason : (mark?.reason ?? reason),
      states,
    });
    deps.events.emit('minion/disabled', {
      minionId,
      by,
      reason: record.disabled?.reason,
      at: record.disabled?.at,
      states,
    });
  }
}

/**
 * The origin master hears every return of its own jobs (peers forward them): each becomes a
 * `job/return` cluster event and a count, until all returned or the job's time is up.
 */
function followReturns(deps: ApiContext, jid: string, expected: readonly string[], timeoutMs: number): void {
  if (expected.length === 0) return;
  const waiting = new Set(expected);
  const done = (): void => {
    stop();
    clearTimeout(timer);
  };
  const stop = deps.jobs.listen(jid, (event) => {
    if (!waiting.delete(event.minionId)) return;
    deps.metrics.jobReturns.inc({ success: String(event.success) });
    deps.events.emit('job/return', {
      jid,
      minionId: event.minionId,
      success: event.success,
      retcode: event.retcode,
    });
    if (waiting.size === 0) done();
  });
  const timer = setTimeout(done, timeoutMs + 5_000);
  timer.unref();
}
