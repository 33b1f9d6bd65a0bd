/**
 * A process as an ordered list of parts, as fastify's onReady and onClose: each part starts once
 * the ones before it have, they stop in reverse, and a part that fails to start stops those that
 * already started, so a half-started process leaves nothing behind (no socket, no timer).
 */
export interface Component {
  /** What the part is, for the logs. */
  readonly name: string;
  start?(): Promise<void> | void;
  /** Undoes `start`, also one that failed half-way (a socket bound, the next one not). */
  stop?(): Promise<void> | void;
}

export interface ComponentLog {
  warn(facts: Record<string, unknown>, message: string): void;
}

export interface StartedComponents {
  /**
   * Stops every started part, the last first. A part that fails to stop is logged and the others
   * still stop; the first such error is thrown once all are done. Calling it again does nothing.
   */
  stop(): Promise<void>;
}

/**
 * Starts `components` in order. When one fails, it and the ones started before it are stopped
 * (last first) and its error is thrown as it was.
 */
export async function startComponents(components: readonly Component[], log: ComponentLog): Promise<StartedComponents> {
  const started: Component[] = [];
  for (const component of components) {
    try {
      await component.start?.();
    } catch (err) {
      log.warn({ err, component: component.name }, 'start failed; stopping what had started');
      await stopAll([...started, component], log).catch(() => undefined);
      throw err;
    }
    started.push(component);
  }
  let stopping: Promise<void> | undefined;
  return { stop: () => (stopping ??= stopAll(started, log)) };
}

async function stopAll(started: readonly Component[], log: ComponentLog): Promise<void> {
  let first: { err: unknown } | undefined;
  for (const component of [...started].reverse()) {
    try {
      await component.stop?.();
    } catch (err) {
      log.warn({ err, component: component.name }, 'stop failed');
      first ??= { err };
    }
  }
  if (first !== undefined) throw first.err;
}
