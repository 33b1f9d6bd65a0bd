import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Minion } from '@phoenix/minion';
import { useDevstack, useProcesses, useTempDir } from '@phoenix/devstack/testing';
import { startMinions } from './lib/in-process-minions.js';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, type RunningMaster } from './lib/cluster.js';

/*
 * Batch rollouts (`phoenix run -b`) against a real master and eight minions. The probe state
 * prints the minion's own clock when it starts and ends, so how many ran at once is measured from
 * the returns themselves. Two minions fail fast; the others take three seconds and node-4 eight, so
 * the order of events does not depend on the machine's speed (each run's own overhead may reach
 * seconds on a loaded machine): node-2 fails first (one failure is allowed), node-5 fails second,
 * while node-4 still runs; the rollout stops there.
 */

const FAILING = ['node-2', 'node-5'];
const MINIONS = Array.from({ length: 8 }, (_, i) => `node-${i + 1}`);
const PROBE = `{% set fail = grains['id'] in ${JSON.stringify(FAILING).replace(/"/g, "'")} %}
{% set seconds = '0.5' if fail else ('8' if grains['id'] == 'node-4' else '3') %}
probe:
  cmd.run:
    - name: "echo start $(date +%s%3N); sleep {{ seconds }}; echo end $(date +%s%3N){% if fail %}; exit 1{% endif %}"
`;

const minions: Minion[] = [];
after(async () => {
  await Promise.all(minions.map((minion) => minion.stop()));
});
const devstack = useDevstack();
const dir = useTempDir('phoenix-batch-');
const processes = useProcesses();
let master: RunningMaster;
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN, PHOENIX_HOME: dir() });

interface BatchDocument {
  runId: string;
  status: string;
  summary: string;
  returns: Record<string, { success: boolean; retcode: number; ret: Record<string, { changes: { stdout?: string } }> }>;
  failed: string[];
  neverRan: string[];
  jobs: Array<{ jid: string; minions: string[] }>;
}

/** The cluster every test here shares, started by the first test that needs it. */
let started: Promise<void> | undefined;
const cluster = (): Promise<void> => (started ??= startCluster());

async function startCluster(): Promise<void> {
  await mkdir(join(dir(), 'salt', 'batch'), { recursive: true });
  await writeFile(join(dir(), 'salt', 'batch', 'probe.sls'), PROBE);
  master = await startMasterProcess(devstack(), dir(), processes, 'm1', undefined, {
    fileRoots: { base: [join(dir(), 'salt')] },
    pillarRoots: { base: [join(dir(), 'pillar')] },
  });
  await startMinions(devstack(), dir(), [master], MINIONS, env(), minions);
}

/** The probe's own clock readings, from its return. */
function window(ret: BatchDocument['returns'][string]): { start: number; end: number } {
  const stdout = Object.values(ret.ret)[0]?.changes.stdout ?? '';
  const start = Number(/start (\d+)/.exec(stdout)?.[1]);
  const end = Number(/end (\d+)/.exec(stdout)?.[1]);
  assert.ok(start > 0 && end >= start, `the probe printed its times: ${stdout}`);
  return { start, end };
}

test(
  '-b 2 --max-failures 1 over 8 minions, two failing: never more than 2 at once, stopped after the second failure, the rest named as never run',
  { timeout: 120_000 },
  async () => {
    await cluster();
    const out = await phoenix(
      ['run', '-b', '2', '--max-failures', '1', 'node-*', 'state.sls', 'batch.probe', '--out', 'json', '-t', '60'],
      env(),
      110_000,
    );
    const doc = json<BatchDocument>(out);
    assert.equal(out.code, 1, 'a stopped rollout is a failure');
    assert.equal(doc.status, 'stopped', doc.summary);
    assert.deepEqual(doc.failed.sort(), FAILING, JSON.stringify(doc, null, 1));
    // Timeline: node-1, node-2 | node-2 fails → node-3 | node-1 ends → node-4 | node-3 ends → node-5,
    // which fails while node-4 runs: nothing starts after that.
    assert.deepEqual(Object.keys(doc.returns).sort(), ['node-1', 'node-2', 'node-3', 'node-4', 'node-5']);
    assert.deepEqual(doc.neverRan.sort(), ['node-6', 'node-7', 'node-8']);
    const windows = Object.values(doc.returns).map(window);
    // How many ran at once, at each start: never more than the batch, and the batch was used.
    const overlaps = windows.map((w) => windows.filter((o) => o.start <= w.start && o.end > w.start).length);
    assert.ok(Math.max(...overlaps) <= 2, `at most 2 at once (${overlaps.join(', ')})`);
    assert.equal(Math.max(...overlaps), 2, 'two ran at once');
    // The second failure came before node-4 ended, and nothing started after it.
    const secondFailure = window(doc.returns['node-5'] as BatchDocument['returns'][string]);
    const node4 = window(doc.returns['node-4'] as BatchDocument['returns'][string]);
    assert.ok(secondFailure.end < node4.end, 'node-4 was still running when node-5 failed');
    assert.ok(
      windows.every((w) => w.start <= secondFailure.end),
      'no minion started after the second failure',
    );
    // One job per minion (each sent as a place freed), every minion sent at most once.
    const sent = doc.jobs.flatMap((j) => j.minions);
    assert.equal(new Set(sent).size, sent.length);
    assert.deepEqual(sent.sort(), ['node-1', 'node-2', 'node-3', 'node-4', 'node-5']);
    // Any master shows the run; `jobs show` takes a run id too.
    const shown = await phoenix(['jobs', 'show', doc.runId], env());
    assert.equal(shown.code, 1, shown.stderr);
    assert.match(shown.stdout, /status: stopped/);
    assert.match(shown.stdout, /never ran: node-6, node-7, node-8/);
  },
);

test(
  'a batch size of 0 or 150%, or --max-failures without -b: a clear error, and nothing runs',
  { timeout: 120_000 },
  async () => {
    await cluster();
    const before = json<{ jobs: unknown[] }>(await phoenix(['jobs', 'list', '--out', 'json'], env())).jobs.length;
    const runsBefore = json<{ runs: unknown[] }>(await phoenix(['orchestrations', 'list', '--out', 'json'], env())).runs
      .length;
    for (const size of ['0', '150%']) {
      const out = await phoenix(['run', '-b', size, '*', 'test.ping'], env());
      assert.equal(out.code, 2, out.stderr);
      assert.match(out.stderr, new RegExp(`batch size "${size.replace('%', '%')}"`));
    }
    const orphan = await phoenix(['run', '--max-failures', '1', '*', 'test.ping'], env());
    assert.equal(orphan.code, 2);
    assert.match(orphan.stderr, /go with -b/);
    // The API refuses it too, before anything is stored.
    const response = await fetch(`${master.api}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ target: '*', fun: 'test.ping', batch: { size: '150%' } }),
    });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'PHX_BATCH_INVALID');
    assert.equal(
      json<{ jobs: unknown[] }>(await phoenix(['jobs', 'list', '--out', 'json'], env())).jobs.length,
      before,
    );
    assert.equal(
      json<{ runs: unknown[] }>(await phoenix(['orchestrations', 'list', '--out', 'json'], env())).runs.length,
      runsBefore,
    );
  },
);
