import type { KeyInfo, KeyState } from '@phoenix/api';
import { apiClient, resolveApi } from '../api-client.js';
import { emit, type OutputFormat } from '../output.js';

export interface KeysOptions {
  state?: KeyState;
  include?: boolean;
  fingerprint?: string;
  out?: OutputFormat;
  api?: string;
  token?: string;
  ca?: string;
}

/** `phoenix keys list`: salt-key -L for the cluster-wide key store, through any master's API. */
export async function list(pattern: string, options: KeysOptions): Promise<number> {
  const { keys: found } = await apiClient(await resolveApi(options)).call('listKeys', {
    query: { match: pattern, ...(options.state ? { state: options.state } : {}) },
  });
  await emit(options.out ?? 'text', { keys: found }, () => formatKeys(found));
  return 0;
}

/** `phoenix keys accept|reject|delete PATTERN`: salt-key -a / -r / -d. */
export async function change(
  action: 'accept' | 'reject' | 'delete',
  pattern: string,
  options: KeysOptions,
): Promise<number> {
  const { changes } = await apiClient(await resolveApi(options)).call('changeKeys', {
    params: { action },
    body: {
      match: pattern,
      include: options.include === true,
      ...(options.fingerprint === undefined ? {} : { fingerprint: options.fingerprint }),
    },
  });
  await emit(options.out ?? 'text', { changes }, () =>
    changes.length === 0
      ? `No key matching "${pattern}" could be ${action === 'delete' ? 'deleted' : `${action}ed`}.`
      : changes.map((c) => `${c.minionId}: ${c.from ?? 'none'} -> ${c.to}`).join('\n'),
  );
  return 0;
}

function formatKeys(found: readonly KeyInfo[]): string {
  const sections = ['accepted', 'pending', 'rejected', 'denied'].map((state) => {
    const ids = found
      .filter((k) => k.state === state)
      .map(
        (k) =>
          `  ${k.minionId}  ${k.fingerprint}${k.contested === true ? '  CONTESTED' : ''}${k.quarantined ? `  QUARANTINED: ${k.quarantined.reason}` : ''}`,
      );
    return [`${state[0]?.toUpperCase()}${state.slice(1)} keys:`, ...ids].join('\n');
  });
  return sections.join('\n');
}
