import type { Logger } from 'pino';
import { createTask, type ScheduledTask } from 'node-cron';
import type { JobRecord } from '@phoenix/store';
import type { ScheduleEntry } from '../config.js';
import type { ClusterEvents } from '../events.js';
import type { JobRequest } from '../jobs.js';
import { scheduledJob, tickOf } from './tick.js';
import { MasterErrors } from '../errors.js';
import { isPhoenixError } from '@phoenix/protocol';

export interface SchedulerOptions {
  masterId: string;
  entries: readonly ScheduleEntry[];
  /** Claims (entry, tick) for this master; true when this master won it. */
  claim: (name: string, tickAt: number) => Promise<boolean>;
  submit: (request: JobRequest) => Promise<JobRecord>;
  events: ClusterEvents;
  log: Logger;
}

/**
 * The master schedule (Salt's `schedule` in the master config). Every master runs every entry's
 * cron; at each tick they all race to claim it with a conditional write and the one that wins
 * submits an ordinary job, so a tick fires exactly once while any master is up, and a dead master
 * is simply absent from the race. A master that wins and dies before submitting loses that tick.
 */
export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #tasks: ScheduledTask[] = [];

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  start(): void {
    const { log } = this.#options;
    for (const entry of this.#options.entries) {
      if (!entry.enabled) continue;
      const task = createTask(entry.cron, (context) => this.fire(entry, context.date), {
        name: `phoenix-schedule-${entry.name}`,
        // A master whose event loop stalled still races for the tick it was late for; the claim
        // keeps it from firing twice.
        missedExecutionTolerance: 30_000,
        logger: {
          info: (message) => log.debug({ schedule: entry.name }, message),
          warn: (message) => log.warn({ schedule: entry.name }, message),
          error: (message) => log.error({ schedule: entry.name, err: message }, 'schedule task error'),
          debug: (message) => log.debug({ schedule: entry.name, detail: String(message) }, 'schedule task'),
        },
      });
      this.#tasks.push(task);
      void task.start();
      log.info({ schedule: entry.name, cron: entry.cron, fun: entry.function, target: entry.target }, 'scheduled');
    }
  }

  async stop(): Promise<void> {
    const tasks = this.#tasks.splice(0);
    await Promise.all(tasks.map((task) => task.destroy()));
  }

  /** One tick of one entry on this master: claim it, and fire the job if this master won. */
  async fire(entry: ScheduleEntry, slot: Date | number): Promise<JobRecord | undefined> {
    const { masterId, events, log } = this.#options;
    const tickAt = tickOf(slot);
    const ids = { schedule: entry.name, tickAt };
    let won: boolean;
    try {
      won = await this.#options.claim(entry.name, tickAt);
    } catch (err) {
      log.warn({ ...ids, err }, 'could not claim a scheduled tick; another master may fire it');
      return undefined;
    }
    if (!won) {
      log.debug(ids, 'scheduled tick claimed by another master');
      return undefined;
    }
    try {
      const job = await this.#options.submit(scheduledJob(entry, tickAt, masterId));
      events.emit('schedule/fired', {
        ...ids,
        jid: job.jid,
        fun: job.fun,
        minions: job.expected.length,
        ...(job.skipped === undefined ? {} : { skipped: job.skipped }),
      });
      return job;
    } catch (err) {
      if (isPhoenixError(err, MasterErrors.PHX_JOB_NO_MINIONS)) {
        log.info({ ...ids, target: entry.target }, 'scheduled tick matched no accepted minion; nothing was run');
      } else {
        log.error({ ...ids, err }, 'scheduled job could not be submitted');
      }
      return undefined;
    }
  }
}
