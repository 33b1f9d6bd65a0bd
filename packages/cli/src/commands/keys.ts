import { resolveApi, request } from '../api-client.js';
import { USAGES } from '../usage.js';
import { parseCommand } from '../args.js';
import { CliError, CliErrorCodes } from '../errors.js';
import { emit, outputFormat } from '../output.js';

const KEYS_USAGE = USAGES.keys;

interface KeyInfo {
  minionId: string;
  state: string;
  fingerprint: string;
  contested?: boolean;
}
interface KeyChange {
  minionId: string;
  from: string;
  to: string;
}

/** `phoenix keys`: salt-key for the cluster-wide key store, through any master's API. */
export async function keys(argv: readonly string[]): Promise<number> {
  // Works on local files only: no API involved.
  if (argv[0] === 'init-cluster') return (await import('./keys-init-cluster.js')).initCluster(argv.slice(1));
  const { values, positionals } = parseCommand('keys', argv, {
    include: { type: 'boolean', default: false },
    fingerprint: { type: 'string' },
    state: { type: 'string' },
    out: { type: 'string' },
    api: { type: 'string' },
    token: { type: 'string' },
  });
  const out = outputFormat(values.out);
  const [action, pattern = '*', ...extra] = positionals;
  if (action === undefined || extra.length > 0) throw new CliError(CliErrorCodes.USAGE, `usage: ${KEYS_USAGE}`);
  const api = await resolveApi(values);
  if (action === 'list') {
    const query = new URLSearchParams({ match: pattern, ...(values.state ? { state: values.state } : {}) });
    const { keys: list } = await request<{ keys: KeyInfo[] }>(api, 'GET', `/keys?${query.toString()}`);
    emit(out, { keys: list }, () => formatKeys(list));
    return 0;
  }
  if (action !== 'accept' && action !== 'reject' && action !== 'delete') {
    throw new CliError(CliErrorCodes.USAGE, `usage: ${KEYS_USAGE}`);
  }
  const { changes } = await request<{ changes: KeyChange[] }>(api, 'POST', `/keys/${action}`, {
    match: pattern,
    include: values.include,
    ...(values.fingerprint === undefined ? {} : { fingerprint: values.fingerprint }),
  });
  emit(out, { changes }, () =>
    changes.length === 0
      ? `No key matching "${pattern}" could be ${action === 'delete' ? 'deleted' : `${action}ed`}.`
      : changes.map((c) => `${c.minionId}: ${c.from} -> ${c.to}`).join('\n'),
  );
  return 0;
}

function formatKeys(list: readonly KeyInfo[]): string {
  const sections = ['accepted', 'pending', 'rejected', 'denied'].map((state) => {
    const ids = list
      .filter((k) => k.state === state)
      .map((k) => `  ${k.minionId}  ${k.fingerprint}${k.contested === true ? '  CONTESTED' : ''}`);
    return [`${state[0]?.toUpperCase()}${state.slice(1)} keys:`, ...ids].join('\n');
  });
  return sections.join('\n');
}
