import type { FastifyPluginAsync, preHandlerHookHandler } from 'fastify';
import { z } from 'zod';
import { JidSchema, TargetTypeSchema } from '@phoenix/protocol';
import type { ReturnEvent } from '../jobs.js';
import type { Role } from './auth.js';
import { validate, type ApiDeps } from './server.js';

const SubmitBody = z.strictObject({
  target: z.union([z.string().min(1).max(4096), z.array(z.string().min(1).max(255)).min(1).max(100_000)]),
  targetType: TargetTypeSchema.default('glob'),
  fun: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'module.function'),
  args: z.array(z.unknown()).max(1000).default([]),
  kwargs: z.record(z.string(), z.unknown()).default({}),
  timeoutMs: z.int().min(1).max(86_400_000).optional(),
});
const JidParams = z.strictObject({ jid: JidSchema });
const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().max(4096).optional(),
});
const StreamQuery = z.strictObject({ timeoutMs: z.coerce.number().int().min(1).max(86_400_000).optional() });

/** Jobs: submit (operate), list and show (read), and a server-sent-events stream of a job's returns. */
export function jobRoutes(deps: ApiDeps, requireRole: (role: Role) => preHandlerHookHandler): FastifyPluginAsync {
  return async (app) => {
    app.post('/jobs', { preHandler: requireRole('operate') }, async (request, reply) => {
      const body = validate(SubmitBody, request.body, 'body');
      const job = await deps.jobs.submit({ ...body, submitter: request.caller?.name ?? 'unknown' });
      return reply.status(201).send({ jid: job.jid, minions: job.expected, job });
    });

    app.get('/jobs', { preHandler: requireRole('read') }, async (request) => {
      const query = validate(ListQuery, request.query, 'query');
      const page = await deps.jobs.list(query.limit, query.cursor);
      return { jobs: page.items, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
    });

    app.get('/jobs/:jid', { preHandler: requireRole('read') }, async (request) => {
      const { jid } = validate(JidParams, request.params, 'path');
      const job = await deps.jobs.get(jid);
      const returns = await deps.jobs.returns(jid);
      const returned = new Set(returns.map((r) => r.minionId));
      return { job, returns, missing: job.expected.filter((id) => !returned.has(id)) };
    });

    app.get('/jobs/:jid/stream', { preHandler: requireRole('read') }, async (request, reply) => {
      const { jid } = validate(JidParams, request.params, 'path');
      const { timeoutMs = deps.defaultJobTimeoutMs } = validate(StreamQuery, request.query, 'query');
      const job = await deps.jobs.get(jid);
      const expected = new Set(job.expected);
      const seen = new Set<string>();
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      const write = (event: string, data: unknown): void => {
        raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        stop();
        clearTimeout(deadline);
        clearInterval(poll);
        write('done', { jid, missing: [...expected].filter((id) => !seen.has(id)).sort() });
        raw.end();
      };
      const emit = (event: ReturnEvent): void => {
        if (finished || seen.has(event.minionId)) return;
        seen.add(event.minionId);
        write('return', event);
        if ([...expected].every((id) => seen.has(id))) finish();
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
      });
      write('job', { jid, minions: job.expected });
      await catchUp();
    });
  };
}
