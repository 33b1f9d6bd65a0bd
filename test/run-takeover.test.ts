import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Minion } from '@phoenix/minion';
import { useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, type RunningMaster } from './lib/cluster.js';
import { startMinions } from './lib/in-process-minions.js';

/*
 * A run survives the master driving it: an orchestration and a batch rollout are started on m1,
 * m1 is killed with SIGKILL in the middle of a step, and m2 takes both runs over once m1's lease
 * lapses. Every step writes a line to its minion's log, so "no step ran twice" is read from the
 * minions' own side.
 */

const LEASE_MS = 3_000;
const MINIONS = ['node-1', 'node-2', 'node-3'];
const MASTER = {
  heartbeatIntervalMs: 500,
  minionHeartbeatMs: 500,
  deadAfterMs: 2_000,
  runs: { leaseMs: LEASE_MS, sweepMs: 500 },
};

const minions: Minion[] = [];
after(async () => {
  await Promise.all(minions.map((minion) => minion.stop()));
});
const devstack = useDevstack();
const dir = useTempDir('phoenix-takeover-');
const processes = useProcesses();
const env = (master: RunningMaster): NodeJS.ProcessEnv => ({
  PHOENIX_API: master.api,
  PHOENIX_TOKEN: ADMIN_TOKEN,
  PHOENIX_HOME: dir(),
});
const logs = (): string => join(dir(), 'logs');

/** A step that appends its name to the minion's log, then takes `seconds`. */
const mark = (step: string, seconds: number): string =>
  `mark:\n  cmd.run:\n    - name: "echo ${step} >> ${logs()}/{{ grains['id'] }}.log; sleep ${seconds}"\n`;

interface RunView {
  run: {
    status: string;
    drivers: string[];
    lease?: { holder: string };
    steps: Record<string, { status: string; result?: boolean }>;
  };
  items: Array<{ step: number; jobs: Array<{ jid: string; minions: string[]; sentBy: string }> }>;
}

test(
  'kill -9 of the master driving an orchestration and a rollout mid-step: the other master finishes both, and no step runs twice',
  { timeout: 240_000 },
  async () => {
    await mkdir(logs(), { recursive: true });
    const tree = join(dir(), 'salt');
    await mkdir(join(tree, 'steps'), { recursive: true });
    await mkdir(join(tree, 'orch'), { recursive: true });
    await writeFile(join(tree, 'steps', 'one.sls'), mark('one', 0));
    await writeFile(join(tree, 'steps', 'two.sls'), mark('two', 6));
    await writeFile(join(tree, 'steps', 'three.sls'), mark('three', 0));
    await writeFile(join(tree, 'steps', 'rollout.sls'), mark('rollout', 3));
    await writeFile(
      join(tree, 'orch', 'chain.sls'),
      ['one', 'two', 'three']
        .map(
          (step, i) =>
            // queue: the rollout's state runs share the minions; a step waits for one in progress.
            `${step}:\n  salt.state:\n    - tgt: 'node-*'\n    - sls: steps.${step}\n    - queue: True\n` +
            (i === 0 ? '' : `    - require:\n      - salt: ${['one', 'two'][i - 1]}\n`),
        )
        .join('\n'),
    );
    const roots = { fileRoots: { base: [tree] }, pillarRoots: { base: [join(dir(), 'pillar')] } };
    const m1 = await startMasterProcess(devstack(), dir(), processes, 'm1', undefined, { ...MASTER, ...roots });
    const m2 = await startMasterProcess(devstack(), dir(), processes, 'm2', undefined, { ...MASTER, ...roots });
    await startMinions(devstack(), dir(), [m1, m2], MINIONS, env(m1), minions, { heartbeatMs: 500 });

    const orchestration = json<{ runId: string }>(
      await phoenix(['orchestrate', 'orch.chain', '--async', '--out', 'json'], env(m1)),
    ).runId;
    const rollout = json<{ runId: string }>(
      // queue=True: it waits for the orchestration's state run on the same minion, as Salt's does.
      await phoenix(
        ['run', '-b', '1', 'node-*', 'state.sls', 'steps.rollout', 'queue=True', '--async', '--out', 'json'],
        env(m1),
      ),
    ).runId;
    const show = async (master: RunningMaster, runId: string): Promise<RunView> =>
      json<RunView>(await phoenix(['orchestrations', 'show', runId, '--out', 'json'], env(master)));

    // In the middle of step two (its job sent, its minions sleeping), as m2 shows it: m1 drives.
    const live = await waitFor(
      async () => {
        const view = await show(m2, orchestration);
        return view.run.steps['1']?.status === 'running' && (view.items.find((i) => i.step === 1)?.jobs.length ?? 0) > 0
          ? view
          : undefined;
      },
      { what: 'step two of the orchestration to be running', timeoutMs: 60_000 },
    );
    assert.equal(live.run.lease?.holder, 'm1');
    assert.equal(live.run.steps['0']?.result, true);
    const rolloutBefore = await show(m2, rollout);
    assert.equal(rolloutBefore.run.status, 'running');
    m1.process.kill('SIGKILL');
    const killedAt = Date.now();
    // m2 takes both over once m1's lease lapses (3 s, and a sweep every 0.5 s): well within 20 s.
    await waitFor(
      async () => {
        const views = [await show(m2, orchestration), await show(m2, rollout)];
        return views.every((v) => v.run.drivers.includes('m2') || v.run.status !== 'running');
      },
      { what: 'm2 to take both runs over', timeoutMs: 20_000, intervalMs: 250 },
    );
    const takenMs = Date.now() - killedAt;

    const finished = await waitFor(
      async () => {
        const views = [await show(m2, orchestration), await show(m2, rollout)];
        return views.every((v) => v.run.status !== 'running') ? views : undefined;
      },
      { what: 'm2 to finish both runs', timeoutMs: 90_000, intervalMs: 250 },
    );
    const tookMs = Date.now() - killedAt;
    const [chain, batch] = finished as [RunView, RunView];
    assert.equal(chain.run.status, 'succeeded', JSON.stringify(chain.run));
    assert.equal(batch.run.status, 'succeeded', JSON.stringify(batch.run));
    assert.deepEqual(chain.run.drivers, ['m1', 'm2']);
    assert.deepEqual(batch.run.drivers, ['m1', 'm2']);
    // Step two's job was sent once, by m1, and followed by m2: never sent again.
    const stepTwo = chain.items.find((i) => i.step === 1);
    assert.equal(stepTwo?.jobs.length, 1);
    assert.equal(stepTwo?.jobs[0]?.sentBy, 'm1');
    assert.equal(chain.items.find((i) => i.step === 2)?.jobs[0]?.sentBy, 'm2');
    // The rollout sent each minion its job once, whoever sent it.
    const rolled = batch.items[0]?.jobs.flatMap((j) => j.minions) ?? [];
    assert.deepEqual([...rolled].sort(), MINIONS);
    // On the minions: every step once, in order, and the rollout once.
    for (const id of MINIONS) {
      const lines = (await readFile(join(logs(), `${id}.log`), 'utf8')).trim().split('\n');
      assert.deepEqual(
        lines.filter((l) => l !== 'rollout'),
        ['one', 'two', 'three'],
        `${id}: ${lines.join(', ')}`,
      );
      assert.equal(lines.filter((l) => l === 'rollout').length, 1, `${id}: ${lines.join(', ')}`);
    }
    console.log(
      `m2 took both runs over ${takenMs} ms and finished them ${tookMs} ms after m1 was killed (lease ${LEASE_MS} ms)`,
    );
  },
);
