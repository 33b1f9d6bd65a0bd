import type { Logger } from 'pino';
import { compileGlob, PhoenixError, ProtocolErrors } from '@phoenix/protocol';
import { StateErrors, TemplateRenderer, type RenderIsolation } from '@phoenix/state';
import type { ReactionRule } from '../config.js';
import type { ClusterEvent, ClusterEvents } from '../events.js';
import type { JobService } from '../jobs.js';
import type { RunService } from '../runs/run-service.js';
import { taggedEvent, type TaggedEvent } from '../event-tags.js';

export interface ReactionsOptions {
  readonly masterId: string;
  readonly rules: readonly ReactionRule[];
  readonly events: ClusterEvents;
  /** The conditional write that makes one master the one to react (store.reactionClaims.claim). */
  readonly claim: (eventId: string, rule: string, tag: string) => Promise<boolean>;
  readonly jobs: Pick<JobService, 'submit'>;
  readonly runs: Pick<RunService, 'submitOrchestration'>;
  /** Whether an orchestration SLS is on this master's file server (checked at start-up). */
  readonly orchestrationExists: (name: string, saltenv: string) => Promise<boolean>;
  /** Where the rules' templates render: the master's render process. */
  readonly isolation?: RenderIsolation;
  readonly renderTimeoutMs: number;
  readonly defaultJobTimeoutMs: number;
  readonly log: Logger;
}

interface CompiledRule {
  readonly name: string;
  readonly rule: ReactionRule;
  readonly matches: (tag: string) => boolean;
}

const TEMPLATED = /\{\{|\{%/;

/**
 * Operators' reactions (Salt's reactor): each rule maps a tag glob to a job or an orchestration.
 * Every master hears every event (its own and those its peers relay, with the same id), and each
 * tries to claim the reaction with a conditional write per event and rule: one wins, so an event is
 * reacted to exactly once in the cluster. The rule's strings are Jinja over the event's `tag` and
 * `data`; an orchestration also gets them as `pillar.event_tag` and `pillar.event_data`.
 */
export class Reactions {
  readonly #o: ReactionsOptions;
  readonly #rules: readonly CompiledRule[];
  #stop: (() => void) | undefined;

  constructor(options: ReactionsOptions) {
    this.#o = options;
    this.#rules = options.rules.map((rule, index) => ({
      name: rule.name ?? `rule-${index}`,
      rule,
      matches: compileGlob(rule.event, false),
    }));
  }

  /** Refuses a rule whose orchestration is not on the file server, naming the rule (before the master joins). */
  async check(): Promise<void> {
    for (const [index, { name, rule }] of this.#rules.entries()) {
      if (rule.orchestrate === undefined || TEMPLATED.test(rule.orchestrate.name)) continue;
      if (!(await this.#o.orchestrationExists(rule.orchestrate.name, rule.orchestrate.saltenv))) {
        throw new PhoenixError(
          ProtocolErrors.PHX_CONFIG_INVALID,
          `reactor.rules.${index} (${name}, event "${rule.event}"): the orchestration ${rule.orchestrate.name} is not in the file roots (${rule.orchestrate.saltenv})`,
          { details: { rule: name } },
        );
      }
    }
  }

  /** Hears the cluster's events from now on. */
  start(): void {
    if (this.#rules.length > 0) this.#stop = this.#o.events.on((event) => this.#hear(event));
  }

  stop(): void {
    this.#stop?.();
  }

  #hear(event: ClusterEvent): void {
    const tagged = taggedEvent(event);
    if (tagged === undefined) return;
    for (const compiled of this.#rules) {
      if (!compiled.matches(tagged.tag)) continue;
      void this.#react(compiled, event, tagged).catch((err: unknown) => {
        this.#o.log.warn({ err, rule: compiled.name, tag: tagged.tag, eventId: event.id }, 'a reaction failed');
        this.#o.events.emit('reaction/failed', {
          rule: compiled.name,
          eventTag: tagged.tag,
          eventId: event.id,
          error: err instanceof Error ? err.message : String(err),
        });
      });
    }
  }

  async #react(compiled: CompiledRule, event: ClusterEvent, tagged: TaggedEvent): Promise<void> {
    if (!(await this.#o.claim(event.id, compiled.name, tagged.tag))) return;
    const { rule, name } = compiled;
    const context = { tag: tagged.tag, data: tagged.data };
    const submitter = `reactor:${name}`;
    if (rule.run !== undefined) {
      const run = (await this.#render(rule.run, context, name)) as NonNullable<ReactionRule['run']>;
      const job = await this.#o.jobs.submit({
        target: run.target,
        targetType: run.targetType,
        fun: run.function,
        args: run.args,
        kwargs: run.kwargs,
        submitter,
        timeoutMs: (run.timeoutSeconds ?? this.#o.defaultJobTimeoutMs / 1000) * 1000,
      });
      this.#fired(name, tagged, event, { jid: job.jid, minions: job.expected.length });
      return;
    }
    const orchestrate = (await this.#render(rule.orchestrate, context, name)) as NonNullable<
      ReactionRule['orchestrate']
    >;
    const { run } = await this.#o.runs.submitOrchestration({
      name: orchestrate.name,
      saltenv: orchestrate.saltenv,
      test: orchestrate.test,
      pillar: { ...orchestrate.pillar, event_tag: tagged.tag, event_data: tagged.data },
      submitter,
    });
    this.#fired(name, tagged, event, { runId: run.runId });
  }

  #fired(rule: string, tagged: TaggedEvent, event: ClusterEvent, what: Record<string, unknown>): void {
    this.#o.log.info({ audit: 'reaction', rule, tag: tagged.tag, eventId: event.id, ...what }, 'reaction fired');
    this.#o.events.emit('reaction/fired', { rule, eventTag: tagged.tag, eventId: event.id, ...what });
  }

  /** Every string of `value` that holds Jinja, rendered over the event; the rest as it is. */
  async #render(value: unknown, context: Record<string, unknown>, rule: string): Promise<unknown> {
    if (!JSON.stringify(value).match(TEMPLATED)) return value;
    const renderer = new TemplateRenderer({
      timeoutMs: this.#o.renderTimeoutMs,
      ...(this.#o.isolation === undefined ? {} : { isolation: this.#o.isolation }),
    });
    const services = {
      call: (fun: string): Promise<unknown> =>
        Promise.reject(
          new PhoenixError(StateErrors.PHX_STATE_RENDER, `salt['${fun}'] is not available in a reactor rule`),
        ),
      read: () => Promise.resolve(undefined),
      slsExists: () => Promise.resolve(false),
    };
    const walk = async (item: unknown): Promise<unknown> => {
      if (typeof item === 'string') {
        return TEMPLATED.test(item)
          ? renderer.render({ source: item, path: `reactor:${rule}`, context, services })
          : item;
      }
      if (Array.isArray(item)) return Promise.all(item.map(walk));
      if (item !== null && typeof item === 'object') {
        const out: Record<string, unknown> = {};
        for (const [key, inner] of Object.entries(item)) out[key] = await walk(inner);
        return out;
      }
      return item;
    };
    try {
      return await walk(value);
    } finally {
      await renderer.close();
    }
  }
}
