import { CompileErrors } from '../errors.js';
import { chunkLabel, chunkTag, findMatches } from './chunk.js';
import type { LowChunk, RequisiteField, RequisiteRef } from './chunk.js';

/** The requisites the engine checks before a state runs (Salt's check_requisite). */
export const CHECKED_KINDS = [
  'require',
  'require_any',
  'watch',
  'watch_any',
  'onchanges',
  'onchanges_any',
  'onfail',
  'onfail_any',
  'onfail_all',
  'prereq',
] as const;
export type CheckedKind = (typeof CHECKED_KINDS)[number];

/** A requisite that names no state: the state fails with Salt's "not found" comment. */
export interface LostRequisite {
  readonly kind: RequisiteField;
  readonly ref: RequisiteRef;
}

/** What must run before a chunk, and how its result depends on them (indexes into the plan). */
export interface ChunkDeps extends Readonly<Record<CheckedKind, readonly number[]>> {
  /** States that declared `prereq` on this one: they run first, and their failure fails it. */
  readonly prerequired: readonly number[];
  /**
   * States whose changes make this one's mod_watch run at the end of the run (listen), with the
   * state that declared each (this one for listen, the target for listen_in): Salt orders the
   * listeners by it.
   */
  readonly listen: readonly { readonly target: number; readonly declaredBy: number }[];
  /** Requisites of this state that name nothing: it fails without running. */
  readonly lost: readonly LostRequisite[];
  /** listen / listen_in entries of this state that name nothing: Salt's Listen_Error results. */
  readonly lostListen: readonly RequisiteRef[];
}

export interface PlannedChunk {
  readonly chunk: LowChunk;
  readonly tag: string;
  readonly deps: ChunkDeps;
}

type MutableDeps = Record<CheckedKind | 'prerequired', Set<number>> & { listen: Map<number, number> };

/** Requisites with an `_in` form, and the kind the target receives. */
const IN_FORMS = ['require', 'watch', 'onchanges', 'onfail', 'prereq', 'listen'] as const;

/**
 * Resolves every requisite (and `_in` form) to the chunks it names. A requisite that names no
 * state fails only the state that declared it (at run time, as Salt does); a cycle is a compile
 * error and nothing runs. `chunks` must already be in order.
 */
export function planRun(chunks: readonly LowChunk[]): PlannedChunk[] {
  const errors = new CompileErrors();
  const deps: MutableDeps[] = chunks.map(() => ({
    require: new Set(),
    require_any: new Set(),
    watch: new Set(),
    watch_any: new Set(),
    onchanges: new Set(),
    onchanges_any: new Set(),
    onfail: new Set(),
    onfail_any: new Set(),
    onfail_all: new Set(),
    prereq: new Set(),
    prerequired: new Set(),
    listen: new Map(),
  }));
  const lost: LostRequisite[][] = chunks.map(() => []);
  const lostListen: RequisiteRef[][] = chunks.map(() => []);
  chunks.forEach((chunk, index) => {
    for (const kind of CHECKED_KINDS) {
      for (const ref of chunk.requisites[kind]) {
        const found = matchIndexes(ref, chunks, index);
        if (found.length === 0) lost[index]?.push({ kind, ref });
        for (const target of found) deps[index]?.[kind].add(target);
      }
    }
    for (const ref of chunk.requisites.listen) {
      const found = matchIndexes(ref, chunks, index);
      if (found.length === 0) lostListen[index]?.push(ref);
      for (const target of found) if (!deps[index]?.listen.has(target)) deps[index]?.listen.set(target, index);
    }
    for (const kind of IN_FORMS) {
      for (const ref of chunk.requisites[`${kind}_in`]) {
        const found = matchIndexes(ref, chunks, index);
        if (found.length === 0) {
          if (kind === 'listen') lostListen[index]?.push(ref);
          else lost[index]?.push({ kind: `${kind}_in`, ref });
        }
        for (const target of found) {
          if (kind === 'listen') {
            if (!deps[target]?.listen.has(index)) deps[target]?.listen.set(index, index);
          } else deps[target]?.[kind].add(index);
        }
      }
    }
  });
  deps.forEach((own, index) => {
    for (const target of own.prereq) deps[target]?.prerequired.add(index);
  });
  deps.forEach((own, index) => {
    own.listen.delete(index);
    for (const kind of CHECKED_KINDS) {
      if (own[kind].has(index)) {
        errors.add(`Recursive requisite found: ${label(chunks, index)} has a ${kind} on itself`);
        own[kind].delete(index);
      }
    }
  });
  findCycle(chunks, deps, errors);
  errors.throwIfAny();
  return chunks.map((chunk, index) => {
    const own = deps[index] as MutableDeps;
    const sorted = (set: Set<number>) => Object.freeze([...set].sort((a, b) => a - b));
    const frozen = Object.fromEntries(CHECKED_KINDS.map((kind) => [kind, sorted(own[kind])])) as Record<
      CheckedKind,
      readonly number[]
    >;
    return Object.freeze({
      chunk,
      tag: chunkTag(chunk),
      deps: Object.freeze({
        ...frozen,
        prerequired: sorted(own.prerequired),
        listen: Object.freeze([...own.listen].map(([target, declaredBy]) => Object.freeze({ target, declaredBy }))),
        lost: Object.freeze(lost[index] ?? []),
        lostListen: Object.freeze(lostListen[index] ?? []),
      }),
    });
  });
}

