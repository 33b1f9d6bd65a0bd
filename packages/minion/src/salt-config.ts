import { z } from 'zod';
import { PhoenixError, ProtocolErrors } from '@phoenix/protocol';
import { STATE_OUTPUT_MODES } from '@phoenix/state/highstate-output';

/**
 * Salt's names for the minion config keys Phoenix has, so a Salt minion config works as Phoenix's.
 * Each is read with Salt's meaning and folded into the Phoenix key (giving both, with different
 * values, is an error naming both). Salt-only keys are either accepted and ignored with a warning
 * (where ignoring them cannot change what a state run does) or refused with the reason.
 */

const Env = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/);
const Roots = z.record(Env, z.array(z.string().min(1)).min(1));

/** Salt's log levels and the pino level each one means. */
const SALT_LOG_LEVELS = {
  all: 'trace',
  garbage: 'trace',
  trace: 'trace',
  profile: 'trace',
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
  quiet: 'silent',
} as const;

/** Accepted for compatibility, with a warning: they tune Salt's own transport, logging or mine. */
export const IGNORED_SALT_KEYS = [
  'master',
  'master_port',
  'master_type',
  'master_alive_interval',
  'master_tries',
  'retry_dns',
  'random_reauth_delay',
  'recon_default',
  'recon_max',
  'recon_randomize',
  'acceptance_wait_time',
  'acceptance_wait_time_max',
  'auth_timeout',
  'auth_tries',
  'ping_interval',
  'tcp_keepalive',
  'ipv6',
  'log_file',
  'log_level_logfile',
  'log_fmt_console',
  'log_fmt_logfile',
  'log_datefmt',
  'mine_functions',
  'mine_interval',
  'multiprocessing',
  'process_count_max',
  'sock_dir',
  'pidfile',
  'user',
  'hash_type',
  'state_events',
  'state_aggregate',
  'state_verbose_output',
  'enable_legacy_startup_events',
  'grains_cache',
  'grains_refresh_every',
  'backup_mode',
] as const;

/** Refused, because ignoring them would change what runs (or what pillar a minion sees). */
const REFUSED_SALT_KEYS: Readonly<Record<string, string>> = {
  startup_states: 'Phoenix has no start-up states: the masters run the first highstate of a new instance',
  top_file_merging_strategy: "Phoenix merges top files as Salt's default 'merge' only",
  pillarenv: "Phoenix compiles pillar of the run's saltenv: pass saltenv= to the state function instead",
  environment: "Phoenix's state runs use saltenv=base unless told: pass saltenv= to the state function instead",
  saltenv: "Phoenix's state runs use saltenv=base unless told: pass saltenv= to the state function instead",
  transport: 'Phoenix speaks only its own ZeroMQ protocol',
  file_roots_env_order: 'not supported',
  ext_pillar: 'Phoenix renders pillar from pillar_roots only',
};

/** Salt's keys with their values' schemas, and the Phoenix key each folds into. */
const FOLDED: Readonly<Record<string, { readonly to: readonly string[]; readonly schema: z.ZodType }>> = {
  failhard: { to: ['state', 'failhard'], schema: z.boolean() },
  state_output: { to: ['state', 'output'], schema: z.enum(STATE_OUTPUT_MODES) },
  state_verbose: { to: ['state', 'verbose'], schema: z.boolean() },
  file_roots: { to: ['fileRoots'], schema: Roots },
  pillar_roots: { to: ['pillarRoots'], schema: Roots },
  file_client: { to: ['fileClient'], schema: z.enum(['remote', 'local']) },
  state_top: {
    to: ['state', 'top'],
    schema: z
      .string()
      .min(1)
      .transform((top) => top.replace(/^salt:\/\//, '')),
  },
  renderer: {
    to: ['state', 'renderer'],
    schema: z
      .string()
      .transform((pipe) => pipe.replace(/\s+/g, ''))
      .refine((pipe) => RENDERERS.has(pipe), 'Phoenix renders SLS files with jinja|yaml only')
      .transform(() => 'jinja|yaml'),
  },
  jinja_trim_blocks: { to: ['state', 'jinjaTrimBlocks'], schema: z.boolean() },
  jinja_lstrip_blocks: { to: ['state', 'jinjaLstripBlocks'], schema: z.boolean() },
  test: { to: ['state', 'test'], schema: z.boolean() },
  cachedir: { to: ['cacheDir'], schema: z.string().min(1) },
  pki_dir: { to: ['pkiDir'], schema: z.string().min(1) },
  log_level: {
    to: ['logLevel'],
    schema: z
      .enum(Object.keys(SALT_LOG_LEVELS) as [keyof typeof SALT_LOG_LEVELS])
      .transform((level) => SALT_LOG_LEVELS[level]),
  },
};

/** Salt's renderer pipes Phoenix has: Jinja, then YAML. */
const RENDERERS = new Set(['jinja|yaml', 'yaml_jinja', 'jinja', 'yaml']);

const isMapping = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Folds Salt's names into Phoenix's keys of a raw (unparsed) config, before the schema reads it:
 * a Salt key's value is checked under its own name, then moved to the Phoenix key; giving both
 * with different values is an error naming both. Warnings (ignored Salt keys) go to `warn`.
 */
export function foldSaltKeys(raw: unknown, source: string, warn: (message: string) => void): unknown {
  if (!isMapping(raw)) return raw;
  const next: Record<string, unknown> = structuredClone(raw);
  const problems: string[] = [];
  for (const [salt, { to, schema }] of Object.entries(FOLDED)) {
    if (next[salt] === undefined) continue;
    const parsed = schema.safeParse(next[salt]);
    delete next[salt];
    if (!parsed.success) {
      problems.push(`"${salt}": ${parsed.error.issues[0]?.message ?? 'invalid value'}`);
      continue;
    }
    let node = next;
    for (const part of to.slice(0, -1)) {
      if (!isMapping(node[part])) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    const leaf = to.at(-1) as string;
    if (node[leaf] !== undefined && JSON.stringify(node[leaf]) !== JSON.stringify(parsed.data)) {
      problems.push(`"${salt}" and "${to.join('.')}" are both given, with different values: give one of them`);
      continue;
    }
    node[leaf] = parsed.data;
  }
  for (const [key, why] of Object.entries(REFUSED_SALT_KEYS)) {
    if (next[key] === undefined) continue;
    const harmless =
      ((key === 'environment' || key === 'saltenv') && next[key] === 'base') ||
      (key === 'top_file_merging_strategy' && next[key] === 'merge') ||
      (key === 'transport' && next[key] === 'zeromq');
    if (!harmless) problems.push(`"${key}" is not supported: ${why}`);
    delete next[key];
  }
  for (const key of IGNORED_SALT_KEYS) {
    if (next[key] === undefined) continue;
    warn(`${source}: the Salt key "${key}" has no meaning for Phoenix and is ignored`);
    delete next[key];
  }
  if (problems.length > 0) {
    throw new PhoenixError(
      ProtocolErrors.PHX_CONFIG_INVALID,
      `invalid configuration in ${source}: ${problems.join('; ')}`,
      {
        details: { source, problems },
      },
    );
  }
  return next;
}
