/**
 * The chaos scenario (`--chaos N`): an operator's drill against three masters and N minions in one
 * swarm. kill -9 of a master, SIGSTOP of one (and SIGCONT after), and a restart storm (a master
 * killed and a fresh one added, round after round). For each fault: the time from the fault until
 * every minion answers a job again; for the cluster: whether the frozen master's minions went home.
 * A ledger job is published into each fault (`grains.append phoenix_chaos <seq>` to every minion),
 * and at the end every minion's ledger is read back, so jobs are counted as executed or lost on the
 * minions themselves, not only by their returns.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevstack } from '@phoenix/devstack';
import { failoverOrder } from '@phoenix/protocol';
import { BenchApi } from './api.js';
import {
  benchToken,
  startBenchMaster,
  startBenchSwarm,
  stopBenchProcess,
  type BenchMaster,
  type BenchProcess,
} from './cluster.js';

export interface ChaosFault {
  fault: string;
  victim: string;
  /** Minions the victim held just before (as the minions table recorded their connections). */
  victimHeld: number;
  /** From the fault to the last return of the first job every minion answered; null: not within the bound. */
  recoveryMs: number | null;
  /**
   * From the fault until each minion had answered some probe sent after it (not necessarily the
   * same one): when the last minion was reachable again. Null: not within the bound.
   */
  eachAnsweredMs: number | null;
}

export interface ChaosResult {
  n: number;
  faults: ChaosFault[];
  /** After SIGCONT: until every minion was on its first choice among the live masters again. */
  failback: { ms: number | null; onPreferred: number; of: number; boundMs: number };
  /** Over the ledger jobs (one per fault, to every minion), counted on the minions. */
  ledger: {
    jobs: number;
    /** (job, minion) pairs: the minions each job was addressed to. */
    expected: number;
    /** Never executed on a minion that answered the final read. */
    lostJobs: number;
    /** Of the lost jobs, those whose master said at submission that the minion was connected nowhere. */
    lostNotConnected: number;
    /** Executed, but no return stored. */
    lostReturns: number;
    /** Executed twice: the stored return is the second run's ("already in the list"); a lower bound. */
    duplicatedJobs: number;
    /** Minions whose ledger could not be read at the end (not counted above). */
    unread: number;
  };
  /** Returns a client saw twice for the same (job, minion) on a job's stream, ledger and probe jobs alike. */
  duplicatedReturns: number;
}

const PROBE_TIMEOUT_MS = 1_000;
const RECOVERY_BOUND_MS = 60_000;
const LEDGER_TIMEOUT_MS = 15_000;
const FAILBACK_BOUND_MS = 30_000;
const LEDGER_GRAIN = 'phoenix_chaos';

