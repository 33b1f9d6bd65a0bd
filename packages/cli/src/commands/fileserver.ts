import type { MasterView } from '@phoenix/api';
import { apiClient, resolveApi } from '../api-client.js';
import { emit } from '../output.js';
import type { ApiOptions } from './masters.js';

export interface FileServerUpdateOptions extends ApiOptions {
  /** Seconds to wait for every live master to serve the new commits; 0 does not wait. */
  wait?: number;
}

/**
 * `phoenix fileserver update` (Salt's `salt-run fileserver.update`): every master fetches its git
 * roots now. Then it waits until every live master serves the commits the answering master
 * fetched, and says which did not. Exit 1 when a root failed to update or a master did not follow.
 */
export async function fileServerUpdate(options: FileServerUpdateOptions): Promise<number> {
  const client = apiClient(await resolveApi(options));
  const update = await client.call('fileServerUpdate');
  const wanted = Object.fromEntries(
    update.roots.filter((r) => r.commit !== undefined).map((r) => [r.key, r.commit as string]),
  );
  const deadline = Date.now() + (options.wait ?? 60) * 1000;
  let masters: MasterView[] = [];
  let behind: string[] = [];
  for (;;) {
    masters = (await client.call('masters')).masters.filter((m) => m.liveness !== 'dead');
    behind = masters
      .filter((m) => Object.entries(wanted).some(([key, commit]) => m.gitCommits?.[key] !== commit))
      .map((m) => m.masterId);
    if (behind.length === 0 || Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const failed = update.roots.filter((r) => r.error !== undefined);
  await emit(options.out ?? 'text', { ...update, behind, masters }, () => {
    const lines = update.roots.map(
      (r) =>
        `${r.key.padEnd(28)} ${r.ref.padEnd(14)} ${(r.commit ?? 'none').slice(0, 12).padEnd(12)}` +
        (r.error === undefined ? '' : `  ERROR ${r.error}`),
    );
    if (update.roots.length === 0) lines.push(`${update.masterId} serves no git roots.`);
    else if (behind.length === 0) lines.push('', `Every live master (${masters.length}) serves these commits.`);
    else lines.push('', `Not yet serving these commits: ${behind.join(', ')} (see phoenix masters).`);
    return lines.join('\n');
  });
  return failed.length > 0 || behind.length > 0 ? 1 : 0;
}
