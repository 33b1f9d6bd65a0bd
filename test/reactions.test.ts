import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Minion } from '@phoenix/minion';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, type RunningMaster } from './lib/cluster.js';
import { startMinions } from './lib/in-process-minions.js';

/*
 * Reactor rules on three masters. Every master hears every event (its own, and those its peers
 * relay), and each tries to react; one conditional write per event and rule decides which one does,
 * so each event causes exactly one job, where Salt's reactor fires once per master.
 */

const RULES = [
  {
    name: 'highstate-on-start',
    event: 'phoenix/minion/*/start',
    run: { target: '{{ data.id }}', targetType: 'list', function: 'state.apply', kwargs: { queue: true } },
  },
  {
    name: 'deploy-done',
    event: 'myapp/deploy/*',
    run: {
      target: '{{ data.id }}',
      targetType: 'list',
      function: 'test.echo',
      args: ['{{ tag }} from {{ data.id }} v{{ data.version }}'],
    },
  },
];
RULES.push({
  name: 'state-fired',
  event: 'state_result/*/announce',
  run: {
    target: '{{ data.id }}',
    targetType: 'list',
    function: 'test.echo',
    args: ['{{ data.__id__ }} {{ data.result }}'],
  },
});
const MINIONS = ['node-1', 'node-2', 'node-3', 'node-4'];

const minions: Minion[] = [];
after(async () => {
  await Promise.all(minions.map((minion) => minion.stop()));
});
const devstack = useDevstack();
const dir = useTempDir('phoenix-reactions-');
const processes = useProcesses();
const masters: RunningMaster[] = [];
const env = (master = masters[0] as RunningMaster): NodeJS.ProcessEnv => ({
  PHOENIX_API: master.api,
  PHOENIX_TOKEN: ADMIN_TOKEN,
  PHOENIX_HOME: dir(),
});

interface StreamedEvent {
  id: string;
  tag: string;
  masterId: string;
  data: Record<string, unknown>;
}
/** Every event one master's stream carried (the whole cluster's), from the cluster's start. */
const heard: StreamedEvent[] = [];
let stream: AbortController | undefined;
after(() => stream?.abort());

async function listen(master: RunningMaster): Promise<void> {
  stream = new AbortController();
  const response = await fetch(`${master.api}/api/v1/events?tag=minion/&tag=reaction/`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: stream.signal,
  });
  assert.equal(response.status, 200);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done === true) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data !== undefined) heard.push(JSON.parse(data) as StreamedEvent);
      }
    }
  })();
}

let started: Promise<void> | undefined;
const cluster = (): Promise<void> => (started ??= startCluster());

async function startCluster(): Promise<void> {
  const tree = join(dir(), 'salt');
  await mkdir(tree, { recursive: true });
  await writeFile(join(tree, 'top.sls'), "base:\n  '*':\n    - hello\n");
  await writeFile(join(tree, 'hello.sls'), 'hello:\n  test.succeed_without_changes: []\n');
  await writeFile(join(tree, 'fired.sls'), 'announce:\n  test.succeed_without_changes:\n    - fire_event: True\n');
  for (const id of ['m1', 'm2', 'm3']) {
    masters.push(
      await startMasterProcess(devstack(), dir(), processes, id, undefined, {
        heartbeatIntervalMs: 500,
        fileRoots: { base: [tree] },
        pillarRoots: { base: [join(dir(), 'pillar')] },
        reactor: { rules: RULES },
      }),
    );
  }
  // The masters know each other before the first minion connects: every event reaches every one.
  await waitFor(
    async () =>
      json<{ masters: Array<{ liveness: string }> }>(await phoenix(['masters', '--out', 'json'], env())).masters.filter(
        (m) => m.liveness === 'live',
      ).length === 3,
    { what: 'three live masters', timeoutMs: 30_000 },
  );
  await listen(masters[0] as RunningMaster);
  await startMinions(devstack(), dir(), masters, MINIONS, env(), minions);
}

interface Job {
  jid: string;
  fun: string;
  args: unknown[];
  target: string;
  submitter: string;
}
const jobsBy = async (submitter: string): Promise<Job[]> =>
  json<{ jobs: Job[] }>(await phoenix(['jobs', 'list', '--limit', '1000', '--out', 'json'], env())).jobs.filter(
    (job) => job.submitter === submitter,
  );

