import { z } from 'zod';
import { defineState, outcome } from './types.js';
import type { StateModule } from './types.js';

/** Salt's test states take any keyword argument (`**kwargs`); `comment` overrides the default one. */
const Args = z.looseObject({ name: z.string(), comment: z.string().optional() });
const PRETEND = { testing: { old: 'Unchanged', new: 'Something pretended to change' } };

/** `True`, `False` or `Random`, as YAML or a command line gives them. */
const TriState = z
  .union([z.boolean(), z.enum(['Random', 'random', 'True', 'true', 'False', 'false'])])
  .transform((value) =>
    typeof value === 'boolean' ? value : value.toLowerCase() === 'random' ? 'Random' : value.toLowerCase() === 'true',
  );

const Configurable = z.looseObject({
  name: z.string(),
  changes: TriState.default(true),
  result: TriState.default(true),
  comment: z.string().default(''),
  warnings: z.union([z.string(), z.array(z.string())]).optional(),
});

const Notification = z.looseObject({ name: z.string(), text: z.string().optional() });

/** Salt's test states: they act on nothing, for trying requisites, ordering and orchestration. */
export const testStates: StateModule = Object.freeze({
  name: 'test',
  functions: Object.freeze({
    nop: defineState({ schema: Args, run: async (args) => outcome(true, args.comment ?? 'Success!') }),
    succeed_without_changes: defineState({
      schema: Args,
      run: async (args) => outcome(true, args.comment ?? 'Success!'),
    }),
    fail_without_changes: defineState({
      schema: Args,
      run: async (args, call) =>
        outcome(false, call.test ? "If we weren't testing, this would be a failure!" : (args.comment ?? 'Failure!')),
    }),
    succeed_with_changes: defineState({
      schema: Args,
      run: async (args, call) =>
        call.test
          ? outcome(null, "If we weren't testing, this would be successful with changes", PRETEND)
          : outcome(true, args.comment ?? 'Success!', PRETEND),
    }),
    fail_with_changes: defineState({
      schema: Args,
      run: async (args, call) =>
        call.test
          ? outcome(null, "If we weren't testing, this would be failed with changes", PRETEND)
          : outcome(false, args.comment ?? 'Failure!', PRETEND),
    }),
    configurable_test_state: defineState({
      schema: Configurable,
      run: async (args, call) => {
        const pick = (value: boolean | 'Random') => (value === 'Random' ? Math.random() < 0.5 : value);
        const changes = pick(args.changes) ? PRETEND : {};
        if (call.test)
          return outcome(Object.keys(changes).length === 0 ? true : null, args.comment || 'This is a test', changes);
        return outcome(pick(args.result), args.comment, changes);
      },
    }),
    show_notification: defineState({
      schema: Notification,
      run: async (args) => outcome(true, args.text ?? args.name),
    }),
  }),
  modWatch: async () => outcome(true, 'Watch statement fired.', {}),
});
