import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClusterEvents } from '../events.js';
import type { Refusals } from '../limits/refusals.js';
import type { ReadCount } from '@phoenix/store';

/**
 * This master's Prometheus metrics, in a registry of its own (never prom-client's global one), so
 * two masters in one process — as in tests — never mix their numbers.
 */
export function createMetrics(options: {
  masterId: string;
  connectedMinions: () => number;
  events: ClusterEvents;
  refusals?: Refusals;
  /** File chunks the file server sent, and their bytes. */
  fileSent?: () => { reads: number; bytes: number };
  /** Read requests made of each table so far (the store counts them). */
  tableReads?: () => Readonly<Record<string, ReadCount>>;
}) {
  const registry = new Registry();
  registry.setDefaultLabels({ master: options.masterId });
  collectDefaultMetrics({ register: registry, prefix: 'phoenix_master_' });
  const metrics = {
    registry,
    connectedMinions: new Gauge({
      name: 'phoenix_connected_minions',
      help: 'Minions connected to this master now',
      registers: [registry],
      collect() {
        this.set(options.connectedMinions());
      },
    }),
    jobsSubmitted: new Counter({
      name: 'phoenix_jobs_submitted_total',
      help: 'Jobs submitted through this master',
      registers: [registry],
    }),
    jobReturns: new Counter({
      name: 'phoenix_job_returns_total',
      help: 'Returns stored for jobs submitted through this master (each minion once per job)',
      labelNames: ['success'] as const,
      registers: [registry],
    }),
    minionConnects: new Counter({
      name: 'phoenix_minion_connects_total',
      help: 'Minion connections (hellos) to this master; a rise elsewhere after a master dies counts failovers',
      registers: [registry],
    }),
    minionDisconnects: new Counter({
      name: 'phoenix_minion_disconnects_total',
      help: 'Minion connections this master lost',
      registers: [registry],
    }),
    events: new Counter({
      name: 'phoenix_events_total',
      help: 'Cluster events (reactor, keys, minions, jobs, highstate) on this master, by tag',
      labelNames: ['tag'] as const,
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'phoenix_api_auth_failures_total',
      help: 'Requests refused for a missing or invalid token, or a rate-limited address',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    refusedInputs: new Counter({
      name: 'phoenix_refused_inputs_total',
      help: 'Inputs refused at this master (wire, enrol, peer, api, job, sqs, pillar, file, stream), by reason',
      labelNames: ['input', 'reason'] as const,
      registers: [registry],
      collect() {
        // The parts that refuse count in Refusals (they need no metrics registry); copied here when scraped.
        this.reset();
        for (const { input, reason, count } of options.refusals?.entries() ?? []) this.inc({ input, reason }, count);
      },
    }),
    fileReads: new Counter({
      name: 'phoenix_file_reads_total',
      help: 'salt:// file chunks sent to minions (a file a minion holds by its hash is not sent again)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(options.fileSent?.().reads ?? 0);
      },
    }),
    fileBytes: new Counter({
      name: 'phoenix_file_bytes_sent_total',
      help: 'Bytes of salt:// files sent to minions',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(options.fileSent?.().bytes ?? 0);
      },
    }),
    tableReads: new Counter({
      name: 'phoenix_table_read_requests_total',
      help: 'Read requests (GetItem, each Query or Scan page) this master made of each table',
      labelNames: ['table'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [table, reads] of Object.entries(options.tableReads?.() ?? {})) this.inc({ table }, reads.requests);
      },
    }),
    requestDuration: new Histogram({
      name: 'phoenix_api_request_duration_seconds',
      help: 'API request latency by route',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
  const unsubscribe = options.events.on((event) => {
    // This master's own events only: each master counts what happened on it.
    if (event.masterId !== options.masterId) return;
    // Tags are a fixed vocabulary (no ids in them), so this label stays small.
    metrics.events.inc({ tag: event.tag });
    if (event.tag === 'minion/connected') metrics.minionConnects.inc();
    if (event.tag === 'minion/disconnected') metrics.minionDisconnects.inc();
  });
  return { ...metrics, close: unsubscribe };
}

export type ApiMetrics = ReturnType<typeof createMetrics>;
