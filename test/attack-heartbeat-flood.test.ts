import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { acceptWhenPending, adminEnv, everyMasterAnswers, refused, untilAnswers } from './lib/attack.js';
import { startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { HostileMinion } from './lib/hostile-minion.js';

// A minion with an accepted key sends heartbeats at 100 times the normal rate (the master's
// heartbeat interval, 1 s, is the link's normal rate): the master keeps serving the genuine
// minion, drops the excess and counts it, and neither strikes nor cuts off the flooding minion.
const HEARTBEAT_MS = 1_000;
const FLOOD_EVERY_MS = HEARTBEAT_MS / 100;
/** What the master takes of them: ten per interval after a burst of ten (minion-link.ts). */
const TAKEN_PER_SECOND = 10;
/** The flood's bound, however slow the pings during it are. */
const MAX_HEARTBEATS = 3_000;
/** The flood lasts at least this long, with pings through it (at most MAX_PINGS of them). */
const FLOOD_MS = 3_000;
const MAX_PINGS = 20;

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
let master: RunningMaster;
let rogue: HostileMinion | undefined;
after(() => rogue?.close());

const env = (): NodeJS.ProcessEnv => adminEnv(master, dir());

/** Wall time of one `phoenix run steady-1 test.ping` (CLI start included), asserting it answered. */
async function ping(): Promise<number> {
  const started = performance.now();
  const out = await phoenix(['run', 'steady-1', 'test.ping', '--out', 'json', '--timeout', '10'], env());
  assert.equal(out.code, 0, `${out.stdout}${out.stderr}`);
  assert.equal(json<{ returns: Record<string, { ret: unknown }> }>(out).returns['steady-1']?.ret, true);
  return performance.now() - started;
}

test('a master, a genuine minion and an accepted hostile one', async () => {
  master = await startMasterProcess(devstack(), dir(), processes, 'm1');
  await startMinionProcess(devstack(), dir(), processes, 'steady-1', [master]);
  rogue = new HostileMinion('rogue-1', devstack().clusterKeys.publicKey);
  assert.equal(await rogue.enrol(master), 'pending');
  await acceptWhenPending(env(), 2);
  await untilAnswers(env(), 'steady-1');
});

test('heartbeats at 100 times the normal rate: the excess dropped and counted, the genuine minion served', async () => {
  const hostile = rogue as HostileMinion;
  const welcome = await waitFor(() => hostile.connect(master, 2_000), { what: 'rogue-1 welcomed', timeoutMs: 20_000 });
  assert.equal(welcome.t, 'welcome');
  const quietMs = await ping();
  const before = await refused(master, 'wire', 'heartbeat-rate');
  const strikesBefore = await refused(master, 'wire', 'bad-seal');

  let flooding = true;
  let sent = 0;
  const started = performance.now();
  const flood = (async () => {
    // Paced, not as fast as the socket takes them: the rate is what this test is about. A late
    // timer is made up for, so the rate holds on a busy machine.
    while (flooding && sent < MAX_HEARTBEATS) {
      const due = Math.min(MAX_HEARTBEATS, Math.floor((performance.now() - started) / FLOOD_EVERY_MS) + 1);
      for (; sent < due; sent++) await hostile.send({ v: 1, t: 'heartbeat', id: 'rogue-1', at: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, FLOOD_EVERY_MS));
    }
  })();
  const during: number[] = [];
  try {
    while (during.length < MAX_PINGS && (during.length === 0 || performance.now() - started < FLOOD_MS))
      during.push(await ping());
  } finally {
    flooding = false;
    await flood;
  }
  const seconds = (performance.now() - started) / 1000;
  const allowed = TAKEN_PER_SECOND + Math.ceil(seconds * TAKEN_PER_SECOND);
  let dropped = 0;
  await waitFor(
    async () => {
      dropped = (await refused(master, 'wire', 'heartbeat-rate')) - before;
      return dropped >= sent - allowed;
    },
    { what: `at least ${sent - allowed} of ${sent} heartbeats counted as dropped`, timeoutMs: 10_000 },
  );
  assert.ok(dropped <= sent, `${dropped} dropped of ${sent} sent`);
  assert.equal(
    await refused(master, 'wire', 'bad-seal'),
    strikesBefore,
    'no message of the flood was refused otherwise',
  );
  console.log(
    `# ${sent} heartbeats in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s), ${dropped} dropped; ` +
      `test.ping (CLI included) ${Math.round(quietMs)} ms before, ${during.map(Math.round).join(', ')} ms during`,
  );
  // Not cut off: the flooding minion's key is still accepted, and its session still hears the master.
  const keys = json<{ keys: Array<{ minionId: string; state: string }> }>(
    await phoenix(['keys', 'list', '--out', 'json'], env()),
  ).keys;
  assert.equal(keys.find((k) => k.minionId === 'rogue-1')?.state, 'accepted');
  const sentJob = await phoenix(['run', 'rogue-1', 'test.ping', '--async', '--out', 'json'], env());
  assert.equal(sentJob.code, 0, sentJob.stderr);
  await waitFor(() => hostile.received.some((m) => m.t === 'job'), {
    what: 'a job sent to the flooding minion on its session',
    timeoutMs: 10_000,
  });
  await everyMasterAnswers([master], 'steady-1', dir());
});
