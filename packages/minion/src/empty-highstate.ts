import { z } from 'zod';
import { defineFunction, type ExecutionModule } from './modules/index.js';

/**
 * `state.highstate` until the state system is wired in: it applies an empty top (no states), so a
 * launched instance's first highstate succeeds and the lifecycle path runs for real end to end.
 * Replaced by the state module; it never pretends to have applied anything.
 */
export const emptyHighstateModule: ExecutionModule = Object.freeze({
  name: 'state',
  functions: Object.freeze({
    highstate: defineFunction({
      doc: 'Applies the top file. No state tree is configured yet, so the top is empty and nothing is applied.',
      schema: z.strictObject({ test: z.boolean().optional() }),
      run: () => ({}),
    }),
  }),
});
