import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PHOENIX = fileURLToPath(new URL('../../../packages/cli/bin/phoenix.js', import.meta.url));

export interface OnboardingResult {
  n: number;
  /** From `phoenix local scale N` to the last of the N instances in service (key accepted, first highstate done). */
  allInServiceMs: number;
  instancesPerMinute: number;
  /** A new master: until every minion's config file lists it. */
  joinPropagationMs: number;
  /** A master scaled away: until no minion's config file lists it. */
  leavePropagationMs: number;
}

/**
 * Onboarding and propagation, through the local cluster as an operator runs it: real minion
 * processes launched by the auto-scaling simulator, accepted by the reactor, highstated once, put
 * in service; then a master joins and one leaves, timed until every minion's config reflects it.
 */
export async function onboarding(n: number, log: (step: string) => void): Promise<OnboardingResult> {
  const home = await mkdtemp(join(tmpdir(), 'phoenix-bench-home-'));
  const env = { ...process.env, PHOENIX_HOME: home };
  try {
    await phoenix(['up', '--detach', '--masters', '2', '--minions', '0', '--out', 'json'], env, 120_000);
    const scaledAt = Date.now();
    await phoenix(['local', 'scale', String(n), '--out', 'json'], env, 60_000);
    await until(`${n} instances in service`, 60_000 + n * 5_000, async () => {
      const listed = JSON.parse(await phoenix(['minions', '--out', 'json'], env, 30_000)) as {
        minions: Array<{ lifecycle?: { state: string } }>;
      };
      const ready = listed.minions.filter((m) => m.lifecycle?.state === 'in-service').length;
      log(`onboarding: ${ready} of ${n} in service`);
      return ready >= n;
    });
    const allInServiceMs = Date.now() - scaledAt;

    const mastersBefore = await masterIds(env);
    const joinedAt = Date.now();
    await phoenix(['local', 'scale', '3', '--group', 'masters', '--out', 'json'], env, 60_000);
    let joined: string | undefined;
    await until('the new master in every minion config', 120_000, async () => {
      joined ??= (await masterIds(env)).find((id) => !mastersBefore.includes(id));
      return joined !== undefined && (await minionConfigs(home, env)).every((text) => text.includes(joined as string));
    });
    const joinPropagationMs = Date.now() - joinedAt;
    log(`propagation: ${joined} reached every minion config in ${joinPropagationMs} ms`);

    const leftAt = Date.now();
    await phoenix(['local', 'scale', '2', '--group', 'masters', '--out', 'json'], env, 60_000);
    const remaining = async (): Promise<string[]> => masterIds(env);
    let gone: string | undefined;
    await until('the removed master out of every minion config', 120_000, async () => {
      const now = await remaining();
      gone ??= [...mastersBefore, joined as string].find((id) => !now.includes(id));
      return gone !== undefined && (await minionConfigs(home, env)).every((text) => !text.includes(gone as string));
    });
    const leavePropagationMs = Date.now() - leftAt;
    log(`propagation: ${gone} left every minion config in ${leavePropagationMs} ms`);
    return {
      n,
      allInServiceMs,
      instancesPerMinute: n / (allInServiceMs / 60_000),
      joinPropagationMs,
      leavePropagationMs,
    };
  } finally {
    await phoenix(['down'], env, 60_000).catch(() => undefined);
    await rm(home, { recursive: true, force: true, maxRetries: 10 });
  }
}

/** Masters the cluster lists as live (not draining, not dead). */
async function masterIds(env: NodeJS.ProcessEnv): Promise<string[]> {
  const { masters } = JSON.parse(await phoenix(['masters', '--out', 'json'], env, 30_000)) as {
    masters: Array<{ masterId: string; liveness: string }>;
  };
  return masters.filter((m) => m.liveness === 'live').map((m) => m.masterId);
}

/** The config files of the minions in service (an instance replaced meanwhile leaves its directory behind). */
async function minionConfigs(home: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const listed = JSON.parse(await phoenix(['minions', '--out', 'json'], env, 30_000)) as {
    minions: Array<{ minionId: string; lifecycle?: { state: string } }>;
  };
  const dir = join(home, 'local', 'instances');
  const texts: string[] = [];
  for (const minion of listed.minions.filter((m) => m.lifecycle?.state === 'in-service')) {
    texts.push(await readFile(join(dir, minion.minionId, 'minion.yaml'), 'utf8'));
  }
  return texts;
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function phoenix(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [PHOENIX, ...args],
      { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`phoenix ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}
