/**
 * The Phoenix benchmark: `npm run bench -- [--n 100,1000] [--repeats 3] [--out-dir bench]`.
 * For each N: a devstack in this process, one real phoenix-master, `phoenix-minion swarm` with N
 * minions; test.ping fan-out next to a bare ZeroMQ baseline, and the master's cost per minion and
 * per job. Writes <out-dir>/results.json and <out-dir>/results.md.
 */
import { parseArgs } from 'node:util';
import { cpus, totalmem, tmpdir } from 'node:os';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevstack, type Devstack } from '@phoenix/devstack';
import { BenchApi } from './lib/api.js';
import { zeromqBaseline } from './lib/baseline.js';
import { onboarding, type OnboardingResult } from './lib/onboarding.js';
import { cliRunTimes } from './lib/cli-time.js';
import { noChangeHighstate, type HighstateResult } from './lib/highstate.js';
import { gitUpdate, type GitUpdateResult } from './lib/gitfs.js';
import { chaos, type ChaosResult } from './lib/chaos.js';
import {
  benchToken,
  killAllBenchProcesses,
  startBenchMaster,
  startBenchSwarm,
  stopBenchProcess,
  type BenchMaster,
  type BenchProcess,
} from './lib/cluster.js';
import { median, quantile, rssKb } from './lib/stats.js';

interface FanOut {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  allReturnedMs: number;
}

export interface ScenarioResult {
  n: number;
  fanOut: FanOut;
  baseline: { allAnsweredMs: number };
  /** Phoenix's time until the last return / the bare ZeroMQ time until the last answer. */
  ratio: number;
  cost: {
    masterRssKbPerMinion: number;
    masterCpuMsPerJob: number;
    swarmStartMs: number;
    /** Keys accepted per second by one `keys accept` of all N pending keys. */
    keysAcceptedPerSecond: number;
    /** From that `keys accept` until a job gets every minion's return (all connected again). */
    acceptToAnsweringMs: number;
    /** Masters-table reads per minion while the swarm started and enrolled (before all answered). */
    tableReadsAtStartPerMinion: number;
    /** Masters-table reads per minion-hour once every minion answered (the steady state). */
    tableReadsPerMinionHour: number;
  };
  /** `phoenix run '*' test.ping` as a whole command, next to `node -e 0`, in ms (medians). */
  cli: { phoenixRunMs: number; nodeMs: number; ratio: number; startupMs: number };
}

const JOB_TIMEOUT_MS = 60_000;

/**
 * dynalite finishes requests whose client has gone (a master killed mid-write) and throws if its
 * database closed meanwhile: give those a moment, bounded, before the devstack stops.
 */
async function stopDevstack(devstack: Devstack): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await devstack.stop();
}

