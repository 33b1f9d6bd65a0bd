import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PhoenixError } from '@phoenix/protocol/errors';
import { CliErrors } from './errors.js';

/** Where the CLI keeps local state: $PHOENIX_HOME, else ~/.phoenix. */
export function phoenixHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.PHOENIX_HOME !== undefined && env.PHOENIX_HOME !== '' ? env.PHOENIX_HOME : join(homedir(), '.phoenix');
}

export function localClusterDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(phoenixHome(env), 'local');
}

export function connectionFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(localClusterDir(env), 'cluster.json');
}

/**
 * The master API and token of the running local cluster, for the commands that talk to a master
 * (run, keys, jobs…). Only these fields are checked, by hand: the full schema
 * (connection-file.ts) costs a zod import, a third of `phoenix run`'s start-up, and the local
 * commands that need the rest use it. Undefined when no local cluster is running.
 */
export async function readLocalApi(path = connectionFilePath()): Promise<{ api: string[]; token: string } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const file = safeJson(text) as { pid?: unknown; api?: unknown; token?: unknown } | undefined;
  const api = file?.api;
  if (
    typeof file?.pid !== 'number' ||
    typeof file.token !== 'string' ||
    !Array.isArray(api) ||
    !api.every((url): url is string => typeof url === 'string')
  ) {
    throw new PhoenixError(
      CliErrors.PHX_CLI_CONNECTION_FILE_INVALID,
      `${path} is not a Phoenix connection file; remove it and run phoenix up again`,
    );
  }
  return processAlive(file.pid) ? { api, token: file.token } : undefined;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A process that has ended but was not yet reaped still answers kill(pid, 0). A detached
 * `phoenix up` belongs to init once its starter exits, and in a container the process 1 may be
 * slow to reap or never reap; so on Linux the process state decides.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false; // no /proc (not Linux): kill(pid, 0) has the last word
  }
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
