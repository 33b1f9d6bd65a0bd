import { readFileSync } from 'node:fs';
import { apiClient, resolveApi } from '../api-client.js';

/** This package's version (the CLI's own package.json: dist/src/commands/ is three levels down). */
export function cliVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? 'unknown';
}

/**
 * `phoenix --version`: the CLI's version, then each master's when a cluster can be reached
 * (--api/PHOENIX_API or the local cluster), so a mixed-version cluster shows at a glance.
 */
export async function version(): Promise<number> {
  const lines = [`phoenix ${cliVersion()}`];
  try {
    const { masters } = await apiClient(await resolveApi({})).call('masters', {}, { timeoutMs: 3_000 });
    for (const m of masters.filter((x) => x.liveness !== 'dead')) lines.push(`master ${m.masterId} ${m.version}`);
  } catch {
    // No cluster to ask, or it does not answer: the CLI's own version is the whole answer.
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