/** Waits until every minion has asked to enrol, accepts them in one call, waits until all are accepted. */
async function acceptAll(api: BenchApi, n: number): Promise<{ keysPerSecond: number; acceptStart: number }> {
  const deadline = Date.now() + 60_000 + n * 100;
  const waitKeys = async (state: 'accepted' | undefined, what: string): Promise<void> => {
    for (let seen = await api.keyCount('bench-*', state); seen < n; seen = await api.keyCount('bench-*', state)) {
      if (Date.now() > deadline)
        throw new Error(`only ${seen} of ${n} keys ${what} within ${Math.round((60_000 + n * 100) / 1000)} s`);
      // Each count lists every key: asked often, it would load the master more than the minions do.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  };
  await waitKeys(undefined, 'arrived');
  mark(n, 'keys-arrived');
  // Acceptance alone: the one call that accepts every pending key, answered once all are written.
  const acceptStart = Date.now();
  await api.accept('bench-*');
  const keysPerSecond = n / ((Date.now() - acceptStart) / 1000);
  await waitKeys('accepted', 'were accepted');
  return { keysPerSecond, acceptStart };
}

/**
 * Phase marks for `--profile`: the monotonic clock in microseconds, the clock V8's CPU profiles
 * are stamped with, so bench/profile-split.ts can cut a master's profile into enrolment and fan-out.
 */
const phases: Array<{ n: number; phase: string; atUs: number }> = [];
function mark(n: number, phase: string): void {
  phases.push({ n, phase, atUs: Number(process.hrtime.bigint() / 1000n) });
}

/** One line per step on stderr, so a long run shows where it is (and where it stalled). */
function progress(n: number, step: string): void {
  process.stderr.write(`bench: N=${n} ${step}\n`);
}

async function scenario(n: number, repeats: number): Promise<ScenarioResult> {
  const baselineTimes = await zeromqBaseline(n, repeats);
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-bench-'));
  const devstack = await startDevstack({ tablePrefix: `b${process.pid}${Date.now().toString(36)}` });
  const token = benchToken();
  let master: BenchMaster | undefined;
  let swarm: BenchProcess | undefined;
  try {
    master = await startBenchMaster(devstack, dir, 'bench-master-1', token);
    const api = new BenchApi(master.api, token);
    const rssBefore = await rssKb(master.proc.pid);
    const swarmStarted = Date.now();
    mark(n, 'swarm-start');
    swarm = await startBenchSwarm(devstack, dir, [master], n, 'bench');
    const swarmStartMs = Date.now() - swarmStarted;
    progress(n, `swarm ready in ${swarmStartMs} ms`);
    const { keysPerSecond, acceptStart } = await acceptAll(api, n);
    mark(n, 'keys-accepted');
    progress(
      n,
      `all keys accepted after ${Date.now() - swarmStarted} ms (${Math.round(keysPerSecond)} keys/s accepted)`,
    );
    const warmDeadline = Date.now() + 60_000 + n * 50;
    for (;;) {
      const warm = await api.runJob('bench-*', 'test.ping', 10_000);
      if (warm.expected === n && warm.latencies.length === n) break;
      progress(n, `warm-up: ${warm.latencies.length} of ${warm.expected} targeted minions answered`);
      if (Date.now() > warmDeadline) throw new Error(`only ${warm.latencies.length} of ${n} minions answer`);
    }
    const acceptToAnsweringMs = Date.now() - acceptStart;
    progress(
      n,
      `every minion answers, ${Date.now() - swarmStarted} ms after the swarm started, ${acceptToAnsweringMs} ms after the accept`,
    );
    swarm.child.kill('SIGUSR2');
    const settled = await swarm.line<{ mastersTableReads: number; at: number }>('swarm reads', 30_000);
    const rssAfter = await rssKb(master.proc.pid);
    const cpuBefore = await api.cpuMs();
    mark(n, 'fan-out-start');
    const runs: FanOut[] = [];
    for (let r = 0; r < repeats; r++) {
      const job = await api.runJob('bench-*', 'test.ping', JOB_TIMEOUT_MS);
      if (job.latencies.length !== n) throw new Error(`run ${r}: ${job.latencies.length} of ${n} returns`);
      runs.push({
        p50Ms: quantile(job.latencies, 0.5),
        p99Ms: quantile(job.latencies, 0.99),
        maxMs: quantile(job.latencies, 1),
        allReturnedMs: job.allMs,
      });
    }
    mark(n, 'fan-out-end');
    const cpuAfter = await api.cpuMs();
    const cliTimes = await cliRunTimes(master.api, token, Math.max(repeats, 5));
    progress(n, `phoenix run '*' test.ping: ${cliTimes.phoenixRunMs.map((ms) => Math.round(ms)).join(', ')} ms`);
    // Masters-table reads: those of start-up and enrolment (per minion), then the steady state's
    // from the moment every minion answered to the end of the run (per minion-hour).
    swarm.child.kill('SIGTERM');
    const stopped = await swarm.line<{ mastersTableReads: number; at: number }>('swarm stopped', 60_000);
    swarm = undefined;
    const tableReadsAtStartPerMinion = settled.mastersTableReads / n;
    const tableReadsPerMinionHour =
      (stopped.mastersTableReads - settled.mastersTableReads) / ((n * (stopped.at - settled.at)) / 3_600_000);
    const fanOut: FanOut = {
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      maxMs: median(runs.map((r) => r.maxMs)),
      allReturnedMs: median(runs.map((r) => r.allReturnedMs)),
    };
    const allAnsweredMs = median(baselineTimes);
    const phoenixRunMs = median(cliTimes.phoenixRunMs);
    const nodeMs = median(cliTimes.nodeMs);
    return {
      n,
      fanOut,
      baseline: { allAnsweredMs },
      ratio: fanOut.maxMs / allAnsweredMs,
      cost: {
        masterRssKbPerMinion: (rssAfter - rssBefore) / n,
        masterCpuMsPerJob: (cpuAfter - cpuBefore) / repeats,
        swarmStartMs,
        keysAcceptedPerSecond: keysPerSecond,
        acceptToAnsweringMs,
        tableReadsAtStartPerMinion,
        tableReadsPerMinionHour,
      },
      // Start-up: the command's time less the job's own (the client sees every return).
      cli: { phoenixRunMs, nodeMs, ratio: phoenixRunMs / nodeMs, startupMs: phoenixRunMs - fanOut.allReturnedMs },
    };
  } catch (err) {
    // Said now: tearing down after a failure can fail too and hide it.
    process.stderr.write(`bench: N=${n} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    throw err;
  } finally {
    if (swarm !== undefined) await stopBenchProcess(swarm, 10_000);
    if (master !== undefined) await stopBenchProcess(master.proc);
    await stopDevstack(devstack);
    await rm(dir, { recursive: true, force: true, maxRetries: 10 });
  }
}

/**
 * Failover: two masters, N minions spread over them (rendezvous hashing: about half each); kill -9
 * of the first, then short pings through the other until every minion answers one. The figure is from the kill to the
 * last return of that first complete job.
 */
async function failover(n: number): Promise<{ n: number; allAnswerMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-bench-'));
  const devstack = await startDevstack({ tablePrefix: `f${process.pid}${Date.now().toString(36)}` });
  const token = benchToken();
  const masters: BenchMaster[] = [];
  let swarm: BenchProcess | undefined;
  try {
    masters.push(await startBenchMaster(devstack, dir, 'bench-master-1', token));
    masters.push(await startBenchMaster(devstack, dir, 'bench-master-2', token));
    const apis = masters.map((m) => new BenchApi(m.api, token));
    const [api1, api2] = apis as [BenchApi, BenchApi];
    swarm = await startBenchSwarm(devstack, dir, masters, n, 'bench');
    await acceptAll(api1, n);
    const warmDeadline = Date.now() + 60_000 + n * 50;
    for (;;) {
      const warm = await api1.runJob('bench-*', 'test.ping', 10_000);
      if (warm.expected === n && warm.latencies.length === n) break;
      if (Date.now() > warmDeadline) throw new Error(`only ${warm.latencies.length} of ${n} minions answer`);
    }
    const victim = masters[0] as BenchMaster;
    // Kill a master holding about half: wait (bounded) until the minions have spread over both.
    const spreadDeadline = Date.now() + 60_000;
    for (;;) {
      const held = (await api2.connectedByMaster()).get('bench-master-1') ?? 0;
      if (held >= n * 0.35 && held <= n * 0.65) {
        progress(n, `failover: bench-master-1 holds ${held} of ${n} minions; killing it`);
        break;
      }
      if (Date.now() > spreadDeadline)
        throw new Error(`the minions did not spread: bench-master-1 holds ${held} of ${n}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const killedAt = Date.now();
    victim.proc.child.kill('SIGKILL');
    const deadline = killedAt + 60_000;
    for (;;) {
      // Short jobs, so the first one sent after the last minion has moved is not far behind it.
      const job = await api2.runJob('bench-*', 'test.ping', 1_000);
      if (job.latencies.length === n) {
        const jobStart = Date.now() - job.allMs;
        return { n, allAnswerMs: jobStart - killedAt + Math.max(...job.latencies) };
      }
      progress(
        n,
        `failover: ${job.latencies.length} of ${n} answered a job sent ${Date.now() - job.allMs - killedAt} ms after the kill`,
      );
      if (Date.now() > deadline) throw new Error(`after the kill only ${job.latencies.length} of ${n} answer`);
    }
  } finally {
    if (swarm !== undefined) await stopBenchProcess(swarm, 10_000);
    for (const master of masters) await stopBenchProcess(master.proc);
    await stopDevstack(devstack);
    await rm(dir, { recursive: true, force: true, maxRetries: 10 });
  }
}

const fmt = (x: number, digits = 1): string => x.toFixed(digits);

function markdown(results: {
  machine: Record<string, unknown>;
  date: string;
  repeats: number;
  scenarios: ScenarioResult[];
  failover?: { n: number; allAnswerMs: number };
  onboarding?: OnboardingResult;
  highstate?: HighstateResult;
  gitfs?: GitUpdateResult;
  chaos?: ChaosResult;
}): string {
  const m = results.machine;
  return [
    '# Phoenix benchmark',
    '',
    `Run ${results.date} on ${String(m.cpuModel)} (${String(m.cores)} cores), ${fmt(Number(m.memoryGiB))} GiB, Node ${String(m.node)}.`,
    `Each figure is the median over ${results.repeats} repeats; one master, minions in one swarm process.`,
    '',
    ...(results.scenarios.length === 0 ? [] : scenarioTables(results.scenarios)),
    ...(results.failover === undefined
      ? []
      : [
          `Failover: kill -9 of one of two masters, N=${results.failover.n}: every minion answered through the other ${fmt(results.failover.allAnswerMs)} ms after the kill (one run).`,
          '',
        ]),
    ...(results.onboarding === undefined
      ? []
      : [
          `Onboarding: ${results.onboarding.n} instances launched through the simulator were all accepted, highstated and in service ${fmt(results.onboarding.allInServiceMs)} ms after the scale-up (${fmt(results.onboarding.instancesPerMinute)} a minute; real processes on this machine).`,
          `Propagation: a new master was in every minion's config ${fmt(results.onboarding.joinPropagationMs)} ms after the scale-up, and a removed one gone from every config ${fmt(results.onboarding.leavePropagationMs)} ms after the scale-down.`,
          '',
        ]),
    ...(results.gitfs === undefined
      ? []
      : [
          '',
          `Git roots: \`fileserver update\` on one of ${results.gitfs.masters} masters → every master serving the new commit (masters table): ${fmt(results.gitfs.allServingMs)} ms (median of ${results.gitfs.runsMs.map((ms) => fmt(ms, 0)).join(', ')}).`,
        ]),
    ...(results.highstate === undefined
      ? []
      : [
          `No-change highstate of a ${results.highstate.states}-state tree (\`phoenix call --local state.highstate\`, Jinja loops, map.jinja, requisites): ${fmt(results.highstate.wholeCommandMs)} ms for the whole command, ${fmt(results.highstate.inStatesMs)} ms in the states, ${fmt(results.highstate.outsideStatesMs)} ms outside them (process and CLI start-up, pillar, top, rendering, compiling); \`phoenix call --local test.ping\` ${fmt(results.highstate.callPingMs)} ms, \`node -e 0\` ${fmt(results.highstate.nodeMs)} ms.`,
          '',
        ]),
    ...(results.chaos === undefined ? [] : chaosMarkdown(results.chaos)),
    'Masters-table reads are counted by each minion’s master-list manager: at start (the fallback read of a minion not connected within its grace period) and per minion-hour once every minion answers.',
    '',
  ].join('\n');
}

function scenarioTables(scenarios: ScenarioResult[]): string[] {
  return [
    '| N | p50 ms | p99 ms | max ms | client sees all ms | ZeroMQ baseline ms | ratio | master RSS kB/minion | master CPU ms/job | table reads/minion at start | table reads/minion-hour steady |',
    '| -: | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: |',
    ...scenarios.map(
      (s) =>
        `| ${s.n} | ${fmt(s.fanOut.p50Ms)} | ${fmt(s.fanOut.p99Ms)} | ${fmt(s.fanOut.maxMs)} | ${fmt(s.fanOut.allReturnedMs)} | ${fmt(s.baseline.allAnsweredMs, 2)} | ${fmt(s.ratio)} | ${fmt(s.cost.masterRssKbPerMinion)} | ${fmt(s.cost.masterCpuMsPerJob)} | ${fmt(s.cost.tableReadsAtStartPerMinion, 2)} | ${fmt(s.cost.tableReadsPerMinionHour, 2)} |`,
    ),
    '',
    "| N | `phoenix run '*' test.ping` ms | `node -e 0` ms | ratio | CLI start-up ms (command less the job) |",
    '| -: | -: | -: | -: | -: |',
    ...scenarios.map(
      (s) =>
        `| ${s.n} | ${fmt(s.cli.phoenixRunMs)} | ${fmt(s.cli.nodeMs)} | ${fmt(s.cli.ratio, 2)} | ${fmt(s.cli.startupMs)} |`,
    ),
    '',
    '| N | swarm started ms | keys accepted/s (one `keys accept` of all N) | accept → every minion answering ms |',
    '| -: | -: | -: | -: |',
    ...scenarios.map(
      (s) =>
        `| ${s.n} | ${fmt(s.cost.swarmStartMs)} | ${fmt(s.cost.keysAcceptedPerSecond)} | ${fmt(s.cost.acceptToAnsweringMs)} |`,
    ),
    '',
    'Latencies run from just before `POST /api/v1/jobs` to each return’s arrival at the master;',
    'ratio = Phoenix max / baseline (one ROUTER, N CURVE DEALERs, one context, one message each way).',
  ];
}

function chaosMarkdown(c: ChaosResult): string[] {
  const ms = (value: number | null): string => (value === null ? 'not within the bound' : `${fmt(value, 0)} ms`);
  return [
    `Chaos, N=${c.n}, three masters: time from each fault until every minion answered a job again.`,
    '',
    '| fault | master | its minions | every minion answering one job after | each minion answering some job after |',
    '| --- | --- | -: | -: | -: |',
    ...c.faults.map(
      (f) => `| ${f.fault} | ${f.victim} | ${f.victimHeld} | ${ms(f.recoveryMs)} | ${ms(f.eachAnsweredMs)} |`,
    ),
    '',
    `After SIGCONT: ${c.failback.onPreferred} of ${c.failback.of} minions on their first choice of master ${c.failback.ms === null ? `after ${fmt(c.failback.boundMs / 1000, 0)} s` : `after ${fmt(c.failback.ms, 0)} ms`}.`,
    `Ledger jobs published into the faults: ${c.ledger.jobs} (${c.ledger.expected} job-minion pairs); lost jobs ${c.ledger.lostJobs}, lost returns ${c.ledger.lostReturns}, duplicated jobs ${c.ledger.duplicatedJobs}, minions whose ledger could not be read ${c.ledger.unread}; duplicated returns on the job streams ${c.duplicatedReturns}.`,
    '',
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '100,1000' },
      repeats: { type: 'string', short: 'r', default: '3' },
      /** Also run the failover scenario at this N (two masters, kill -9 of one). */
      failover: { type: 'string' },
      /** Also launch this many instances through the local cluster: onboarding and propagation. */
      onboarding: { type: 'string' },
      /** Also run the chaos scenario at this N: three masters; kill -9, SIGSTOP, a restart storm. */
      chaos: { type: 'string' },
      /** Rounds of the chaos scenario's restart storm. */
      'chaos-rounds': { type: 'string', default: '5' },
      /** States in the no-change highstate tree (phoenix call --local); 0 skips it. */
      highstate: { type: 'string', default: '200' },
      /** Masters serving a git root, timed from `fileserver update` to all serving the new commit; 0 skips it. */
      gitfs: { type: 'string', default: '3' },
      'out-dir': { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
      /** Every master and swarm writes a CPU profile into this directory; phases.json marks the phases. */
      profile: { type: 'string' },
      /** Every process's output goes to DIR/<role>.log too; the swarm logs at info. */
      'log-dir': { type: 'string' },
    },
    strict: true,
  });
  // `--n ''` runs no fan-out scenario (only the others asked for).
  const ns = values.n === '' ? [] : values.n.split(',').map(Number);
  const repeats = Number(values.repeats);
  if (ns.some((n) => !Number.isInteger(n) || n < 1 || n > 20_000))
    throw new Error('--n: whole numbers 1..20000, comma-separated');
  if (!Number.isInteger(repeats) || repeats < 1 || repeats > 100) throw new Error('--repeats: a whole number 1..100');
  if (values['log-dir'] !== undefined) {
    await mkdir(values['log-dir'], { recursive: true });
    process.env.PHOENIX_BENCH_LOG_DIR = values['log-dir'];
  }
  if (values.profile !== undefined) {
    await mkdir(values.profile, { recursive: true });
    process.env.PHOENIX_BENCH_PROFILE_DIR = values.profile;
  }
  const scenarios: ScenarioResult[] = [];
  for (const n of ns) {
    process.stderr.write(`bench: N=${n}\n`);
    const result = await scenario(n, repeats);
    process.stderr.write(`bench: N=${n} ${JSON.stringify(result)}\n`);
    scenarios.push(result);
  }
  let failoverResult: Awaited<ReturnType<typeof failover>> | undefined;
  if (values.failover !== undefined) {
    process.stderr.write(`bench: failover N=${values.failover}\n`);
    failoverResult = await failover(Number(values.failover));
    process.stderr.write(`bench: failover ${JSON.stringify(failoverResult)}\n`);
  }
  let onboardingResult: OnboardingResult | undefined;
  if (values.onboarding !== undefined) {
    const count = Number(values.onboarding);
    if (!Number.isInteger(count) || count < 1 || count > 200) throw new Error('--onboarding: a whole number 1..200');
    process.stderr.write(`bench: onboarding N=${count}\n`);
    onboardingResult = await onboarding(count, (step) => progress(count, step));
    process.stderr.write(`bench: onboarding ${JSON.stringify(onboardingResult)}\n`);
  }
  let gitResult: GitUpdateResult | undefined;
  const gitMasters = Number(values.gitfs);
  if (!Number.isInteger(gitMasters) || gitMasters < 0 || gitMasters > 10)
    throw new Error('--gitfs: a whole number 0..10');
  if (gitMasters > 0) {
    process.stderr.write(`bench: git roots on ${gitMasters} masters\n`);
    gitResult = await gitUpdate(gitMasters, repeats);
    process.stderr.write(`bench: git roots ${JSON.stringify(gitResult)}\n`);
  }
  let chaosResult: ChaosResult | undefined;
  if (values.chaos !== undefined) {
    const count = Number(values.chaos);
    const rounds = Number(values['chaos-rounds']);
    if (!Number.isInteger(count) || count < 1 || count > 20_000) throw new Error('--chaos: a whole number 1..20000');
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) throw new Error('--chaos-rounds: a whole number 1..50');
    process.stderr.write(`bench: chaos N=${count}\n`);
    chaosResult = await chaos(count, rounds, (step) => progress(count, step));
    process.stderr.write(`bench: chaos ${JSON.stringify(chaosResult)}\n`);
  }
  let highstateResult: HighstateResult | undefined;
  const states = Number(values.highstate);
  if (!Number.isInteger(states) || states < 0 || states > 5_000) throw new Error('--highstate: a whole number 0..5000');
  if (states > 0) {
    process.stderr.write(`bench: no-change highstate of ${states} states\n`);
    highstateResult = await noChangeHighstate(states, repeats);
    process.stderr.write(`bench: highstate ${JSON.stringify(highstateResult)}\n`);
  }
  const results = {
    date: new Date().toISOString(),
    repeats,
    machine: {
      cores: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: totalmem() / 2 ** 30,
      node: process.version,
    },
    scenarios,
    ...(failoverResult === undefined ? {} : { failover: failoverResult }),
    ...(onboardingResult === undefined ? {} : { onboarding: onboardingResult }),
    ...(highstateResult === undefined ? {} : { highstate: highstateResult }),
    ...(gitResult === undefined ? {} : { gitfs: gitResult }),
    ...(chaosResult === undefined ? {} : { chaos: chaosResult }),
  };
  await mkdir(values['out-dir'], { recursive: true });
  await writeFile(join(values['out-dir'], 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(values['out-dir'], 'results.md'), markdown(results));
  if (values.profile !== undefined)
    await writeFile(join(values.profile, 'phases.json'), `${JSON.stringify(phases, null, 2)}\n`);
}

// The AWS SDK's notice that its 2027 releases need Node.js 22, off as in the programs' launchers
// (packages/*/bin): this process runs the devstack's SDK clients, and its children inherit it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.once('exit', killAllBenchProcesses);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAllBenchProcesses();
    process.exit(130);
  });
}
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
    killAllBenchProcesses();
    process.exit(1);
  },
);
