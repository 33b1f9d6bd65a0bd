import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startDevstack } from '@phoenix/devstack';
import { BenchApi } from './api.js';
import { benchToken, startBenchMaster, stopBenchProcess, type BenchMaster } from './cluster.js';
import { median } from './stats.js';

export interface GitUpdateResult {
  masters: number;
  /** From `POST /api/v1/fileserver/update` on one master to every master's row showing the new commit (median). */
  allServingMs: number;
  /** The same, each repeat. */
  runsMs: number[];
}

/**
 * States from git, cluster-wide: `masters` masters serve a local bare repository (file://); each
 * repeat pushes a new commit, asks one master to update (it fans out to the others) and times until
 * the masters table shows every master serving that commit.
 */
export async function gitUpdate(masterCount: number, repeats: number): Promise<GitUpdateResult> {
  const dir = await mkdtemp(join(tmpdir(), 'phoenix-bench-git-'));
  const devstack = await startDevstack({ tablePrefix: `g${process.pid}${Date.now().toString(36)}` });
  const token = benchToken();
  const masters: BenchMaster[] = [];
  const bare = join(dir, 'states.git');
  const work = join(dir, 'work');
  const git = (cwd: string, ...args: string[]): string =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_AUTHOR_NAME: 'bench',
        GIT_AUTHOR_EMAIL: 'bench@phoenix.invalid',
        GIT_COMMITTER_NAME: 'bench',
        GIT_COMMITTER_EMAIL: 'bench@phoenix.invalid',
      },
    });
  const push = async (round: number): Promise<string> => {
    await writeFile(join(work, 'motd'), `round ${round}\n`);
    git(work, 'add', '--all');
    git(work, 'commit', '--quiet', '-m', `round ${round}`);
    git(work, 'push', '--quiet', 'origin', 'main');
    return git(work, 'rev-parse', 'HEAD').trim();
  };
  try {
    git(dir, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
    git(dir, 'init', '--quiet', '--initial-branch=main', work);
    git(work, 'remote', 'add', 'origin', pathToFileURL(bare).href);
    await mkdir(join(work, 'web'), { recursive: true });
    await writeFile(join(work, 'top.sls'), "base:\n  '*':\n    - web\n");
    await writeFile(
      join(work, 'web', 'init.sls'),
      'motd:\n  file.managed:\n    - name: /tmp/motd\n    - source: salt://motd\n',
    );
    let head = await push(0);
    const started = await Promise.all(
      Array.from({ length: masterCount }, (_v, i) =>
        startBenchMaster(devstack, dir, `bench-git-${i + 1}`, token, {
          fileRoots: { base: [{ git: pathToFileURL(bare).href }] },
          pillarRoots: { base: [join(dir, 'pillar')] },
          // Only the update moves them: the interval would blur the figure.
          fileServer: { fetchIntervalMs: 3_600_000, gitCacheDir: join(dir, `cache-${i + 1}`) },
        }),
      ),
    );
    masters.push(...started);
    const first = masters[0] as BenchMaster;
    const api = new BenchApi(first.api, token);
    const allServe = async (commit: string, deadline: number): Promise<void> => {
      for (;;) {
        const rows = await api.masters();
        const serving = rows.filter((m) => m.status === 'active' && m.gitCommits?.['file:base:states'] === commit);
        if (serving.length === masterCount) return;
        if (Date.now() > deadline) throw new Error(`only ${serving.length} of ${masterCount} masters serve ${commit}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    await allServe(head, Date.now() + 60_000);
    const runsMs: number[] = [];
    for (let round = 1; round <= repeats; round++) {
      head = await push(round);
      const at = Date.now();
      await api.updateFileServer();
      await allServe(head, at + 60_000);
      runsMs.push(Date.now() - at);
    }
    return { masters: masterCount, allServingMs: median(runsMs), runsMs };
  } finally {
    // SIGTERM: each master drains (it has no minions) and removes its row before the table stops.
    await Promise.all(masters.map((master) => stopBenchProcess(master.proc)));
    await devstack.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 10 });
  }
}
