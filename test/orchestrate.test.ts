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
 * Orchestration, the MongoDB way: config servers, then shards, then routers, then the apps, each a
 * step of an orchestration SLS on the master's file server. Every minion's state prints its own
 * clock as it starts and ends, so the order is read from the returns themselves.
 */

const ROLES: Record<string, string> = {
  'cfg-1': 'mongo-config',
  'shard-1': 'mongo-shard',
  'shard-2': 'mongo-shard',
  'router-1': 'mongos',
  'app-1': 'app',
};
const CLOCKED = (body: string): string =>
  `"echo start $(date +%s%3N); ${body}sleep 1; echo end $(date +%s%3N){% if pillar.get('fail_shard') %}; exit 1{% endif %}"`;
const TREE: Record<string, string> = {
  'mongo/config.sls': `config:\n  cmd.run:\n    - name: ${CLOCKED('')}\n`.replace(/\{% if.*?endif %\}/, ''),
  'mongo/shard.sls': `shard:\n  cmd.run:\n    - name: ${CLOCKED("echo configdb {{ pillar.get('configdb', 'none') }}; ")}\n`,
  'mongo/router.sls': `router:\n  cmd.run:\n    - name: ${CLOCKED('')}\n`.replace(/\{% if.*?endif %\}/, ''),
  'orch/mongo.sls': `{% set configs = salt['cache.grains']('role:mongo-config', tgt_type='grain') | list | sort %}
config_servers:
  salt.state:
    - tgt: 'role:mongo-config'
    - tgt_type: grain
    - sls: mongo.config

shards:
  salt.state:
    - tgt: 'role:mongo-shard'
    - tgt_type: grain
    - sls: mongo.shard
    - pillar:
        configdb: {{ configs | join(',') }}
        fail_shard: {{ pillar.get('fail_shard', False) }}
    - require:
      - salt: config_servers

routers:
  salt.state:
    - tgt: 'role:mongos'
    - tgt_type: grain
    - sls: mongo.router
    - require:
      - salt: shards

apps:
  salt.function:
    - name: cmd.run
    - tgt: 'role:app'
    - tgt_type: grain
    - arg:
      - "echo start $(date +%s%3N); sleep 1; echo end $(date +%s%3N)"
    - require:
      - salt: routers
`,
  'orch/ready.sls': `wait_for_app:
  salt.wait_for_event:
    - name: myapp/ready/*
    - id_list:
      - app-1
    - timeout: 60

announce:
  salt.function:
    - name: test.echo
    - tgt: 'role:app'
    - tgt_type: grain
    - arg:
      - app is ready
    - require:
      - salt: wait_for_app
`,
  'orch/broken.sls': `step:\n  salt.state:\n    - tgt: {{ pillar.nowhere.near }}\n    - sls: mongo.config\n`,
  'orch/unknown.sls': `step:\n  salt.bogus:\n    - tgt: '*'\n`,
  'orch/typo.sls': `step:\n  salt.state:\n    - tgt: '*'\n    - sls: mongo.config\n    - batch_size: 2\n`,
  'orch/cycle.sls': `a:\n  salt.function:\n    - name: test.ping\n    - tgt: '*'\n    - require:\n      - salt: b\nb:\n  salt.function:\n    - name: test.ping\n    - tgt: '*'\n    - require:\n      - salt: a\n`,
};

const minions: Minion[] = [];
after(async () => {
  await Promise.all(minions.map((minion) => minion.stop()));
});
const devstack = useDevstack();
const dir = useTempDir('phoenix-orchestrate-');
const processes = useProcesses();
let master: RunningMaster;
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN, PHOENIX_HOME: dir() });

let started: Promise<void> | undefined;
const cluster = (): Promise<void> => (started ??= startCluster());

async function startCluster(): Promise<void> {
  for (const [path, text] of Object.entries(TREE)) {
    await mkdir(join(dir(), 'salt', path, '..'), { recursive: true });
    await writeFile(join(dir(), 'salt', path), text);
  }
  master = await startMasterProcess(devstack(), dir(), processes, 'm1', undefined, {
    fileRoots: { base: [join(dir(), 'salt')] },
    pillarRoots: { base: [join(dir(), 'pillar')] },
  });
  await startMinions(devstack(), dir(), [master], Object.keys(ROLES), env(), minions);
  // Roles set through the master: grains it vouches for, so grain targets and cache.grains see them.
  for (const [id, role] of Object.entries(ROLES)) {
    const set = await phoenix(['run', id, 'grains.setval', 'role', role, '--out', 'json'], env());
    assert.equal(set.code, 0, set.stderr);
  }
}

