import type { ScheduleEntry } from '../config.js';
import type { JobRequest } from '../jobs.js';

/**
 * The tick a cron firing belongs to: its scheduled time to the whole second. Every master's cron
 * fires the same tick at about the same moment, and they all name it the same, so the claim on
 * (entry, tick) is one item that only one master can write.
 */
export function tickOf(slot: Date | number): number {
  const ms = typeof slot === 'number' ? slot : slot.getTime();
  return Math.floor(ms / 1000) * 1000;
}

/** The ordinary job a schedule entry fires for one tick, submitted by the master that claimed it. */
export function scheduledJob(entry: ScheduleEntry, tickAt: number, masterId: string): JobRequest {
  return {
    target: entry.target,
    targetType: entry.targetType,
    fun: entry.function,
    args: [...entry.args],
    kwargs: { ...entry.kwargs },
    submitter: `schedule/${entry.name}@${masterId}`,
    ...(entry.splaySeconds > 0 ? { splayMs: entry.splaySeconds * 1000 } : {}),
    schedule: { name: entry.name, tickAt },
  };
}
