import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { CompleteLifecycleActionCommand, type AutoScalingClient } from '@aws-sdk/client-auto-scaling';

export interface OwnLaunchOptions {
  autoscaling: AutoScalingClient;
  /** This master's auto-scaling group and its launching hook. */
  group: string;
  hookName: string;
  /** This master's instance id (its master id). */
  instanceId: string;
  log: Logger;
  /** Called once Auto Scaling has taken the CONTINUE. */
  onCompleted?: () => void;
  /** Tries before giving up to the hook's default result; default 8 (about four minutes of waits). */
  attempts?: number;
  /** The first wait between tries (doubling, at most 60 s); default 1 s. */
  retryMs?: number;
}

export type OwnLaunchOutcome = 'completed' | 'no action' | 'gave up' | 'stopped';

/**
 * Completes this master's own launching lifecycle action with CONTINUE, once: called when the
 * master serves. Auto Scaling saying there is no such action (a master restarted on an instance long
 * in service, or the reactor was first) is an answer, not a failure; other errors are tried again,
 * a bounded number of times, after which the hook's default result applies.
 */
export class OwnLaunch {
  readonly #abort = new AbortController();
  #done: Promise<OwnLaunchOutcome> | undefined;

  constructor(private readonly options: OwnLaunchOptions) {}

  complete(): Promise<OwnLaunchOutcome> {
    this.#done ??= this.#run();
    return this.#done;
  }

  stop(): void {
    this.#abort.abort();
  }

  async #run(): Promise<OwnLaunchOutcome> {
    const { autoscaling, group, hookName, instanceId, log, attempts = 8, retryMs = 1_000 } = this.options;
    const signal = this.#abort.signal;
    for (let attempt = 1; attempt <= attempts && !signal.aborted; attempt++) {
      try {
        await autoscaling.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: group,
            LifecycleHookName: hookName,
            InstanceId: instanceId,
            LifecycleActionResult: 'CONTINUE',
          }),
          { abortSignal: signal },
        );
        log.info({ group, hook: hookName }, 'this master serves: its launch is completed, it goes into service');
        this.options.onCompleted?.();
        return 'completed';
      } catch (err) {
        if (signal.aborted) break;
        if ((err as { name?: string }).name === 'ValidationError') {
          log.info(
            { group, hook: hookName, err: (err as Error).message },
            'no launch action of this master is pending',
          );
          return 'no action';
        }
        log.warn({ err, attempt, attempts }, 'could not complete this master’s launch; trying again');
        const wait = Math.min(60_000, retryMs * 2 ** (attempt - 1));
        await delay(wait, undefined, { signal }).catch(() => undefined);
      }
    }
    if (signal.aborted) return 'stopped';
    log.error({ group, hook: hookName }, 'gave up completing this master’s launch; the hook’s default result applies');
    return 'gave up';
  }
}
