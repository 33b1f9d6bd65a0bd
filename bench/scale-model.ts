/**
 * The capacity model of docs/scale.md: `node bench/dist/scale-model.js [--minions 100000]
 * [--masters 20] [--jobs-per-hour 4] [--kib-per-minion 190] [--reconnect-spread-ms 500]`.
 * Placement and failover use the minions' real `failoverOrder`; message sizes are the real
 * encoder's bytes of real message shapes. Prices are parameters (on-demand list prices), not facts.
 */
import { parseArgs } from 'node:util';
import { encodeMessage, failoverOrder, type MasterMessage, type MinionMessage } from '@phoenix/protocol';

const { values } = parseArgs({
  options: {
    minions: { type: 'string', default: '100000' },
    masters: { type: 'string', default: '20' },
    'jobs-per-hour': { type: 'string', default: '4' },
    'kib-per-minion': { type: 'string', default: '190' },
    'reconnect-spread-ms': { type: 'string', default: '500' },
    'reconnects-per-minion-day': { type: 'string', default: '1' },
    'usd-per-million-writes': { type: 'string', default: '0.625' },
    'usd-per-million-reads': { type: 'string', default: '0.125' },
    'launches-per-minute': { type: 'string', default: '1000' },
    cell: { type: 'string', default: '5' },
  },
  strict: true,
});
const N = Number(values.minions);
const M = Number(values.masters);
const jobsPerHour = Number(values['jobs-per-hour']);
const cellSize = Number(values.cell);
for (const [name, value] of Object.entries({ N, M, jobsPerHour, cellSize }))
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name}: a positive number`);

const masters = Array.from({ length: M }, (_, i) => `master-${String(i + 1).padStart(2, '0')}`);
const minions = Array.from({ length: N }, (_, i) => `i-${(0x1000000 + i * 7919).toString(16).padStart(17, '0')}`);
const jid = '20261203141500123456';
const bytes = (message: MinionMessage | MasterMessage | Record<string, unknown>): number =>
  encodeMessage(message as MinionMessage).byteLength;

// Placement: each minion on its first choice; then the busiest master dies.
const orders = new Map(minions.map((id) => [id, failoverOrder(id, masters, (m) => m)]));
const held = new Map(masters.map((m) => [m, 0]));
for (const order of orders.values()) held.set(order[0] as string, (held.get(order[0] as string) ?? 0) + 1);
const counts = [...held.values()];
const victim = [...held].sort((a, b) => b[1] - a[1])[0]?.[0] as string;
const movedTo = new Map<string, number>();
for (const order of orders.values()) {
  if (order[0] !== victim) continue;
  movedTo.set(order[1] as string, (movedTo.get(order[1] as string) ?? 0) + 1);
}
const moved = [...movedTo.values()];
const spreadS = Number(values['reconnect-spread-ms']) / 1000;

// Message sizes (the real encoder, realistic ids).
const job = { v: 1, t: 'job', jid, fun: 'test.ping', args: [], kwargs: {}, timeoutMs: 60_000 } as const;
const ret = {
  v: 1,
  t: 'return',
  id: minions[0],
  jid,
  fun: 'test.ping',
  success: true,
  retcode: 0,
  ret: true,
  startedAt: Date.now(),
  finishedAt: Date.now(),
};
const sizes = {
  job: bytes(job),
  return: bytes(ret) + 40, // + the seal (sequence number and HMAC)
  ack: bytes({ v: 1, t: 'ack', jid }),
  heartbeat: bytes({ v: 1, t: 'heartbeat', at: Date.now() }),
  peerJob: bytes({ ...job, t: 'peer-job', from: masters[0], expected: minions }),
  peerReturn: bytes({ ...ret, t: 'peer-return', from: masters[1], minionId: minions[0], receivedAt: Date.now() }),
  jobItemExpectedBytes: minions.reduce((sum, id) => sum + id.length + 3, 0),
};

// Peer traffic for one job to every minion, submitted on one master.
const foreignReturns = N - N / M; // returns of minions on other masters go to the origin
const mesh = {
  links: (M * (M - 1)) / 2,
  jobMessages: M - 1,
  jobBytes: (M - 1) * sizes.peerJob,
  returnMessages: foreignReturns,
  returnBytes: foreignReturns * sizes.peerReturn,
};
// Cells of `cellSize` masters: a full mesh inside a cell, one link between cell leaders.
const cells = Math.ceil(M / cellSize);
const cellLinks = cells * ((cellSize * (cellSize - 1)) / 2) + (cells * (cells - 1)) / 2;

// DynamoDB request units per hour (on demand: a write of up to 1 KB is one unit, a strongly
// consistent read of up to 4 KB one unit).
const writesPerHour = {
  returns: jobsPerHour * N * Math.ceil((sizes.return + 100) / 1024),
  jobs: jobsPerHour * Math.ceil(sizes.jobItemExpectedBytes / 1024),
  masterHeartbeats: M * 1_800, // every 2 s
  presence: (N * 2 * Number(values['reconnects-per-minion-day'])) / 24, // a write on connect and on disconnect
};
const readsPerHour = {
  mastersTableByMasters: M * 1_800, // each master reads the list every heartbeat
  mastersTableByMinions: 0, // measured: 0 per minion-hour once connected
};
const totalWrites = Object.values(writesPerHour).reduce((a, b) => a + b, 0);
const totalReads = Object.values(readsPerHour).reduce((a, b) => a + b, 0);
const monthHours = 730;
const usdMonth =
  (totalWrites * monthHours * Number(values['usd-per-million-writes'])) / 1e6 +
  (totalReads * monthHours * Number(values['usd-per-million-reads'])) / 1e6;

const launches = Number(values['launches-per-minute']);
const report = {
  minions: N,
  masters: M,
  perMaster: {
    min: Math.min(...counts),
    max: Math.max(...counts),
    memoryMiBAtMax: (Math.max(...counts) * Number(values['kib-per-minion'])) / 1024,
  },
  killOne: {
    victim,
    itsMinions: held.get(victim),
    spreadOver: movedTo.size,
    mostToOneMaster: Math.max(...moved),
    fewestToOneMaster: Math.min(...moved),
    arrivalsPerSecondAtBusiest: Math.max(...moved) / spreadS,
  },
  messageBytes: sizes,
  jobItemOverDynamoDbLimit: sizes.jobItemExpectedBytes > 400 * 1024,
  peerTrafficPerJob: { fullMesh: mesh, cells: { cells, cellSize, links: cellLinks } },
  dynamodb: {
    writesPerHour,
    readsPerHour,
    usdPerMonth: usdMonth,
    usdPerMinionMonth: usdMonth / N,
  },
  sqs: {
    launchesPerMinute: launches,
    // One lifecycle-hook message and one SNS-wrapped launch notification per instance.
    messagesPerSecond: (2 * launches) / 60,
    // Long polls return up to 10 messages; each message is received once and deleted in batches of 10.
    requestsPerMinuteAtLeast: Math.ceil((2 * launches) / 10) * 2,
  },
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