test(
  'a rule on phoenix/minion/*/start with three masters: exactly one state.apply job per connection of a minion',
  { timeout: 180_000 },
  async () => {
    await cluster();
    // node-1 connects once more: that connection is an event of its own.
    const first = minions.shift() as Minion;
    await first.stop();
    await startMinions(devstack(), dir(), masters, ['node-1'], env(), minions);
    const connections = (): StreamedEvent[] => heard.filter((e) => e.tag === 'minion/connected');
    const fired = (): StreamedEvent[] =>
      heard.filter((e) => e.tag === 'reaction/fired' && e.data.rule === 'highstate-on-start');
    await waitFor(() => connections().length >= MINIONS.length + 1 && fired().length >= connections().length, {
      what: 'a reaction to every connection',
      timeoutMs: 60_000,
    });
    // A minion may still move to its first-choice master (a connection, and a reaction, more):
    // what is checked is every connection heard so far, each against its own reaction.
    const seen = connections();
    const reactionsTo = (eventId: string): StreamedEvent[] => fired().filter((e) => e.data.eventId === eventId);
    for (const connection of seen)
      assert.equal(reactionsTo(connection.id).length, 1, `the connection ${connection.id}`);
    // The jobs table agrees: each reaction's job is there, a state.apply of the minion that connected,
    // and there is no job beyond the reactions (a second master reacting would have made one).
    const all = await waitFor(
      async () => {
        const jobs = await jobsBy('reactor:highstate-on-start');
        return jobs.length === fired().length ? jobs : undefined;
      },
      { what: 'one job per reaction', timeoutMs: 20_000 },
    );
    assert.equal(new Set(fired().map((e) => e.data.eventId)).size, fired().length, 'no event reacted to twice');
    for (const connection of seen) {
      const job = all.find((j) => j.jid === reactionsTo(connection.id)[0]?.data.jid);
      assert.ok(job !== undefined, `the job of the reaction to ${connection.id}`);
      assert.equal(job.fun, 'state.apply');
      assert.equal(job.target, connection.data.minionId);
    }
    assert.ok(seen.filter((e) => e.data.minionId === 'node-1').length >= 2, 'node-1 connected twice');
    const jobs = all;
    const on = connections().map((e) => e.masterId);
    const reacting = fired().map((e) => e.masterId);
    console.log(`${jobs.length} connections (to ${on.join(', ')}), ${jobs.length} jobs (by ${reacting.join(', ')})`);
  },
);

test(
  "a minion's own event (event.send) is reacted to once, its tag and data in the rule's template",
  { timeout: 120_000 },
  async () => {
    await cluster();
    const sent = await phoenix(
      ['run', 'node-2', 'event.send', 'myapp/deploy/done', 'version=7', '--out', 'json'],
      env(masters[2]),
    );
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const [job] = await waitFor(
      async () => {
        const found = await jobsBy('reactor:deploy-done');
        return found.length > 0 ? found : undefined;
      },
      { what: 'the reaction to the deploy event', timeoutMs: 30_000 },
    );
    assert.deepEqual(job?.args, ['myapp/deploy/done from node-2 v7']);
    assert.equal(job?.target, 'node-2');
    const reactions = await waitFor(
      () => {
        const found = heard.filter((e) => e.tag === 'reaction/fired' && e.data.rule === 'deploy-done');
        return found.length > 0 ? found : undefined;
      },
      { what: 'the reaction/fired event', timeoutMs: 10_000 },
    );
    assert.equal(reactions.length, 1);
    assert.equal((await jobsBy('reactor:deploy-done')).length, 1);
    // The cluster's own tags are not a minion's to send.
    const forged = await phoenix(
      ['run', 'node-2', 'event.send', 'phoenix/minion/node-9/start', '--out', 'json'],
      env(),
    );
    assert.equal(forged.code, 1);
    assert.match(forged.stdout, /tags under phoenix\/ are the cluster's own/);
  },
);

test(
  'a reactor rule with a bad tag, a bad target or an orchestration that is not there: the master refuses to start, naming the rule',
  { timeout: 120_000 },
  async () => {
    await cluster();
    for (const [index, rule, why] of [
      [
        0,
        { name: 'typo', event: 'phoenix/minoin/*/start', run: { target: '*', function: 'test.ping' } },
        /reactor\.rules\.0\.event.*phoenix\/minoin\/\*\/start.*no event of the cluster has such a tag/,
      ],
      [
        1,
        {
          name: 'bad-target',
          event: 'phoenix/minion/*/start',
          run: { target: 'G@role:web and', targetType: 'compound', function: 'test.ping' },
        },
        /reactor\.rules\.0\.run\.target/,
      ],
      [
        2,
        { name: 'ghost', event: 'phoenix/instance/*/launched', orchestrate: { name: 'orch.nowhere' } },
        /reactor\.rules\.0 \(ghost, event "phoenix\/instance\/\*\/launched"\): the orchestration orch\.nowhere is not in the file roots/,
      ],
    ] as const) {
      await assert.rejects(
        startMasterProcess(devstack(), dir(), processes, `bad-${index}`, undefined, {
          fileRoots: { base: [join(dir(), 'salt')] },
          reactor: { rules: [rule] },
        }),
        (err: Error) => {
          assert.match(err.message, /exited/);
          assert.match(err.message, why);
          return true;
        },
      );
    }
  },
);

test(
  'fire_event: True on a state sends its result as an event, which a rule reacts to once',
  { timeout: 120_000 },
  async () => {
    await cluster();
    const applied = json<{ jid: string }>(
      await phoenix(['run', 'node-3', 'state.sls', 'fired', '--out', 'json'], env(masters[1])),
    );
    const event = await waitFor(
      () => heard.find((e) => e.tag === 'minion/event' && e.data.tag === `state_result/${applied.jid}/node-3/announce`),
      { what: 'the state result event', timeoutMs: 30_000 },
    );
    assert.equal(event.data.minionId, 'node-3');
    assert.equal((event.data.data as { result?: unknown }).result, true);
    const [job] = await waitFor(
      async () => {
        const found = await jobsBy('reactor:state-fired');
        return found.length > 0 ? found : undefined;
      },
      { what: 'the reaction to the state result', timeoutMs: 30_000 },
    );
    assert.deepEqual(job?.args, ['announce True']);
    assert.equal((await jobsBy('reactor:state-fired')).length, 1);
  },
);
