import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import type { Job, MasterView, MinionView } from '@phoenix/api';
import { client } from './api.js';
import { ago } from './format.js';
import type { Fleet } from './instances.js';
import { useClusterEvents, type ClusterEventFeed } from './live.js';

// The fleet at a glance: minions by state, masters with their load, and what happened over the
// last hours (jobs, failed highstates, launches) drawn with uPlot, served from this master.

const HOURS = 6;
const BUCKET_MS = 15 * 60_000;
const POLL_MS = 10_000;

interface StateCount {
  id: string;
  label: string;
  count: number;
  tone: 'ok' | 'bad' | 'warn' | 'muted';
}

export function fleetStates(minions: Iterable<MinionView>): { total: number; states: StateCount[] } {
  let total = 0;
  let connected = 0;
  let offline = 0;
  let pending = 0;
  let disabled = 0;
  let failed = 0;
  let launching = 0;
  for (const m of minions) {
    // A terminated instance is no part of the fleet any more (its row stays as history).
    if (m.lifecycle?.state === 'terminated') continue;
    total++;
    if (m.connected) connected++;
    else if (m.keyState === 'accepted') offline++;
    if (m.keyState === 'pending') pending++;
    if (m.disabled !== undefined) disabled++;
    if (m.highstate?.result === 'failure') failed++;
    if (m.lifecycle?.state === 'launching' || m.lifecycle?.state === 'warming') launching++;
  }
  return {
    total,
    states: [
      { id: 'connected', label: 'connected', count: connected, tone: 'ok' },
      { id: 'offline', label: 'offline (accepted)', count: offline, tone: 'bad' },
      { id: 'pending', label: 'pending key', count: pending, tone: 'warn' },
      { id: 'disabled', label: 'disabled', count: disabled, tone: 'warn' },
      { id: 'failed', label: 'failed last highstate', count: failed, tone: 'bad' },
      { id: 'launching', label: 'launching', count: launching, tone: 'muted' },
    ],
  };
}

/** Per bucket of the last hours: jobs submitted, highstates that failed, instances launched. */
export function timeline(jobs: readonly Job[], minions: Iterable<MinionView>, now: number): uPlot.AlignedData {
  const start = Math.floor((now - HOURS * 3_600_000) / BUCKET_MS) * BUCKET_MS;
  const buckets = Math.ceil((now - start) / BUCKET_MS);
  const xs = Array.from({ length: buckets }, (_, i) => (start + i * BUCKET_MS) / 1000);
  const count = (): number[] => Array.from({ length: buckets }, () => 0);
  const submitted = count();
  const failures = count();
  const launches = count();
  const add = (series: number[], at: number | undefined): void => {
    if (at === undefined || at < start) return;
    const i = Math.min(buckets - 1, Math.floor((at - start) / BUCKET_MS));
    series[i] = (series[i] ?? 0) + 1;
  };
  for (const job of jobs) add(submitted, job.createdAt);
  for (const m of minions) {
    if (m.highstate?.result === 'failure') add(failures, m.highstate.finishedAt);
    add(launches, m.lifecycle?.launchedAt);
  }
  return [xs, submitted, failures, launches];
}

function Chart({ data, label }: { data: uPlot.AlignedData; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    const element = box.current;
    if (element === null) return;
    const width = Math.max(200, element.clientWidth);
    plot.current = new uPlot(
      {
        width,
        height: 180,
        series: [
          {},
          { label: 'jobs', stroke: '#2563eb', width: 2 },
          { label: 'failed highstates', stroke: '#dc2626', width: 2 },
          { label: 'launches', stroke: '#16a34a', width: 2 },
        ],
        axes: [{ stroke: '#8b94a3' }, { stroke: '#8b94a3' }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(200, element.clientWidth), height: 180 }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, []);
  useEffect(() => plot.current?.setData(data), [data]);
  return <div class="chart" ref={box} role="img" aria-label={label} />;
}

export function FleetOverview({ fleet, feed }: { fleet: Fleet; feed: ClusterEventFeed }) {
  const [masters, setMasters] = useState<MasterView[]>([]);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [lifecycle, setLifecycle] = useState<Record<string, number>>({});
  useEffect(() => {
    const read = (): void => {
      client
        .call('masters')
        .then((a) => setMasters(a.masters.filter((m) => m.liveness !== 'dead')))
        .catch(() => undefined);
      client
        .call('listJobs', { query: { limit: 500 } })
        .then((page) => setJobs(page.jobs))
        .catch(() => undefined);
    };
    read();
    const timer = setInterval(read, POLL_MS);
    return () => clearInterval(timer);
  }, []);
  // Lifecycle activity heard since the page opened (launches, terminations, abandons…).
  useClusterEvents(feed, ['lifecycle/'], (event) =>
    setLifecycle((old) => {
      const kind = event.tag.slice('lifecycle/'.length);
      return { ...old, [kind]: (old[kind] ?? 0) + 1 };
    }),
  );
  const { total, states } = useMemo(() => fleetStates(fleet.minions.values()), [fleet.minions]);
  const data = useMemo(() => timeline(jobs, fleet.minions.values(), Date.now()), [jobs, fleet.minions]);
  const busiest = Math.max(1, ...masters.map((m) => m.minionCount));
  const launched = (data[3] as number[]).reduce((a, b) => a + b, 0);
  return (
    <section class="wide" id="fleet" aria-labelledby="fleet-title">
      <h2 id="fleet-title">
        Fleet at a glance <span class="count">{total} minions</span>
      </h2>
      <div class="fleet-grid">
        <div>
          <h3>Minions by state</h3>
          <ul class="bars" id="fleet-states">
            {states.map((s) => (
              <li key={s.id} data-state={s.id} data-count={s.count}>
                <span class="bar-label">{s.label}</span>
                <span class="bar-track">
                  <span class={`bar ${s.tone}`} style={{ width: `${total === 0 ? 0 : (100 * s.count) / total}%` }} />
                </span>
                <span class="bar-value">{s.count}</span>
              </li>
            ))}
          </ul>
        </div>
        <div>
          <h3>Masters</h3>
          <ul class="bars" id="fleet-masters">
            {masters.map((m) => (
              <li key={m.masterId} data-master-id={m.masterId} data-count={m.minionCount}>
                <span class="bar-label">
                  {m.masterId} <span class={`badge ${m.liveness}`}>{m.liveness}</span>
                </span>
                <span class="bar-track">
                  <span class="bar ok" style={{ width: `${(100 * m.minionCount) / busiest}%` }} />
                </span>
                <span class="bar-value">
                  {m.minionCount} <span class="muted">· {ago(m.heartbeatAt)}</span>
                  {m.treeHash !== undefined && <span class="muted"> · tree {m.treeHash.slice(0, 8)}</span>}
                </span>
              </li>
            ))}
          </ul>
        </div>
        <div class="wide-cell">
          <h3>The last {HOURS} hours</h3>
          <Chart
            data={data}
            label={`jobs, failed highstates and launches per ${BUCKET_MS / 60_000} minutes over the last ${HOURS} hours`}
          />
          <p class="muted" id="fleet-activity">
            {jobs.length} recent jobs · {launched} launches
            {Object.entries(lifecycle).map(([tag, n]) => ` · ${tag} ${n}`)} (lifecycle events since this page opened)
          </p>
        </div>
      </div>
    </section>
  );
}
