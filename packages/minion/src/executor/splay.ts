/**
 * How long this minion waits before running a job with a splay: a random whole number of
 * milliseconds in [0, splayMs], so a fleet given the same scheduled job does not start it in the
 * same instant. `random` returns [0, 1) like Math.random; a value outside that is clamped.
 */
export function splayDelay(splayMs: number, random: () => number = Math.random): number {
  if (!Number.isFinite(splayMs) || splayMs <= 0) return 0;
  const fraction = Math.min(Math.max(random(), 0), 1);
  return Math.min(Math.floor(fraction * (splayMs + 1)), Math.floor(splayMs));
}
