import type { z } from 'zod';
import { PhoenixError, ProtocolErrorCodes } from './errors.js';

/**
 * Validates a configuration object against its schema. Every problem is named by its key path
 * and the source it came from (a file path, "environment", "command line"), so an operator can
 * fix the right line without guessing.
 */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
      return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
    }
    return `${path ? `"${path}"` : 'value'}: ${issue.message}`;
  });
  throw new PhoenixError(
    ProtocolErrorCodes.CONFIG_INVALID,
    `invalid configuration in ${source}: ${problems.join('; ')}`,
    {
      details: { source, problems },
    },
  );
}
