import type { Clock } from '@phoenix/protocol';

/** Time as a parameter: the manager reads the time and sets its poll timer only through this. */
export type MasterListClock = Clock;
export { systemClock } from '@phoenix/protocol';

/** `ms` ± 20%, so thousands of minions that lost their masters together do not read the table together. */
export function jittered(ms: number, random: () => number): number {
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(ms * (0.8 + 0.4 * (Number.isFinite(r) ? r : 0.5)));
}
