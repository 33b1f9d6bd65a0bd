import { z } from 'zod';
import { GrainValueSchema } from '../grains/types.js';
import { defineFunction } from './define-function.js';
import type { ExecutionModule } from './types.js';

const Key = z.string().min(1);

/** Salt's grains module: read the minion's grains, and set or delete custom ones (persisted in the cache directory). */
export const grainsModule: ExecutionModule = Object.freeze({
  name: 'grains',
  functions: Object.freeze({
    items: defineFunction({
      doc: "Returns all grains: core grains gathered at start, overridden by custom grains.\n\nCLI Example: phoenix run '*' grains.items",
      schema: z.strictObject({}),
      run: (_args, ctx) => ctx.grains.items(),
    }),
    get: defineFunction({
      doc: `Returns one grain; nested values are reached with the delimiter (\`ip4_interfaces:eth0\`).

key: the grain, e.g. os or ip4_interfaces:eth0:0
default: returned when the grain does not exist (default "")
delimiter: separates the levels of a nested key (default ":")

CLI Example: phoenix run '*' grains.get os_family`,
      schema: z.strictObject({ key: Key, default: z.unknown().optional(), delimiter: z.string().min(1).default(':') }),
      run: ({ key, default: fallback, delimiter }, ctx) => {
        const found = ctx.grains.lookup(key, delimiter);
        return found.found ? found.value : (fallback ?? '');
      },
    }),
    setval: defineFunction({
      doc: `Sets a custom grain, saved in the minion's cache directory so it survives a restart, and reported to the master at once. Returns {key: val}.

key: the grain name (overrides a core grain of the same name; "id" cannot be set)
val: any value: string, number, boolean, list or mapping

CLI Example: phoenix run '*' grains.setval role web`,
      schema: z.strictObject({ key: Key, val: GrainValueSchema }),
      run: async ({ key, val }, ctx) => {
        await ctx.grains.setval(key, val);
        return { [key]: val };
      },
    }),
    delval: defineFunction({
      doc: `Deletes a custom grain; a core grain it overrode shows again. Returns {key: value now} (null when the grain is gone). Core grains cannot be deleted.

key: the grain name

CLI Example: phoenix run '*' grains.delval role`,
      schema: z.strictObject({ key: Key }),
      run: async ({ key }, ctx) => {
        await ctx.grains.delval(key);
        const grains = ctx.grains.items();
        return { [key]: Object.hasOwn(grains, key) ? grains[key] : null };
      },
    }),
    ls: defineFunction({
      doc: "Returns the names of all grains, sorted.\n\nCLI Example: phoenix run '*' grains.ls",
      schema: z.strictObject({}),
      run: (_args, ctx) => ctx.grains.keys(),
    }),
  }),
});
