import { isDeepStrictEqual } from 'node:util';
import type { StateOutcome } from '@phoenix/state';
import { resolveConnection } from './aws-profile.js';
import type { AwsConnection, AwsStateEnvironment, AwsStateService, ConnectionArgs } from './aws-profile.js';
import type { StateCallContext } from './types.js';
import { outcome } from './types.js';

/**
 * The shared shape of every boto_* state: resolve the connection, describe what exists, compare it
 * with what the SLS says, and change only what differs. A prediction (test=True) runs only the
 * describe calls; every mutating call sits in a Step's `apply`, which only `converge` calls.
 */

/** One difference between AWS and the SLS, and the mutating calls that remove it. */
export interface Step {
  /** The key under `changes.old` / `changes.new` (`attributes`, `tags`, `queue`). */
  readonly key: string;
  readonly old: unknown;
  readonly new: unknown;
  apply(): Promise<unknown>;
}

/** A step only when old and new differ (deep comparison). */
export function stepIf(key: string, old: unknown, next: unknown, apply: () => Promise<unknown>): Step[] {
  return isDeepStrictEqual(old, next) ? [] : [{ key, old, new: next, apply }];
}

/** What a state body gets: the run's test flag and a connection for SDK clients. */
export interface AwsCall {
  readonly test: boolean;
  readonly connection: AwsConnection;
  /** The client configuration for an SDK v3 client of this connection. */
  readonly clientConfig: AwsClientOptions;
}

export interface AwsClientOptions {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
}

/** A failure a state body reports on purpose (a reference that does not exist, an argument AWS would refuse). */
export class AwsStateFailure extends Error {
  constructor(readonly comment: string) {
    super(comment);
    this.name = 'AwsStateFailure';
  }
}

/**
 * Runs a boto_* state body with its connection, and turns whatever AWS or the network throws into
 * that state's failure: `<what>: <AWS error code>: <AWS message>`, the secret key redacted.
 */
export async function runAwsState(
  service: AwsStateService,
  args: ConnectionArgs,
  call: StateCallContext,
  env: AwsStateEnvironment,
  body: (aws: AwsCall) => Promise<StateOutcome>,
): Promise<StateOutcome> {
  const resolved = resolveConnection(service, args, call.rt.pillar, env);
  if (!resolved.ok) return outcome(false, resolved.comment);
  const { connection } = resolved;
  try {
    return await body({ test: call.test, connection, clientConfig: clientConfigOf(connection) });
  } catch (err) {
    if (err instanceof AwsStateFailure) return outcome(false, redact(err.comment, connection.secrets));
    if (err instanceof ConvergeFailure) return err.outcome;
    return outcome(false, redact(`AWS call failed: ${describeAwsError(err)}`, connection.secrets));
  }
}

/** The configuration of an SDK v3 client for a connection. */
export function clientConfigOf(connection: AwsConnection): AwsClientOptions {
  return {
    region: connection.region,
    maxAttempts: 2,
    ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
    ...(connection.credentials === undefined ? {} : { credentials: { ...connection.credentials } }),
  };
}

/** AWS's error code and message (`QueueDoesNotExist: The specified queue does not exist.`). */
export function describeAwsError(err: unknown): string {
  if (err instanceof AwsStateFailure) return err.comment;
  if (err instanceof Error) {
    const code = awsErrorCode(err);
    return err.message === '' || err.message === code ? code : `${code}: ${err.message}`;
  }
  return String(err);
}

/** The error's AWS code: the SDK puts it in `name` (query protocols also in `Code`). */
export function awsErrorCode(err: unknown): string {
  if (!(err instanceof Error)) return 'UnknownError';
  const withCode = err as Error & { Code?: unknown; code?: unknown };
  if (typeof withCode.Code === 'string' && withCode.Code !== '') return withCode.Code;
  if (err.name !== 'Error' && err.name !== '') return err.name;
  return typeof withCode.code === 'string' ? withCode.code : 'Error';
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('****');
  return out;
}

class ConvergeFailure {
  constructor(readonly outcome: StateOutcome) {}
}

export interface ConvergeOptions {
  /** `SQS queue jobs`: the subject of every comment. */
  readonly what: string;
  readonly test: boolean;
  readonly secrets: readonly string[];
  /** True when the first step creates the resource (the comments say created, not updated). */
  readonly creating?: boolean;
}

/**
 * Applies the steps in order and reports Salt's `changes` as `{old, new}` keyed by step. With
 * test=True it applies nothing and predicts (result None). When a step fails, the state fails
 * with AWS's code and message, and its changes and comment say which steps were already made.
 */
export async function converge(steps: readonly Step[], options: ConvergeOptions): Promise<StateOutcome> {
  const { what, test, secrets } = options;
  if (steps.length === 0) return outcome(true, `${what} is present and up to date.`);
  const keys = steps.map((step) => step.key);
  if (test) {
    return outcome(
      null,
      options.creating === true ? `${what} would be created.` : `${what} would be updated (${keys.join(', ')}).`,
      changesOf(steps),
    );
  }
  const done: Step[] = [];
  for (const step of steps) {
    try {
      await step.apply();
    } catch (err) {
      const already =
        done.length === 0 ? 'nothing was changed' : `already changed: ${done.map((d) => d.key).join(', ')}`;
      const doing = options.creating === true && done.length === 0 ? `create ${what}` : `set ${step.key} of ${what}`;
      throw new ConvergeFailure(
        outcome(false, redact(`Failed to ${doing}: ${describeAwsError(err)} (${already})`, secrets), changesOf(done)),
      );
    }
    done.push(step);
  }
  return outcome(
    true,
    options.creating === true ? `${what} created.` : `${what} updated (${keys.join(', ')}).`,
    changesOf(done),
  );
}

function changesOf(steps: readonly Step[]): Record<string, unknown> {
  if (steps.length === 0) return {};
  return {
    old: Object.fromEntries(steps.map((step) => [step.key, step.old ?? null])),
    new: Object.fromEntries(steps.map((step) => [step.key, step.new ?? null])),
  };
}

/** An absent state: nothing to do when it does not exist; else one deleting step (or a prediction). */
export async function remove(
  exists: boolean,
  options: Omit<ConvergeOptions, 'creating'> & { key: string; name: string; apply(): Promise<unknown> },
): Promise<StateOutcome> {
  const { what, test, secrets, key, name } = options;
  if (!exists) return outcome(true, `${what} does not exist.`);
  if (test) return outcome(null, `${what} would be deleted.`, { old: { [key]: name }, new: { [key]: null } });
  try {
    await options.apply();
  } catch (err) {
    return outcome(false, redact(`Failed to delete ${what}: ${describeAwsError(err)}`, secrets));
  }
  return outcome(true, `${what} deleted.`, { old: { [key]: name }, new: { [key]: null } });
}

/** Tags as AWS lists them, compared as a map; `undefined` desired means the SLS does not manage them. */
export function tagDiff(
  current: Readonly<Record<string, string>>,
  desired: Readonly<Record<string, string>>,
): { set: Record<string, string>; remove: string[] } {
  const set = Object.fromEntries(Object.entries(desired).filter(([k, v]) => current[k] !== v));
  const remove = Object.keys(current).filter((k) => !(k in desired));
  return { set, remove };
}