export async function chaos(n: number, rounds: number, progress: (step: string) => void): Promise<ChaosResult> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-chaos-'));
  const devstack = await startDevstack({ tablePrefix: `c${process.pid}${Date.now().toString(36)}` });
  const token = benchToken();
  const masters = new Map<string, BenchMaster>();
  const apis = new Map<string, BenchApi>();
  let swarm: BenchProcess | undefined;
  let added = 0;
  const addMaster = async (): Promise<BenchMaster> => {
    const master = await startBenchMaster(devstack, dir, `chaos-master-${++added}`, token);
    masters.set(master.id, master);
    apis.set(master.id, new BenchApi(master.api, token));
    return master;
  };
  const faults: ChaosFault[] = [];
  const ledgerJobs: Array<{
    jid: string;
    seq: number;
    expected: string[];
    notConnected: ReadonlySet<string>;
    stream: Promise<number>;
  }> = [];
  let duplicatedReturns = 0;
  try {
    for (let i = 0; i < 3; i++) await addMaster();
    swarm = await startBenchSwarm(devstack, dir, [...masters.values()], n, 'bench');
    const first = apis.get('chaos-master-1') as BenchApi;
    await acceptAll(first, n);
    await untilAllAnswer(first, n, Date.now(), RECOVERY_BOUND_MS + n * 50);
    progress(`chaos: ${n} minions answer through three masters`);

    /** The master holding the most minions (as the minions table records them), and the API of another. */
    const pick = async (): Promise<{ victim: BenchMaster; held: number; api: BenchApi }> => {
      const live = [...masters.values()];
      const held = new Map<string, number>();
      for (const master of live) {
        const connected = await apis
          .get(master.id)
          ?.connectedMasters('bench-*')
          .catch(() => undefined);
        if (connected === undefined) continue;
        for (const on of connected.values()) if (on !== undefined) held.set(on, (held.get(on) ?? 0) + 1);
        break;
      }
      const ranked = live.map((m) => ({ m, held: held.get(m.id) ?? 0 })).sort((a, b) => b.held - a.held);
      const top = ranked[0] as { m: BenchMaster; held: number };
      const other = live.find((m) => m.id !== top.m.id) as BenchMaster;
      return { victim: top.m, held: top.held, api: apis.get(other.id) as BenchApi };
    };
    const anyApi = (): BenchApi => apis.values().next().value as BenchApi;
    let lastLedgerAt = 0;
    let seq = 0;
    const publishLedger = async (api: BenchApi): Promise<void> => {
      const current = ++seq;
      lastLedgerAt = Date.now();
      const { jid, minions, notConnected } = await api.submit('bench-*', 'grains.append', LEDGER_TIMEOUT_MS, [
        LEDGER_GRAIN,
        current,
      ]);
      progress(
        `chaos: ledger job ${current} (${jid}) to ${minions.length} minions, ${notConnected.length} connected nowhere`,
      );
      ledgerJobs.push({
        jid,
        seq: current,
        expected: minions,
        notConnected: new Set(notConnected),
        stream: api.follow(jid, LEDGER_TIMEOUT_MS).then(
          (followed) => followed.duplicates,
          () => 0,
        ),
      });
    };
    const recover = async (
      api: BenchApi,
      since: number,
    ): Promise<Pick<ChaosFault, 'recoveryMs' | 'eachAnsweredMs'>> => {
      const found = await untilAllAnswer(api, n, since, RECOVERY_BOUND_MS);
      duplicatedReturns += found.duplicates;
      return { recoveryMs: found.ms, eachAnsweredMs: found.eachMs };
    };
    const forget = (master: BenchMaster): void => {
      masters.delete(master.id);
      apis.delete(master.id);
    };

    // kill -9, and a ledger job published at once through another master.
    {
      const { victim, held, api } = await pick();
      const at = Date.now();
      victim.proc.child.kill('SIGKILL');
      forget(victim);
      await publishLedger(api);
      const recovery = await recover(api, at);
      faults.push({ fault: 'kill -9', victim: victim.id, victimHeld: held, ...recovery });
      progress(`chaos: kill -9 of ${victim.id} (${held} minions): ${answered(recovery)}`);
      await addMaster();
    }

    // SIGSTOP: a ledger job one second into the freeze; SIGCONT once every minion answers elsewhere.
    let failback: ChaosResult['failback'] = { ms: null, onPreferred: 0, of: n, boundMs: FAILBACK_BOUND_MS };
    {
      const { victim, held, api } = await pick();
      const at = Date.now();
      victim.proc.child.kill('SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await publishLedger(api);
      const recovery = await recover(api, at);
      faults.push({ fault: 'SIGSTOP', victim: victim.id, victimHeld: held, ...recovery });
      progress(`chaos: SIGSTOP of ${victim.id} (${held} minions): ${answered(recovery)}`);
      victim.proc.child.kill('SIGCONT');
      failback = await untilHome(api, n, victim.id, Date.now());
      progress(
        `chaos: after SIGCONT ${failback.onPreferred} of ${n} minions on their first choice (${failback.ms} ms)`,
      );
    }

    // The restart storm: each round kills the busiest master and adds a fresh one, ten seconds apart.
    for (let round = 1; round <= rounds; round++) {
      const roundStart = Date.now();
      const { victim, held, api } = await pick();
      const at = Date.now();
      victim.proc.child.kill('SIGKILL');
      forget(victim);
      const joining = addMaster();
      await publishLedger(api);
      const recovery = await recover(api, at);
      await joining;
      faults.push({ fault: `restart storm, round ${round}`, victim: victim.id, victimHeld: held, ...recovery });
      progress(`chaos: storm round ${round}, ${victim.id} (${held} minions): ${answered(recovery)}`);
      const rest = roundStart + 10_000 - Date.now();
      if (rest > 0 && round < rounds) await new Promise((resolve) => setTimeout(resolve, rest));
    }

    // The ledger: every job has timed out by now; each minion says which jobs it ran.
    const api = anyApi();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastLedgerAt + LEDGER_TIMEOUT_MS - Date.now())));
    duplicatedReturns += (await untilAllAnswer(api, n, Date.now(), RECOVERY_BOUND_MS)).duplicates;
    const read = await api.runJob('bench-*', 'grains.get', LEDGER_TIMEOUT_MS, [LEDGER_GRAIN]);
    const ledgers = new Map<string, unknown>((await api.returns(read.jid)).map((r) => [r.minionId, r.ret]));
    duplicatedReturns += read.duplicates;
    let expected = 0;
    let lostJobs = 0;
    let lostNotConnected = 0;
    let lostReturns = 0;
    let duplicatedJobs = 0;
    let unread = 0;
    for (const job of ledgerJobs) {
      const lostBefore = lostJobs;
      duplicatedReturns += await job.stream;
      const stored = new Map((await api.returns(job.jid)).map((r) => [r.minionId, r.ret]));
      for (const minionId of job.expected) {
        expected++;
        if (!ledgers.has(minionId)) {
          unread++;
          continue;
        }
        // A minion that ran no ledger job has no such grain: grains.get answers ''.
        const ledger = ledgers.get(minionId);
        const ran = Array.isArray(ledger) && ledger.includes(job.seq);
        const ret = stored.get(minionId);
        if (!ran) {
          lostJobs++;
          if (job.notConnected.has(minionId)) lostNotConnected++;
        } else if (ret === undefined) lostReturns++;
        else if (typeof ret === 'string' && ret.includes('was already in the list')) duplicatedJobs++;
      }
      if (lostJobs > lostBefore) progress(`chaos: ledger job ${job.seq} never ran on ${lostJobs - lostBefore} minions`);
    }
    return {
      n,
      faults,
      failback,
      ledger: { jobs: ledgerJobs.length, expected, lostJobs, lostNotConnected, lostReturns, duplicatedJobs, unread },
      duplicatedReturns,
    };
  } finally {
    if (swarm !== undefined) await stopBenchProcess(swarm, 10_000);
    for (const master of masters.values()) {
      master.proc.child.kill('SIGCONT');
      await stopBenchProcess(master.proc);
    }
    // dynalite finishes requests of killed clients; give them a moment before it stops.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await devstack.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 10 });
  }
}