/** The requisites that run before a state (all but prereq, which runs after; listen adds no order). */
const BEFORE_KINDS = CHECKED_KINDS.filter((kind) => kind !== 'prereq');

/** Everything that must have run before `index` runs (for prereq: before its test of the target). */
export function runsBefore(deps: ChunkDeps): number[] {
  const all = new Set<number>(deps.prerequired);
  for (const kind of BEFORE_KINDS) for (const dep of deps[kind]) all.add(dep);
  return [...all].sort((a, b) => a - b);
}

function matchIndexes(ref: RequisiteRef, chunks: readonly LowChunk[], self: number): number[] {
  const found = findMatches(ref, chunks, chunks[self]);
  return found.map((chunk) => chunks.indexOf(chunk));
}

function label(chunks: readonly LowChunk[], index: number): string {
  const chunk = chunks[index];
  return chunk ? `'${chunkLabel(chunk)}' (ID '${chunk.id}' in SLS '${chunk.sls}')` : `#${index}`;
}

/**
 * Depth-first search on "runs before" edges. A prereq adds an edge too, and so do the
 * requisites of its target (the prereq state tests its target after they ran).
 */
function findCycle(chunks: readonly LowChunk[], deps: readonly MutableDeps[], errors: CompileErrors): void {
  const before: Set<number>[] = chunks.map(() => new Set());
  deps.forEach((own, index) => {
    for (const kind of BEFORE_KINDS) for (const dep of own[kind]) before[index]?.add(dep);
    for (const target of own.prereq) {
      before[target]?.add(index);
      const targetDeps = deps[target];
      if (!targetDeps) continue;
      for (const kind of BEFORE_KINDS) {
        for (const dep of targetDeps[kind]) if (dep !== index) before[index]?.add(dep);
      }
    }
  });
  const state = new Uint8Array(chunks.length); // 0 new, 1 on the stack, 2 done
  const stack: number[] = [];
  const visit = (node: number): boolean => {
    state[node] = 1;
    stack.push(node);
    for (const next of [...(before[node] ?? [])].sort((a, b) => a - b)) {
      if (state[next] === 1) {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        errors.add(`Recursive requisite found: ${cycle.map((i) => label(chunks, i)).join(' needs ')}`);
        return true;
      }
      if (state[next] === 0 && visit(next)) return true;
    }
    stack.pop();
    state[node] = 2;
    return false;
  };
  for (let node = 0; node < chunks.length; node++) {
    if (state[node] === 0 && visit(node)) return;
  }
}
