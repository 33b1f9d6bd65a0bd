import type { MessagePort } from 'node:worker_threads';

/** Messages between the template renderer (main thread) and its worker. Plain data only. */

export interface RenderRequest {
  readonly id: number;
  /** The template text. */
  readonly source: string;
  /** Its name in errors and for relative includes: `salt://web/init.sls`. */
  readonly path: string;
  /** Variables: grains, pillar, opts, sls, tpldir... (`salt` is added inside the worker). */
  readonly context: Record<string, unknown>;
  readonly trimBlocks: boolean;
  readonly lstripBlocks: boolean;
  /** The file system the states manage: file.file_exists looks there (see pathOnHost). */
  readonly root: string;
  /** false: the host's files are asked through the bridge (see JinjaOptions.hostFiles). */
  readonly hostFiles: boolean;
}

export interface RenderFailure {
  readonly message: string;
  /** The template the error is in (an included file when it is there), when nunjucks says. */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export type RenderResponse =
  | { readonly id: number; readonly ok: true; readonly output: string }
  | { readonly id: number; readonly ok: false; readonly error: RenderFailure };

/** A synchronous request from the template to the main thread. */
export type BridgeRequest =
  | { readonly op: 'call'; readonly fun: string; readonly args: unknown[]; readonly kwargs: Record<string, unknown> }
  | { readonly op: 'read'; readonly path: string }
  | { readonly op: 'sls_exists'; readonly name: string };

export type BridgeResponse =
  { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string };

/** The worker's start-up data. */
export interface WorkerSetup {
  readonly port: MessagePort;
  /** One Int32: 0 while the worker waits for an answer, 1 once the answer is posted. */
  readonly flag: SharedArrayBuffer;
  /** How long one bridge call may block the template before it fails. */
  readonly callTimeoutMs: number;
}

/**
 * Picks the innermost template and its line out of a nunjucks error message, which reads
 * "(salt://a.sls)\n (salt://b.jinja) [Line 2, Column 1]\n  reason".
 */
export function describeTemplateError(err: unknown, macroFileKey?: string): RenderFailure {
  const raw = err instanceof Error ? err.message : String(err);
  const macroFile =
    macroFileKey !== undefined && err !== null && typeof err === 'object'
      ? (err as Record<string, unknown>)[macroFileKey]
      : undefined;
  const located = /\(([^()\n]*)\) \[Line (\d+)(?:, Column (\d+))?\]\n\s*([\s\S]*)$/.exec(raw);
  if (located) {
    const [, file, line, column, reason] = located;
    const where = typeof macroFile === 'string' ? macroFile : file;
    return {
      message: cleanReason(reason ?? raw),
      ...(where ? { file: where } : {}),
      line: Number(line),
      ...(column === undefined ? {} : { column: Number(column) }),
    };
  }
  const unlocated = /^(?:\([^()\n]*\)\n\s*)+([\s\S]*)$/.exec(raw);
  return { message: cleanReason(unlocated?.[1] ?? raw) };
}

function cleanReason(reason: string): string {
  return reason.replace(/^(?:Template render error: )?(?:(?:Error|PyError): )+/, '').trim();
}
