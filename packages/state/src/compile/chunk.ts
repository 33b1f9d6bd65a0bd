import { compileGlob } from '@phoenix/protocol';
import type { AnyRequisite, RequisiteKind } from './high.js';
import { ANY_REQUISITES, REQUISITE_KINDS } from './high.js';

/** A requisite as written: `- pkg: nginx`, `- sls: web`, or a bare ID. */
export interface RequisiteRef {
  readonly kind: 'id' | 'sls' | 'state';
  /** The state module, for kind 'state'. */
  readonly module?: string;
  /** ID, name or SLS; may be a glob. */
  readonly target: string;
  /** As the operator wrote it, for messages: `pkg: nginx`. */
  readonly text: string;
}

export type RequisiteField = RequisiteKind | `${RequisiteKind}_in` | AnyRequisite;
export const REQUISITE_FIELDS: readonly RequisiteField[] = [
  ...REQUISITE_KINDS,
  ...REQUISITE_KINDS.map((kind) => `${kind}_in` as const),
  ...ANY_REQUISITES,
];

/**
 * One state call: Salt's low chunk. `args` are what the state function receives (with `name`);
 * requisites, ordering and the run conditions are the engine's and are kept apart.
 */
export interface LowChunk {
  readonly state: string;
  readonly fun: string;
  readonly name: string;
  readonly id: string;
  readonly sls: string;
  readonly env: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly requisites: Readonly<Record<RequisiteField, readonly RequisiteRef[]>>;
  /** Sort key: explicit `order`, else definition order after every explicit number. */
  readonly order: number;
  /** Definition position: the tie-breaker. */
  readonly index: number;
  readonly failhard: boolean | undefined;
  /**
   * Salt's `fire_event`: once the state ran, an event with its result goes to the master (true: the
   * state's name ends the tag; a string: that string does).
   */
  readonly fireEvent?: boolean | string;
  /** Shell commands: the state runs only when each `onlyif` exits 0, and is skipped when every `unless` does. */
  readonly unless: readonly string[];
  readonly onlyif: readonly string[];
  /** `ID 'x' in SLS 'base:web'`, for messages. */
  readonly where: string;
}

/** Salt's result key of a chunk: `file_|-motd_|-/etc/motd_|-managed`. */
export function chunkTag(chunk: Pick<LowChunk, 'state' | 'id' | 'name' | 'fun'>): string {
  return `${chunk.state}_|-${chunk.id}_|-${chunk.name}_|-${chunk.fun}`;
}

/** `file: /etc/motd`, as messages name a state. */
export function chunkLabel(chunk: Pick<LowChunk, 'state' | 'name'>): string {
  return `${chunk.state}: ${chunk.name}`;
}

type Matchable = Pick<LowChunk, 'state' | 'id' | 'name' | 'sls'>;

/**
 * The chunks a requisite names: `- pkg: nginx` matches pkg states whose ID or name is nginx,
 * `- sls: web` every state of that SLS (but never the referring state itself), a bare string an
 * ID. Targets may be globs, as in Salt.
 */
export function findMatches<T extends Matchable>(ref: RequisiteRef, chunks: readonly T[], self?: T): T[] {
  const matches = /[*?[]/.test(ref.target) ? compileGlob(ref.target, false) : (value: string) => value === ref.target;
  return chunks.filter((chunk) => {
    if (chunk === self && ref.kind === 'sls') return false;
    if (ref.kind === 'sls') return matches(chunk.sls);
    if (ref.kind === 'id') return matches(chunk.id);
    return chunk.state === ref.module && (matches(chunk.id) || matches(chunk.name));
  });
}
