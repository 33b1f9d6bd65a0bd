import { z } from 'zod';
import { defineFunction } from './define-function.js';
import { globMatcher, selectFunctions } from './glob.js';
import type { ExecutionModule } from './types.js';

const Pattern = z.string().min(1).optional();

/** Salt's sys module: what this minion can run, and how. */
export const sysModule: ExecutionModule = Object.freeze({
  name: 'sys',
  functions: Object.freeze({
    list_functions: defineFunction({
      doc: `Returns the functions this minion can run, sorted.

module: a module name (sys), or a glob on function names (sys.list_*); all when absent

CLI Example: phoenix run '*' sys.list_functions cmd`,
      schema: z.strictObject({ module: Pattern }),
      run: ({ module }, ctx) => selectFunctions(ctx.modules.functionNames(), module),
    }),
    list_modules: defineFunction({
      doc: `Returns the execution modules this minion has, sorted.

module: a glob on module names; all when absent

CLI Example: phoenix run '*' sys.list_modules`,
      schema: z.strictObject({ module: Pattern }),
      run: ({ module }, ctx) => {
        const names = ctx.modules.moduleNames();
        return module === undefined ? names : names.filter(globMatcher(module));
      },
    }),
    doc: defineFunction({
      doc: `Returns the documentation of functions, as {function: text}.

name: a function (test.ping), a module (test) or a glob (cmd.run*); all when absent

CLI Example: phoenix run '*' sys.doc cmd.run`,
      schema: z.strictObject({ name: Pattern }),
      run: ({ name }, ctx) => {
        const docs: Record<string, string> = {};
        for (const fun of selectFunctions(ctx.modules.functionNames(), name)) {
          const fn = ctx.modules.get(fun);
          if (fn) docs[fun] = fn.doc;
        }
        return docs;
      },
    }),
  }),
});
