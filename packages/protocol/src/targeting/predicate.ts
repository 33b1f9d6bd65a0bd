/** What a target is matched against: a minion's id and its (cached) grains. */
export interface MinionFacts {
  readonly id: string;
  readonly grains: Readonly<Record<string, unknown>>;
}

/** One compiled part of a target (an id glob, a grain match, a compound's and/or/not). */
export type Predicate = (minion: MinionFacts) => boolean;
