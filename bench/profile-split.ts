/**
 * Splits CPU profiles written by `npm run bench -- --profile DIR` by phase and by what the time
 * went to: `node bench/dist/profile-split.js DIR [N]`. Each sample goes to the category of the
 * nearest frame, from the leaf up, that names one (a native `stringify` called by the AWS SDK's
 * marshaller is DynamoDB request building); samples with no such frame are "other JavaScript".
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}
interface Phase {
  n: number;
  phase: string;
  atUs: number;
}

/** First match wins, tested on each frame from the leaf up. */
const CATEGORIES: Array<[string, (fn: string, url: string) => boolean]> = [
  ['logging (pino)', (_, url) => /node_modules\/(pino|sonic-boom|thread-stream|pino-std-serializers)\//.test(url)],
  ['schema checks (zod)', (_, url) => url.includes('node_modules/zod/')],
  [
    'decoding (msgpack, bounds)',
    (fn, url) => url.includes('@msgpack/') || /protocol\/dist\/(src\/)?(bounds|wire)\.js/.test(url),
  ],
  [
    'HMAC, sealing, nonces',
    (fn, url) =>
      /protocol\/dist\/(src\/)?keys\.js/.test(url) ||
      url.startsWith('node:internal/crypto') ||
      /^(Hmac|createHmac)/.test(fn),
  ],
  ['DynamoDB request building (AWS SDK)', (_, url) => /node_modules\/(@aws-sdk|@smithy|@aws-crypto)\//.test(url)],
  ['ZeroMQ (zeromq.js)', (_, url) => url.includes('node_modules/zeromq/')],
  ['HTTP API (fastify, SSE)', (_, url) => /node_modules\/(fastify|find-my-way|light-my-request|avvio)\//.test(url)],
  ['event announcing, job streams', (_, url) => /master\/dist\/(src\/)?(events|api\/)/.test(url)],
  ['master: returns and jobs', (_, url) => /master\/dist\/(src\/)?(jobs|return-batcher|recent-jobs)\.js/.test(url)],
  ['master: minion link, keys, ZAP', (_, url) => /master\/dist\/(src\/)?(minion-link|keys|zap|limits\/)/.test(url)],
  ['master: other', (_, url) => url.includes('master/dist/')],
  ['store (table code)', (_, url) => url.includes('store/dist/')],
  ['minion (swarm)', (_, url) => url.includes('minion/dist/')],
  ['garbage collection', (fn) => fn === '(garbage collector)'],
  ['idle', (fn) => fn === '(idle)'],
  ['(program: native, outside JavaScript)', (fn) => fn === '(program)'],
  ['Node internals (streams, timers, net)', (_, url) => url.startsWith('node:')],
];

function categorise(profile: Profile): Map<number, string> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const category = new Map<number, string>();
  for (const node of profile.nodes) {
    let found = 'other JavaScript';
    for (let at: ProfileNode | undefined = node, depth = 0; at !== undefined && depth < 1_000; depth++) {
      const match = CATEGORIES.find(([, test]) => test(at!.callFrame.functionName, at!.callFrame.url));
      if (match !== undefined) {
        found = match[0];
        break;
      }
      const up = parent.get(at.id);
      at = up === undefined ? undefined : byId.get(up);
    }
    category.set(node.id, found);
  }
  return category;
}

/** Milliseconds of samples per category within [fromUs, toUs). */
function split(profile: Profile, fromUs: number, toUs: number): Map<string, number> {
  const category = categorise(profile);
  const totals = new Map<string, number>();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < fromUs || at >= toUs) continue;
    const name = category.get(profile.samples[i] as number) ?? 'other JavaScript';
    // A sample stands for the time until the next one.
    const lasted = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    totals.set(name, (totals.get(name) ?? 0) + lasted);
  }
  return totals;
}

function table(title: string, totals: Map<string, number>): string {
  const busy = [...totals].filter(([name]) => name !== 'idle').reduce((sum, [, ms]) => sum + ms, 0);
  const rows = [...totals]
    .filter(([name]) => name !== 'idle')
    .sort((a, b) => b[1] - a[1])
    .map(([name, ms]) => `| ${name} | ${ms.toFixed(0)} | ${((100 * ms) / busy).toFixed(1)} % |`);
  return [
    `${title}: ${busy.toFixed(0)} ms busy, ${(totals.get('idle') ?? 0).toFixed(0)} ms idle`,
    '',
    '| what | ms | share of busy |',
    '| --- | ---: | ---: |',
    ...rows,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const [dir, nArg] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: profile-split DIR [N]');
  // Without phase marks (a run that stopped early), each profile is split whole.
  const phases = (await readFile(join(dir, 'phases.json'), 'utf8').then(
    (text) => JSON.parse(text) as Phase[],
    () => [],
  )) as Phase[];
  const ns = nArg === undefined ? [...new Set(phases.map((p) => p.n))] : [Number(nArg)];
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as Profile;
    if (phases.length === 0) {
      process.stdout.write(`## ${file}, whole\n\n${table('whole profile', split(profile, 0, Infinity))}\n`);
      continue;
    }
    for (const n of ns) {
      const at = (phase: string): number | undefined => phases.find((p) => p.n === n && p.phase === phase)?.atUs;
      const [start, accepted, fanStart, fanEnd] = ['swarm-start', 'keys-accepted', 'fan-out-start', 'fan-out-end'].map(
        at,
      );
      if (start === undefined || accepted === undefined || fanStart === undefined || fanEnd === undefined) continue;
      // A process that did not live through this N's phases has no samples in them.
      if (profile.endTime < start || profile.startTime > fanEnd) continue;
      process.stdout.write(`## ${file}, N=${n}\n\n`);
      process.stdout.write(table('enrolment (swarm start to all keys accepted)', split(profile, start, accepted)));
      process.stdout.write('\n');
      process.stdout.write(table('fan-out (the measured test.ping jobs)', split(profile, fanStart, fanEnd)));
      process.stdout.write('\n');
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