interface OrchestrateDocument {
  runId: string;
  status: string;
  retcode: number;
  data: Record<string, Record<string, StepResult>>;
}
interface StepResult {
  __id__: string;
  __run_num__: number;
  result: boolean | null;
  comment: string;
  changes: { out?: string; ret?: Record<string, unknown> };
}

const stepsOf = (doc: OrchestrateDocument): Record<string, StepResult> =>
  Object.fromEntries(Object.values(doc.data['m1_master'] ?? {}).map((r) => [r.__id__, r]));

/** Each minion's clock readings in a step's changes: a state run's cmd.run stdout, or cmd.run's return. */
function windows(step: StepResult): Array<{ minion: string; start: number; end: number; stdout: string }> {
  return Object.entries(step.changes.ret ?? {}).map(([minion, ret]) => {
    const stdout =
      typeof ret === 'string'
        ? ret
        : String(Object.values(ret as Record<string, { changes: { stdout?: string } }>)[0]?.changes.stdout ?? '');
    const start = Number(/start (\d+)/.exec(stdout)?.[1]);
    const end = Number(/end (\d+)/.exec(stdout)?.[1]);
    assert.ok(start > 0 && end >= start, `${minion} printed its times: ${stdout}`);
    return { minion, start, end, stdout };
  });
}

test(
  'the MongoDB orchestration: config servers, shards, routers, apps, each step after the one before on the minions',
  { timeout: 180_000 },
  async () => {
    await cluster();
    // As an operator sees it: Salt's orchestrate outputter, each step's minions' state runs inside it.
    const out = await phoenix(['orchestrate', 'orch.mongo', '--no-color'], env(), 150_000);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^m1_master:$/m);
    assert.match(
      out.stdout,
      / {10}ID: shards\n {4}Function: salt\.state\n {6}Result: True\n {5}Comment: States ran successfully\. Updating shard-1, shard-2\./,
    );
    assert.match(out.stdout, /^ {14}shard-2:$/m);
    assert.match(out.stdout, /^ {14}Summary for shard-2$/m);
    assert.match(out.stdout, /Summary for m1_master\n-+\nSucceeded: 4 \(changed=4\)/);
    const runId = /orchestration (\d{20}) succeeded/.exec(out.stderr)?.[1];
    assert.ok(runId !== undefined, out.stderr);
    // The run's record, from the API, as one JSON document: Salt's results under m1_master.
    const shownDoc = json<{ run: { status: string }; results: Record<string, StepResult>; orchestrator: string }>(
      await phoenix(['orchestrations', 'show', runId, '--out', 'json'], env()),
    );
    assert.equal(shownDoc.run.status, 'succeeded');
    const doc: OrchestrateDocument = {
      runId,
      status: shownDoc.run.status,
      retcode: 0,
      data: { [shownDoc.orchestrator]: shownDoc.results },
    };
    const steps = stepsOf(doc);
    const order = ['config_servers', 'shards', 'routers', 'apps'];
    assert.deepEqual(
      Object.values(steps)
        .sort((a, b) => a.__run_num__ - b.__run_num__)
        .map((s) => s.__id__),
      order,
    );
    for (const id of order) assert.equal(steps[id]?.result, true, `${id}: ${steps[id]?.comment}`);
    const ran = order.map((id) => windows(steps[id] as StepResult));
    assert.deepEqual(
      ran.map((w) => w.map((m) => m.minion).sort()),
      [['cfg-1'], ['shard-1', 'shard-2'], ['router-1'], ['app-1']],
    );
    // Every minion of a step ended before any minion of the next one started.
    for (let i = 1; i < ran.length; i++) {
      const lastEnd = Math.max(...(ran[i - 1] ?? []).map((w) => w.end));
      const firstStart = Math.min(...(ran[i] ?? []).map((w) => w.start));
      assert.ok(lastEnd <= firstStart, `${order[i - 1]} ended (${lastEnd}) before ${order[i]} started (${firstStart})`);
    }
    // Jinja saw every minion's grains: the shards were told where the config servers are.
    for (const shard of ran[1] ?? []) assert.match(shard.stdout, /configdb cfg-1/);

    const text = await phoenix(['orchestrations', 'show', runId], env());
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /status: succeeded/);
  },
);

test(
  'test=True: the state steps are dry runs on the minions, the function steps say what they would do',
  { timeout: 180_000 },
  async () => {
    await cluster();
    const out = await phoenix(['orchestrate', 'orch.mongo', 'test=True', '--out', 'json'], env(), 150_000);
    assert.equal(out.code, 0, out.stderr);
    const steps = stepsOf(json<OrchestrateDocument>(out));
    assert.equal(steps['shards']?.result, true);
    assert.match(steps['shards']?.comment ?? '', /No changes made to shard-1, shard-2/);
    assert.equal(steps['apps']?.result, null);
    assert.match(steps['apps']?.comment ?? '', /^Function cmd\.run will be executed on target role:app as test=False$/);
  },
);

