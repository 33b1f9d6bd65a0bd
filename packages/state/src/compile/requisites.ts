import { CompileErrors } from '../errors.js';
import type { RequisiteKind } from './high.js';
import { REQUISITE_KINDS } from './high.js';
import { chunkLabel, chunkTag, findMatches } from './chunk.js';
import type { LowChunk, RequisiteRef } from './chunk.js';

/** What must run before a chunk, and how its result depends on them (indexes into the plan). */
export interface ChunkDeps {
  readonly require: readonly number[];
  readonly watch: readonly number[];
  readonly onchanges: readonly number[];
  readonly onfail: readonly number[];
  /** States this one runs before, if they would change (its `prereq`). */
  readonly prereq: readonly number[];
  /** States that declared `prereq` on this one: they run first, and their failure fails it. */
  readonly prerequired: readonly number[];
}

export interface PlannedChunk {
  readonly chunk: LowChunk;
  readonly tag: string;
  readonly deps: ChunkDeps;
}

type MutableDeps = Record<RequisiteKind | 'prerequired', Set<number>>;

/**
 * Resolves every requisite (and `_in` form) to the chunks it names. A requisite that names no
 * state, and any cycle, is a compile error: nothing runs. `chunks` must already be in order.
 */
export function planRun(chunks: readonly LowChunk[]): PlannedChunk[] {
  const errors = new CompileErrors();
  const deps: MutableDeps[] = chunks.map(() => ({
    require: new Set(),
    watch: new Set(),
    onchanges: new Set(),
    onfail: new Set(),
    prereq: new Set(),
    use: new Set(),
    prerequired: new Set(),
  }));
  chunks.forEach((chunk, index) => {
    for (const kind of REQUISITE_KINDS) {
      if (kind === 'use') continue; // resolved into arguments by compileLow
      for (const ref of chunk.requisites[kind]) {
        const found = matchIndexes(ref, chunks, index);
        if (found.length === 0) errors.add(missing(kind, ref, chunk));
        for (const target of found) deps[index]?.[kind].add(target);
      }
      for (const ref of chunk.requisites[`${kind}_in`]) {
        const found = matchIndexes(ref, chunks, index);
        if (found.length === 0) errors.add(missing(`${kind}_in`, ref, chunk));
        for (const target of found) deps[target]?.[kind].add(index);
      }
    }
  });
  deps.forEach((own, index) => {
    for (const target of own.prereq) deps[target]?.prerequired.add(index);
  });
  deps.forEach((own, index) => {
    for (const kind of ['require', 'watch', 'onchanges', 'onfail', 'prereq'] as const) {
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
    return Object.freeze({
      chunk,
      tag: chunkTag(chunk),
      deps: Object.freeze({
        require: sorted(own.require),
        watch: sorted(own.watch),
        onchanges: sorted(own.onchanges),
        onfail: sorted(own.onfail),
        prereq: sorted(own.prereq),
        prerequired: sorted(own.prerequired),
      }),
    });
  });
}

/** Everything that must have run before `index` runs (for prereq: before its test of the target). */
export function runsBefore(deps: ChunkDeps): number[] {
  return [...new Set([...deps.require, ...deps.watch, ...deps.onchanges, ...deps.onfail, ...deps.prerequired])].sort(
    (a, b) => a - b,
  );
}

function matchIndexes(ref: RequisiteRef, chunks: readonly LowChunk[], self: number): number[] {
  const found = findMatches(ref, chunks, chunks[self]);
  return found.map((chunk) => chunks.indexOf(chunk));
}

function missing(kind: string, ref: RequisiteRef, chunk: LowChunk): string {
  return `The requisite '${kind}: ${ref.text}' of state '${chunkLabel(chunk)}' (${chunk.where}) names no state in this run (a typo, or an SLS that is not included?)`;
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
    for (const kind of ['require', 'watch', 'onchanges', 'onfail'] as const)
      for (const dep of own[kind]) before[index]?.add(dep);
    for (const target of own.prereq) {
      before[target]?.add(index);
      const targetDeps = deps[target];
      if (!targetDeps) continue;
      for (const kind of ['require', 'watch', 'onchanges', 'onfail'] as const) {
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
