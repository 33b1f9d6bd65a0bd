import { z } from 'zod';

/** A custom grain value: anything JSON can carry, so it survives YAML on disk and msgpack on the wire. */
export const GrainValueSchema = z.json();
export type GrainValue = z.output<typeof GrainValueSchema>;

/** A minion's grains as handed out: a frozen snapshot, never the store's own object. */
export type Grains = Readonly<Record<string, unknown>>;