async function acceptAll(api: BenchApi, n: number): Promise<void> {
  const deadline = Date.now() + 60_000 + n * 100;
  while ((await api.keyCount('bench-*')) < n) {
    if (Date.now() > deadline) throw new Error(`chaos: not all ${n} keys arrived in time`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  await api.accept('bench-*');
}

/**
 * Short pings until one gets every minion's return: the time from `since` to that job's last
 * return, or null past the bound. The pings' duplicated returns are counted.
 */
async function untilAllAnswer(
  api: BenchApi,
  n: number,
  since: number,
  boundMs: number,
): Promise<{ ms: number | null; eachMs: number | null; duplicates: number }> {
  let duplicates = 0;
  let eachMs: number | null = null;
  const firstAnswer = new Map<string, number>();
  for (;;) {
    const job = await api.runJob('bench-*', 'test.ping', PROBE_TIMEOUT_MS).catch(() => undefined);
    if (job !== undefined) {
      duplicates += job.duplicates;
      for (const [minionId, at] of job.firstAt) if (!firstAnswer.has(minionId)) firstAnswer.set(minionId, at);
      if (eachMs === null && firstAnswer.size >= n) eachMs = Math.max(...firstAnswer.values()) - since;
      if (job.expected === n && job.latencies.length === n) {
        return { ms: Math.max(...job.firstAt.values()) - since, eachMs, duplicates };
      }
    }
    if (Date.now() - since > boundMs) return { ms: null, eachMs, duplicates };
    if (job === undefined) await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function answered(recovery: Pick<ChaosFault, 'recoveryMs' | 'eachAnsweredMs'>): string {
  return `every minion answered one job after ${recovery.recoveryMs} ms (each had answered some job after ${recovery.eachAnsweredMs} ms)`;
}

/**
 * Until every minion is on its first choice among the live masters (rendezvous order), the resumed
 * master among them, within a bound.
 */
async function untilHome(api: BenchApi, n: number, resumed: string, since: number): Promise<ChaosResult['failback']> {
  let onPreferred = 0;
  for (;;) {
    const live = await api.liveMasters().catch(() => [] as string[]);
    onPreferred = 0;
    if (live.includes(resumed)) {
      const connected = await api.connectedMasters('bench-*').catch(() => new Map<string, string | undefined>());
      for (const [minionId, master] of connected) {
        if (master !== undefined && failoverOrder(minionId, live, (id) => id)[0] === master) onPreferred++;
      }
    }
    if (onPreferred === n) return { ms: Date.now() - since, onPreferred, of: n, boundMs: FAILBACK_BOUND_MS };
    if (Date.now() - since > FAILBACK_BOUND_MS) return { ms: null, onPreferred, of: n, boundMs: FAILBACK_BOUND_MS };
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
