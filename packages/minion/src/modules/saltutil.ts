import { z } from 'zod';
import { ExecutionError } from './errors.js';
import { defineFunction } from './define-function.js';
import { globMatcher } from './glob.js';
import type { ExecutionModule } from './types.js';

/** Salt's saltutil module, the part about the minion's own running jobs. */
export const saltutilModule: ExecutionModule = Object.freeze({
  name: 'saltutil',
  functions: Object.freeze({
    running: defineFunction({
      doc: "Returns the jobs running on this minion (jid, fun, args, kwargs, startedAt, pid of a child process), not counting this one.\n\nCLI Example: phoenix run '*' saltutil.running",
      schema: z.strictObject({}),
      run: (_args, ctx) => ctx.jobs.running().filter((job) => job.jid !== ctx.jid),
    }),
    is_running: defineFunction({
      doc: `Returns the running jobs whose function matches a glob (an empty list when none does).

fun: a function name or glob, e.g. state.* or cmd.run

CLI Example: phoenix run '*' saltutil.is_running 'state.*'`,
      schema: z.strictObject({ fun: z.string().min(1) }),
      run: ({ fun }, ctx) => {
        const matches = globMatcher(fun);
        return ctx.jobs.running().filter((job) => job.jid !== ctx.jid && matches(job.fun));
      },
    }),
    find_job: defineFunction({
      doc: `Returns the running job with this jid ({jid, fun, arg, pid, ...}), or {} when none is running.

jid: the job

CLI Example: phoenix run '*' saltutil.find_job 20240101120000123456`,
      schema: z.strictObject({ jid: z.string().min(1) }),
      run: ({ jid }, ctx) => {
        const job = ctx.jobs.running().find((running) => running.jid === jid);
        if (!job) return {};
        return {
          jid: job.jid,
          fun: job.fun,
          arg: [...job.args, ...(Object.keys(job.kwargs).length > 0 ? [{ ...job.kwargs, __kwarg__: true }] : [])],
          pid: job.pid ?? process.pid,
          startedAt: job.startedAt,
        };
      },
    }),
    refresh_pillar: defineFunction({
      doc: "Compiles this minion's pillar anew. Phoenix keeps no pillar between jobs (every state run and pillar.* call compiles it), so this checks that it renders. Returns True, or False when it does not.\n\nCLI Example: phoenix run '*' saltutil.refresh_pillar",
      schema: z.strictObject({
        wait: z.boolean().default(false),
        clean_cache: z.boolean().default(true),
        timeout: z.number().optional(),
      }),
      run: async (_args, ctx) => {
        const items = ctx.modules.get('pillar.items');
        if (!items) throw new ExecutionError('this minion has no pillar module');
        try {
          await items.run({ args: [] }, ctx);
          return true;
        } catch (err) {
          ctx.logger.warn({ err }, 'pillar did not compile');
          return false;
        }
      },
    }),
    kill_job: defineFunction({
      doc: `Stops a running job and any process it started; that job returns failed. Returns true.

jid: the job to stop

CLI Example: phoenix run '*' saltutil.kill_job 20240101120000123456`,
      schema: z.strictObject({ jid: z.string().min(1) }),
      run: ({ jid }, ctx) => {
        if (!ctx.jobs.kill(jid)) {
          throw new ExecutionError(`no job with jid ${jid} is running on this minion (see saltutil.running)`, {
            details: { jid },
          });
        }
        return true;
      },
    }),
  }),
});
