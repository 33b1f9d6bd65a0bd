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
