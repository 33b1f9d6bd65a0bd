import { PhoenixError, ProtocolErrors } from './errors.js';

/**
 * Salt-format job ids: 20 digits `YYYYMMDDhhmmssffffff`, the UTC time with microseconds. They sort
 * by time as plain strings, which the jobs table relies on. Several masters mint jids, so two can
 * collide; the jobs table stores a job with a conditional write and the caller retries with the
 * next jid. Generation only has to be cheap and strictly increasing per generator.
 */

/** The last millisecond a jid can hold: 9999-12-31T23:59:59.999Z. */
const MAX_MILLIS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export interface JidGeneratorOptions {
  /**
   * Picks the first microsecond used within a new millisecond, as a fraction in [0, 1). Clocks give
   * milliseconds, so the last three digits are ours to choose: starting at a random one makes two
   * masters that mint in the same millisecond unlikely to collide. Tests pass `() => 0`.
   */
  random?: () => number;
}

/** Mints jids that strictly increase, even when called many times within one millisecond. */
export class JidGenerator {
  readonly #random: () => number;
  // Kept as a pair: epoch microseconds pass 2^53 in the year 2255 and would stop counting by one.
  #lastMillis = -1;
  #lastMicros = 999;

  constructor(options: JidGeneratorOptions = {}) {
    this.#random = options.random ?? Math.random;
  }

  /** The next jid for `now` (a Date or epoch milliseconds; default: the current time). */
  next(now: Date | number = Date.now()): string {
    const time = typeof now === 'number' ? now : now.getTime();
    if (!Number.isFinite(time) || time < 0) {
      throw new PhoenixError(ProtocolErrors.PHX_JID_INVALID, `cannot make a jid for the time ${String(now)}`);
    }
    let millis = Math.floor(time);
    // `|| 0` also turns a NaN from a broken random source into 0.
    let micros = Math.min(999, Math.max(0, Math.floor(this.#random() * 1000))) || 0;
    // A clock that stands still or steps back must not produce an equal or smaller jid.
    if (millis < this.#lastMillis || (millis === this.#lastMillis && micros <= this.#lastMicros)) {
      [millis, micros] =
        this.#lastMicros === 999 ? [this.#lastMillis + 1, 0] : [this.#lastMillis, this.#lastMicros + 1];
    }
    if (millis > MAX_MILLIS) {
      throw new PhoenixError(ProtocolErrors.PHX_JID_INVALID, 'cannot make a jid after the year 9999');
    }
    this.#lastMillis = millis;
    this.#lastMicros = micros;
    return formatJid(millis, micros);
  }
}

function formatJid(millis: number, micros: number): string {
  const date = new Date(millis);
  const pad = (value: number, width: number) => String(value).padStart(width, '0');
  return (
    pad(date.getUTCFullYear(), 4) +
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    pad(date.getUTCMilliseconds(), 3) +
    pad(micros, 3)
  );
}

/** True for a well-formed jid: 20 digits that spell a real UTC date and time. */
export function isJid(value: unknown): value is string {
  return typeof value === 'string' && parseJid(value) !== undefined;
}

/** The time a jid was minted, to the millisecond (a Date cannot hold the microseconds). */
export function jidTime(jid: string): Date {
  const millis = parseJid(jid);
  if (millis === undefined) {
    const shown = typeof jid === 'string' ? JSON.stringify(jid.slice(0, 40)) : typeof jid;
    throw new PhoenixError(
      ProtocolErrors.PHX_JID_INVALID,
      `${shown} is not a jid (20 digits: YYYYMMDDhhmmssffffff, UTC)`,
    );
  }
  return new Date(millis);
}

function parseJid(jid: string): number | undefined {
  if (typeof jid !== 'string' || !/^\d{20}$/.test(jid)) return undefined;
  const field = (from: number, to: number) => Number(jid.slice(from, to));
  const [year, month, day] = [field(0, 4), field(4, 6), field(6, 8)];
  const [hour, minute, second, millis] = [field(8, 10), field(10, 12), field(12, 14), field(14, 17)];
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  // Date rolls 31 February over into March; a jid must name a day that exists.
  return date.getUTCDate() === day ? date.getTime() : undefined;
}
