import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `phoenix` program as npm links it. */
const PHOENIX = fileURLToPath(new URL('../../../packages/cli/bin/phoenix.js', import.meta.url));

/** Wall time of one program run to its end, in ms; fails if it exits non-zero. */
function timed(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    execFile(process.execPath, [...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, _out, stderr) => {
      if (err !== null) reject(new Error(`${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(performance.now() - started);
    });
  });
}

/**
 * The whole command `phoenix run '*' test.ping` as an operator types it (process start, CLI
 * start-up, the job, the output), next to `node -e 0` on the same machine, each run `repeats`
 * times alternately so both see the same load.
 */
export async function cliRunTimes(
  api: string,
  token: string,
  repeats: number,
): Promise<{ phoenixRunMs: number[]; nodeMs: number[] }> {
  const env = { PHOENIX_API: api, PHOENIX_TOKEN: token, PHOENIX_HOME: '/nonexistent' };
  const phoenixRunMs: number[] = [];
  const nodeMs: number[] = [];
  // One unmeasured run of each: the first run pays for the file system cache.
  await timed([PHOENIX, 'run', '*', 'test.ping'], env);
  await timed(['-e', '0'], {});
  for (let i = 0; i < repeats; i++) {
    phoenixRunMs.push(await timed([PHOENIX, 'run', '*', 'test.ping'], env));
    nodeMs.push(await timed(['-e', '0'], {}));
  }
  return { phoenixRunMs, nodeMs };
}
