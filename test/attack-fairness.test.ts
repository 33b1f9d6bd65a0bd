import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MasterMessage } from '@phoenix/protocol';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { adminEnv, everyMasterAnswers, refused } from './lib/attack.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';
import { HostileMinion } from './lib/hostile-minion.js';

const FLOOD = 500;
const WAITING_PER_MINION = 2;
const STREAMS_PER_TOKEN = 3;
const READER_TOKEN = 'phoenix-test-reader-token';
const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

const devstack = useDevstack();
const dir = useTempDir();
const processes = useProcesses();
let master: RunningMaster;
let noisy: HostileMinion;
let quiet: HostileMinion;
after(() => {
  noisy?.close();
  quiet?.close();
});

const env = (): NodeJS.ProcessEnv => adminEnv(master, dir());

type Reply = Extract<MasterMessage, { t: 'reply' }>;
const isReply = (m: MasterMessage): m is Reply => m.t === 'reply';

test('a master whose pillar takes a while to render, and two accepted minions', async () => {
  const pillar = join(dir(), 'pillar');
  await mkdir(pillar, { recursive: true });
  await writeFile(join(pillar, 'top.sls'), "base:\n  '*':\n    - slow\n");
  // Slow on purpose (a loop in the template), so the noisy minion's requests really queue up.
  await writeFile(
    join(pillar, 'slow.sls'),
    '{% for i in range(150) %}{% for j in range(150) %}{% if j < 0 %}never{% endif %}{% endfor %}{% endfor %}\nsum: {{ 6 * 7 }}\n',
  );
  master = await startMasterProcess(devstack(), dir(), processes, 'm1', undefined, {
    pillarRoots: { base: [pillar] },
    // One render at a time: the order renders start in is then the order they end in. With two, the
    // quiet render and the noisy minion's last one could start together and finish in either order.
    fileServer: { pillarConcurrency: 1, pillarWaitingPerMinion: WAITING_PER_MINION },
    api: {
      tokens: [
        { name: 'test-admin', role: 'admin', sha256: sha256(ADMIN_TOKEN) },
        { name: 'reader', role: 'read', sha256: sha256(READER_TOKEN) },
      ],
      streamsPerToken: STREAMS_PER_TOKEN,
    },
  });
  await startMinionProcess(devstack(), dir(), processes, 'steady-1', [master]);
  noisy = new HostileMinion('noisy-1', devstack().clusterKeys.publicKey);
  quiet = new HostileMinion('quiet-1', devstack().clusterKeys.publicKey);
  await noisy.enrol(master);
  await quiet.enrol(master);
  await waitFor(
    async () =>
      json<{ keys: unknown[] }>(await phoenix(['keys', 'list', '--state', 'pending', '--out', 'json'], env())).keys
        .length === 3,
    { what: 'three keys pending', timeoutMs: 20_000 },
  );
  await phoenix(['keys', 'accept', '*'], env());
  assert.ok(await waitFor(() => noisy.connect(master, 2_000), { what: 'noisy-1 welcomed', timeoutMs: 20_000 }));
  assert.ok(await waitFor(() => quiet.connect(master, 2_000), { what: 'quiet-1 welcomed', timeoutMs: 20_000 }));
});

/** Asks for quiet-1's pillar as request `req`; the reply and how long it took (ms). */
async function quietPillar(req: number): Promise<{ answer: Reply; asked: number; answeredAt: number }> {
  const asked = performance.now();
  await quiet.send({ v: 1, t: 'pillar', id: 'quiet-1', req, env: 'base' });
  const answer = (await quiet.waitFor((m) => isReply(m) && m.req === req, 150_000)) as Reply;
  return { answer, asked, answeredAt: quiet.receivedAt[quiet.received.indexOf(answer)] as number };
}

test(`${FLOOD} pillar requests from one minion do not hold back another minion's pillar`, async () => {
  // The same request with nobody else asking: what one render costs on this machine now.
  const alone = await quietPillar(1);
  assert.equal(alone.answer.error, undefined, JSON.stringify(alone.answer.error));
  const floodStarted = performance.now();
  for (let req = 1; req <= FLOOD; req++) await noisy.send({ v: 1, t: 'pillar', id: 'noisy-1', req, env: 'base' });
  // Asked once the flood is in: in a first-come queue it would wait for everything before it.
  const { answer, asked, answeredAt } = await quietPillar(2);
  assert.equal(answer.error, undefined, JSON.stringify(answer.error));
  assert.equal(typeof answer.pillar?.sum, 'number', 'the quiet minion got its pillar');

  // Every noisy request is answered: a share of them rendered, the rest refused at once as busy.
  await waitFor(() => noisy.received.filter(isReply).length === FLOOD, {
    what: 'every noisy request answered',
    timeoutMs: 150_000,
  });
  const replies = noisy.received.filter(isReply);
  const rendered = replies.filter((r) => r.error === undefined);
  const busy = replies.filter((r) => r.error?.code === 'PHX_MASTER_BUSY');
  assert.equal(rendered.length + busy.length, FLOOD);
  assert.ok(rendered.length <= WAITING_PER_MINION + 1, `${rendered.length} rendered: one running, the rest waiting`);
  const renderedAt = rendered.map((r) => noisy.receivedAt[noisy.received.indexOf(r)] as number);
  const before = renderedAt.filter((at) => at < answeredAt).length;
  const lastNoisy = Math.max(...renderedAt);
  process.stdout.write(
    `# quiet minion's pillar in ${Math.round(answeredAt - asked)} ms during the flood (${Math.round(alone.answeredAt - alone.asked)} ms alone), while the noisy minion's ${rendered.length} accepted renders took ${Math.round(lastNoisy - floodStarted)} ms (${busy.length} refused as busy)\n`,
  );
  // Structurally fair: the quiet request went ahead of the noisy queue, not behind it (at most the
  // render running when it came, and one started as that ended before the quiet request arrived).
  assert.ok(before <= 2, `${before} noisy renders finished before the quiet one`);
  assert.ok(lastNoisy > answeredAt, 'the noisy queue was still draining when the quiet pillar arrived');

  assert.equal(await refused(master, 'pillar', 'busy'), busy.length, 'every busy answer counted in /metrics');
  await everyMasterAnswers([master], 'steady-1', dir());
  noisy.close();
  quiet.close();
});

test('one token holding its share of streams gets 429 for one more; another token still gets its stream', async () => {
  const controllers: AbortController[] = [];
  const open = async (token: string): Promise<number> => {
    const controller = new AbortController();
    controllers.push(controller);
    const response = await fetch(`${master.api}/api/v1/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: controller.signal,
    });
    if (response.status !== 200) await response.text();
    return response.status;
  };
  try {
    for (let i = 0; i < STREAMS_PER_TOKEN; i++) assert.equal(await open(ADMIN_TOKEN), 200);
    assert.equal(await open(ADMIN_TOKEN), 429, 'one more stream for the same token is refused');
    assert.equal(await open(READER_TOKEN), 200, 'another token is not starved by it');
  } finally {
    for (const controller of controllers) controller.abort();
  }
  // A closed stream gives its place back.
  await waitFor(async () => (await open(ADMIN_TOKEN)) === 200, { what: 'a place freed by closing a stream' });
  for (const controller of controllers) controller.abort();
});
