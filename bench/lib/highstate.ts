import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';

/** The `phoenix` program as npm links it. */
const PHOENIX = fileURLToPath(new URL('../../../packages/cli/bin/phoenix.js', import.meta.url));

export interface HighstateResult {
  /** States in the tree. */
  states: number;
  /** `phoenix call --local state.highstate` as a whole command, no state changing (median). */
  wholeCommandMs: number;
  /** The sum of the states' own durations in that run (median). */
  inStatesMs: number;
  /** Everything else: process and CLI start-up, pillar, top, rendering, compiling (median). */
  outsideStatesMs: number;
  /** `phoenix call --local test.ping` with the same config: process, CLI and minion start-up (median). */
  callPingMs: number;
  /** `node -e 0` on the same machine, alternating with the runs (median). */
  nodeMs: number;
}

/**
 * A Salt-style tree of `count` states: SLS files of 20 states each, written with Jinja loops over
 * pillar, a map.jinja imported with context and requisites both ways; files and directories
 * under a throwaway state root, so a second run changes nothing.
 */
async function writeTree(dir: string, count: number): Promise<{ salt: string; pillar: string; root: string }> {
  const salt = join(dir, 'salt');
  const pillar = join(dir, 'pillar');
  const root = join(dir, 'root');
  const groups = Math.ceil(count / 20);
  await mkdir(join(salt, 'bench'), { recursive: true });
  await mkdir(pillar, { recursive: true });
  await mkdir(root, { recursive: true });
  const names = Array.from({ length: groups }, (_v, i) => `group${i}`);
  await writeFile(join(salt, 'top.sls'), `base:\n  '*':\n${names.map((n) => `    - bench.${n}\n`).join('')}`);
  await writeFile(
    join(salt, 'bench', 'map.jinja'),
    "{% set bench = salt['grains.filter_by']({'default': {'base': '/srv/bench', 'mode': '0644'}}, grain='os_family', default='default') %}\n",
  );
  let left = count;
  for (const [index, name] of names.entries()) {
    const here = Math.min(20, left);
    left -= here;
    // One directory, one file per item and a last state that requires them all.
    const items = here - 2;
    await writeFile(
      join(salt, 'bench', `${name}.sls`),
      `{% from 'bench/map.jinja' import bench with context %}
{% set dir = bench.base ~ '/${name}' %}
${name}-dir:
  file.directory:
    - name: {{ dir }}
    - makedirs: True
{% for item in pillar['items'][:${items}] %}
${name}-{{ item.name }}:
  file.managed:
    - name: {{ dir }}/{{ item.name }}.conf
    - contents: |
        # {{ item.name }} for {{ grains['id'] }}
        value = {{ '%05d' % item.value }}
    - mode: {{ bench.mode }}
    - require:
      - file: ${name}-dir
    - require_in:
      - test: ${name}-done
{% endfor %}
${name}-done:
  test.succeed_without_changes:
    - name: group ${index} in place
`,
    );
  }
  const items = Array.from({ length: 18 }, (_v, i) => `  - name: item${i}\n    value: ${i * 7}\n`).join('');
  await writeFile(join(pillar, 'top.sls'), "base:\n  '*':\n    - bench\n");
  await writeFile(join(pillar, 'bench.sls'), `items:\n${items}`);
  return { salt, pillar, root };
}

interface Run {
  ms: number;
  inStatesMs: number;
  changed: number;
  states: number;
}

function highstate(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(
      process.execPath,
      [PHOENIX, 'call', '--local', ...args, 'state.highstate', '--out', 'json'],
      { env: { ...process.env, PHOENIX_HOME: '/nonexistent' }, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const ms = performance.now() - started;
        if (err !== null) {
          reject(new Error(`phoenix call --local state.highstate: ${err.message} ${stderr} ${stdout.slice(0, 2000)}`));
          return;
        }
        const results = Object.values(
          (JSON.parse(stdout) as { local: Record<string, { duration: number; changes: object; result: unknown }> })
            .local,
        );
        const failed = results.filter((r) => r.result !== true);
        if (failed.length > 0) {
          reject(new Error(`the bench tree failed: ${JSON.stringify(failed.slice(0, 3))}`));
          return;
        }
        resolve({
          ms,
          inStatesMs: results.reduce((total, r) => total + r.duration, 0),
          changed: results.filter((r) => Object.keys(r.changes).length > 0).length,
          states: results.length,
        });
      },
    );
  });
}

function timed(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(process.execPath, [...args], { env: { ...process.env, PHOENIX_HOME: '/nonexistent' } }, (err) =>
      err ? reject(err) : resolve(performance.now() - started),
    );
  });
}

/**
 * A no-change highstate of a `count`-state tree through `phoenix call --local`: applied once
 * (unmeasured), then `repeats` runs that must change nothing, each next to a `node -e 0`.
 */
export async function noChangeHighstate(count: number, repeats: number): Promise<HighstateResult> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-bench-highstate-'));
  try {
    const tree = await writeTree(dir, count);
    const config = join(dir, 'minion.json');
    await writeFile(
      config,
      JSON.stringify({
        id: 'bench-highstate',
        clusterPublicKey: 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7',
        pkiDir: join(dir, 'pki'),
        cacheDir: join(dir, 'cache'),
        imds: { enabled: false },
        state: { root: tree.root },
      }),
    );
    const args = ['--config', config, '--file-root', tree.salt, '--pillar-root', tree.pillar];
    const first = await highstate(args);
    if (first.states !== count) throw new Error(`the bench tree has ${first.states} states, not ${count}`);
    const runs: Run[] = [];
    const node: number[] = [];
    const ping: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const run = await highstate(args);
      if (run.changed !== 0) throw new Error(`a no-change run changed ${run.changed} states`);
      runs.push(run);
      ping.push(await timed([PHOENIX, 'call', '--local', ...args, 'test.ping']));
      node.push(await timed(['-e', '0']));
    }
    const whole = median(runs.map((r) => r.ms));
    const inStates = median(runs.map((r) => r.inStatesMs));
    return {
      states: count,
      wholeCommandMs: whole,
      inStatesMs: inStates,
      outsideStatesMs: median(runs.map((r) => r.ms - r.inStatesMs)),
      callPingMs: median(ping),
      nodeMs: median(node),
    };
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 10 });
  }
}
