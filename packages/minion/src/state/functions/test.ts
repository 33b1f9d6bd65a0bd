import { z } from 'zod';
import { defineState, outcome } from './types.js';
import type { StateModule } from './types.js';

const Args = z.strictObject({ name: z.string() });

/** Salt's test states: they act on nothing, for trying requisites and orchestration. */
export const testStates: StateModule = Object.freeze({
  name: 'test',
  functions: Object.freeze({
    nop: defineState({ schema: Args, run: async () => outcome(true, 'Success!') }),
    succeed_without_changes: defineState({ schema: Args, run: async () => outcome(true, 'Success!') }),
    succeed_with_changes: defineState({
      schema: Args,
      run: async (_args, call) =>
        outcome(
          call.test ? null : true,
          call.test ? "If we weren't testing, this would be a success with changes" : 'Success!',
          {
            testing: { old: 'Unchanged', new: 'Something pretended to change' },
          },
        ),
    }),
    fail_without_changes: defineState({ schema: Args, run: async () => outcome(false, 'Failure!') }),
    fail_with_changes: defineState({
      schema: Args,
      run: async () =>
        outcome(false, 'Failure!', { testing: { old: 'Unchanged', new: 'Something pretended to change' } }),
    }),
  }),
  modWatch: async (_args: Record<string, unknown>, sfun: string) =>
    outcome(true, `Watch statement fired (${sfun})`, { watched: true }),
});