test(
  'a failing shard step stops everything after it: routers and apps never run, and the exit status is 1',
  { timeout: 180_000 },
  async () => {
    await cluster();
    const out = await phoenix(
      ['orchestrate', 'orch.mongo', 'pillar={"fail_shard": true}', '--out', 'json'],
      env(),
      150_000,
    );
    const doc = json<OrchestrateDocument>(out);
    assert.equal(out.code, 1);
    assert.equal(doc.status, 'failed');
    const steps = stepsOf(doc);
    assert.equal(steps['config_servers']?.result, true);
    assert.equal(steps['shards']?.result, false);
    assert.match(steps['shards']?.comment ?? '', /^Run failed on minions: shard-1, shard-2/);
    for (const id of ['routers', 'apps']) {
      assert.equal(steps[id]?.result, false);
      assert.match(steps[id]?.comment ?? '', /One or more requisite failed/);
    }
    // Only the first two steps sent jobs.
    const shown = json<{ items: Array<{ step: number; jobs: unknown[] }> }>(
      await phoenix(['orchestrations', 'show', doc.runId, '--out', 'json'], env()),
    );
    assert.deepEqual(
      shown.items.filter((item) => item.jobs.length > 0).map((item) => item.step),
      [0, 1],
    );
  },
);

test(
  'an orchestration that does not render, names an unknown function or argument, or has a requisite cycle: a clear error, nothing runs',
  { timeout: 120_000 },
  async () => {
    await cluster();
    const count = async (): Promise<[number, number]> => [
      json<{ runs: unknown[] }>(await phoenix(['orchestrations', 'list', '--out', 'json'], env())).runs.length,
      json<{ jobs: unknown[] }>(await phoenix(['jobs', 'list', '--out', 'json'], env())).jobs.length,
    ];
    const before = await count();
    for (const [name, why] of [
      ['orch.broken', /salt:\/\/orch\/broken\.sls, line 3: Jinja variable 'dict object' has no attribute 'nowhere'/],
      ['orch.unknown', /salt\.bogus is not an orchestration function/],
      ['orch.typo', /salt\.state takes no argument batch_size/],
      ['orch.cycle', /[Rr]ecursive requisite|cycle/],
      ['orch.missing', /No matching sls found for 'orch\.missing'/],
    ] as const) {
      const out = await phoenix(['orchestrate', name], env());
      assert.equal(out.code, 1, `${name}: ${out.stdout}`);
      assert.match(out.stderr, why, name);
      assert.match(out.stderr, /nothing ran \(PHX_ORCHESTRATION_INVALID\)/, name);
    }
    assert.deepEqual(await count(), before);
  },
);

test(
  "salt.wait_for_event: a step waits for a minion's event (event.send), and the next one follows it",
  { timeout: 120_000 },
  async () => {
    await cluster();
    const runId = json<{ runId: string }>(
      await phoenix(['orchestrate', 'orch.ready', '--async', '--out', 'json'], env()),
    ).runId;
    await waitFor(
      async () =>
        json<{ run: { steps: Record<string, { status: string }> } }>(
          await phoenix(['orchestrations', 'show', runId, '--out', 'json'], env()),
        ).run.steps['0']?.status === 'running',
      { what: 'the wait to start', timeoutMs: 30_000 },
    );
    // Another minion's event of the same tag is not the one awaited; app-1's is.
    assert.equal((await phoenix(['run', 'shard-1', 'event.send', 'myapp/ready/now'], env())).code, 0);
    assert.equal((await phoenix(['run', 'app-1', 'event.send', 'myapp/ready/now'], env())).code, 0);
    const done = await waitFor(
      async () => {
        const view = json<{ run: { status: string }; results: Record<string, StepResult> }>(
          await phoenix(['orchestrations', 'show', runId, '--out', 'json'], env()),
        );
        return view.run.status === 'running' ? undefined : view;
      },
      { what: 'the orchestration to end', timeoutMs: 60_000 },
    );
    assert.equal(done.run.status, 'succeeded');
    const steps = Object.fromEntries(Object.values(done.results).map((r) => [r.__id__, r]));
    assert.equal(steps['wait_for_app']?.result, true);
    assert.deepEqual(steps['wait_for_app']?.changes, { minions_seen: ['app-1'] });
    assert.deepEqual(steps['announce']?.changes.ret, { 'app-1': 'app is ready' });
  },
);
