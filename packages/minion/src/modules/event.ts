import { z } from 'zod';
import { defineFunction } from './define-function.js';
import { ExecutionError } from './errors.js';
import type { ExecutionModule } from './types.js';

/** The tags only the cluster itself emits: a minion's event may not pose as one of them. */
const RESERVED = 'phoenix/';

/**
 * Salt's event module: `event.send` fires an event of this minion's to its master, for the
 * masters' reactor rules and `salt.wait_for_event` steps. The master stamps the minion's id on it.
 */
export const eventModule: ExecutionModule = Object.freeze({
  name: 'event',
  functions: Object.freeze({
    send: defineFunction({
      doc:
        'Sends an event to the master: its tag and data (keyword arguments are merged into data), for reactor rules.\n\n' +
        "tag: the event's tag, e.g. myapp/deploy/done (tags under phoenix/ are the cluster's own)\n" +
        'data: a mapping\n\n' +
        'CLI Example: phoenix run web-1 event.send myapp/deploy/done version=7',
      schema: z.strictObject({
        tag: z
          .string()
          .min(1)
          .max(255)
          .regex(/^\S+$/, 'a tag is one word, without spaces')
          .refine((tag) => !tag.startsWith(RESERVED), `tags under ${RESERVED} are the cluster's own`),
        data: z.record(z.string(), z.unknown()).optional(),
      }),
      extraKeywords: true,
      run: ({ tag, data }, ctx, extra) => {
        const kwargs = Object.fromEntries(Object.entries(extra).filter(([key]) => !key.startsWith('__')));
        if (!ctx.sendEvent(tag, { ...data, ...kwargs })) {
          throw new ExecutionError('no master is connected to send the event to');
        }
        return true;
      },
    }),
  }),
});
