import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { STATE_RUNS_DISABLED_GRAIN, type StateRunsDisabled, PhoenixError, writeFileAtomic } from '@phoenix/protocol';
import { StateErrors } from '@phoenix/state';

/** In the minion's cache directory: it survives restarts, and deleting the cache lifts it. */
export const KILLSWITCH_FILE = 'state-disabled.json';

/** Who disabled state runs on this minion, when and why. */
export interface Killswitch {
  readonly reason: string;
  readonly by: string;
  /** ISO 8601. */
  readonly at: string;
  readonly jid: string;
}

/**
 * The operator's killswitch: `state.disable "reason"` stops highstates and scheduled runs on one
 * minion (an investigation, a hand-fixed host) until `state.enable`. A file that cannot be read
 * counts as disabled: when in doubt, do not touch the host.
 */
export async function readKillswitch(cacheDir: string): Promise<Killswitch | undefined> {
  let text: string;
  try {
    text = await readFile(join(cacheDir, KILLSWITCH_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return unreadable(err);
  }
  try {
    const data = JSON.parse(text) as Partial<Killswitch>;
    if (typeof data.reason !== 'string' || typeof data.by !== 'string' || typeof data.at !== 'string')
      return unreadable('missing fields');
    return { reason: data.reason, by: data.by, at: data.at, jid: typeof data.jid === 'string' ? data.jid : '' };
  } catch (err) {
    return unreadable(err);
  }
}

export async function writeKillswitch(cacheDir: string, record: Killswitch): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const path = join(cacheDir, KILLSWITCH_FILE);
  await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

export async function clearKillswitch(cacheDir: string): Promise<void> {
  await rm(join(cacheDir, KILLSWITCH_FILE), { force: true });
}

/** Where the killswitch is mirrored: the minion's grains (see GrainStore.reflect). */
export interface KillswitchMirror {
  reflect(key: string, value: StateRunsDisabled | undefined): void;
}

/**
 * Mirrors the killswitch in the `state_runs_disabled` grain, which the masters hear with the other
 * grains: they skip this minion's state runs and show who disabled it. An unreadable file (no
 * time known) shows the time it was read.
 */
export function reflectKillswitch(grains: KillswitchMirror, record: Killswitch | undefined, now = Date.now()): void {
  if (record === undefined) {
    grains.reflect(STATE_RUNS_DISABLED_GRAIN, undefined);
    return;
  }
  const at = Number.isNaN(Date.parse(record.at)) ? new Date(now).toISOString() : record.at;
  grains.reflect(STATE_RUNS_DISABLED_GRAIN, { by: record.by, at, reason: record.reason });
}

export function disabledError(record: Killswitch): PhoenixError {
  return new PhoenixError(
    StateErrors.PHX_STATE_DISABLED,
    `State runs are disabled on this minion by ${record.by} at ${record.at}${record.jid ? ` (jid ${record.jid})` : ''}: "${record.reason}". Run state.enable to allow them again.`,
    { details: { ...record } },
  );
}

function unreadable(err: unknown): Killswitch {
  return {
    reason: `the killswitch file ${KILLSWITCH_FILE} exists but cannot be read (${err instanceof Error ? err.message : String(err)}); treated as disabled`,
    by: 'unknown',
    at: 'unknown',
    jid: '',
  };
}

/** Salt's named killswitch (`state.disable highstate`, `state.disable web`, `web.*`): the names, in order. */
export const DISABLED_STATES_FILE = 'state-runs-disabled.json';

export async function readDisabledStates(cacheDir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(cacheDir, DISABLED_STATES_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const data: unknown = JSON.parse(text);
    return Array.isArray(data) ? data.filter((name): name is string => typeof name === 'string') : [];
  } catch {
    return [];
  }
}

export async function writeDisabledStates(cacheDir: string, names: readonly string[]): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const path = join(cacheDir, DISABLED_STATES_FILE);
  if (names.length === 0) await rm(path, { force: true });
  else await writeFileAtomic(path, `${JSON.stringify(names)}\n`, { mode: 0o600 });
}

/**
 * Salt's `_disabled`: a message for each requested name (`highstate`, or an SLS) that a disabled
 * name covers, either exactly or as `prefix.*` (which covers `prefix.anything`).
 */
export function disabledMessages(disabled: readonly string[], requested: readonly string[]): string[] {
  const messages: string[] = [];
  for (const state of requested) {
    for (const name of disabled) {
      if (name.includes('.*')) {
        const prefix = name.split('.')[0] ?? '';
        const target = prefix.endsWith('.') ? prefix : `${prefix}.`;
        if (state.startsWith(target))
          messages.push(
            `The state file "${state}" is currently disabled by "${name}", to re-enable, run state.enable ${name}.`,
          );
      } else if (name === state) {
        messages.push(`The state file "${name}" is currently disabled, to re-enable, run state.enable ${name}.`);
      }
    }
  }
  return messages;
}
