import { z } from 'zod';
import { abortableDelay } from './abortable-delay.js';
import { defineFunction } from './define-function.js';
import type { ExecutionModule } from './types.js';

/** setTimeout's own ceiling (about 24.8 days); longer would fire at once. */
const MAX_SLEEP_SECONDS = 2_147_483;

/** Salt's test module: checks that a minion is alive and answering. */
export const testModule: ExecutionModule = Object.freeze({
  name: 'test',
  functions: Object.freeze({
    ping: defineFunction({
      doc: "Returns true: the minion is up and answering.\n\nCLI Example: phoenix run '*' test.ping",
      schema: z.strictObject({}),
      run: () => true,
    }),
    echo: defineFunction({
      doc: "Returns the text it was given.\n\ntext: the string to return\n\nCLI Example: phoenix run '*' test.echo 'hello'",
      schema: z.strictObject({ text: z.string() }),
      run: ({ text }) => text,
    }),
    sleep: defineFunction({
      doc: "Waits `length` seconds, then returns true; saltutil.kill_job or the job timeout stops it early.\n\nlength: seconds to wait\n\nCLI Example: phoenix run '*' test.sleep 20",
      schema: z.strictObject({ length: z.number().min(0).max(MAX_SLEEP_SECONDS) }),
      run: async ({ length }, ctx) => {
        await abortableDelay(length * 1000, ctx.signal);
        return true;
      },
    }),
    arg: defineFunction({
      doc: "Returns the arguments it was given: {args, kwargs} (Salt's test.arg).\n\nCLI Example: phoenix run '*' test.arg 1 'two' three=3",
      schema: z.strictObject({ args: z.array(z.unknown()) }),
      varargs: 'args',
      extraKeywords: true,
      run: ({ args }, _ctx, extra) => ({
        args,
        kwargs: Object.fromEntries(Object.entries(extra).filter(([key]) => !key.startsWith('__'))),
      }),
    }),
    true: defineFunction({
      doc: "Returns True.\n\nCLI Example: phoenix run '*' test.true",
      schema: z.strictObject({}),
      run: () => true,
    }),
    false: defineFunction({
      doc: "Returns False (and the job fails).\n\nCLI Example: phoenix run '*' test.false",
      schema: z.strictObject({}),
      run: () => false,
    }),
    version: defineFunction({
      doc: "Returns the Phoenix version the minion runs.\n\nCLI Example: phoenix run '*' test.version",
      schema: z.strictObject({}),
      run: (_args, ctx) => ctx.version,
    }),
  }),
});
