import { z } from 'zod';
import { isMapping, traverse } from '@phoenix/state';
import type { StateOutcome } from '@phoenix/state';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateGrains, StateModule } from './types.js';

/**
 * Salt's grains states: custom grains set during a run are saved in the minion's cache (so later
 * runs and the masters see them, Salt's Grain/State pattern). Nested names use the delimiter
 * (`roles:web`); what changes is always the top-level custom grain.
 */

const Name = z.string().min(1);
const Delimiter = z.string().min(1).default(':');

const Present = z.strictObject({
  name: Name,
  value: z.json(),
  delimiter: Delimiter,
  force: z.boolean().default(false),
});
const Absent = z.strictObject({
  name: Name,
  destructive: z.boolean().default(false),
  delimiter: Delimiter,
  force: z.boolean().default(false),
});
const ListPresent = z.strictObject({ name: Name, value: z.json(), delimiter: Delimiter });
const ListAbsent = z.strictObject({ name: Name, value: z.json(), delimiter: Delimiter });

const MISSING = Symbol('missing');

function current(grains: StateGrains, name: string, delimiter: string): unknown {
  return traverse(grains.items(), name, MISSING, delimiter);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Sets (or with `undefined`, deletes) a possibly nested grain, by rewriting its top-level custom grain. */
async function write(grains: StateGrains, name: string, delimiter: string, value: unknown): Promise<void> {
  const [top, ...rest] = name.split(delimiter);
  if (top === undefined || top === '') return;
  if (rest.length === 0) {
    if (value === undefined) await grains.delval(top);
    else await grains.setval(top, value);
    return;
  }
  const base = grains.items()[top];
  const root: Record<string, unknown> = isMapping(base) ? structuredClone(base) : {};
  let node = root;
  for (const part of rest.slice(0, -1)) {
    const next = node[part];
    node[part] = isMapping(next) ? { ...next } : {};
    node = node[part] as Record<string, unknown>;
  }
  const leaf = rest.at(-1) as string;
  if (value === undefined) delete node[leaf];
  else node[leaf] = value;
  await grains.setval(top, root);
}

async function present(args: z.output<typeof Present>, call: StateCallContext): Promise<StateOutcome> {
  const grains = call.rt.grains;
  const existing = current(grains, args.name, args.delimiter);
  if (existing !== MISSING && same(existing, args.value)) return outcome(true, 'Grain is already set');
  if (existing !== MISSING && isMapping(existing) && !args.force)
    return outcome(
      false,
      `The key '${args.name}' exists and the given value is a dict or a list. Use 'force=True' to overwrite.`,
    );
  if (call.test)
    return outcome(
      null,
      existing === MISSING ? `Grain ${args.name} is set to be added` : `Grain ${args.name} is set to be changed`,
      { [args.name]: args.value },
    );
  await write(grains, args.name, args.delimiter, args.value);
  return outcome(true, `Set grain ${args.name} to ${JSON.stringify(args.value)}`, { [args.name]: args.value });
}

async function absent(args: z.output<typeof Absent>, call: StateCallContext): Promise<StateOutcome> {
  const grains = call.rt.grains;
  const existing = current(grains, args.name, args.delimiter);
  if (existing === MISSING) return outcome(true, `Grain ${args.name} does not exist`);
  if (existing === null && !args.destructive) return outcome(true, `Grain ${args.name} does not exist`);
  if (isMapping(existing) && !args.force)
    return outcome(false, `The key '${args.name}' exists but is a dict or a list. Use 'force=True' to overwrite.`);
  if (args.destructive) {
    if (call.test) return outcome(null, `Grain ${args.name} is set to be deleted`, { deleted: args.name });
    await write(grains, args.name, args.delimiter, undefined);
    return outcome(true, `Grain ${args.name} was deleted`, { deleted: args.name });
  }
  if (call.test) return outcome(null, `Grain ${args.name} is set to be deleted`, { grain: args.name, value: null });
  await write(grains, args.name, args.delimiter, null);
  return outcome(true, `Value for grain ${args.name} was set to None`, { grain: args.name, value: null });
}

async function listPresent(args: z.output<typeof ListPresent>, call: StateCallContext): Promise<StateOutcome> {
  const grains = call.rt.grains;
  const existing = current(grains, args.name, args.delimiter);
  const values = Array.isArray(args.value) ? args.value : [args.value];
  let list: unknown[] = [];
  if (existing !== MISSING && existing !== null) {
    if (!Array.isArray(existing)) return outcome(false, `Grain ${args.name} is not a valid list`);
    list = existing;
  }
  const missing = values.filter((value) => !list.some((have) => same(have, value)));
  if (missing.length === 0)
    return outcome(true, `Value ${JSON.stringify(args.value)} is already in grain ${args.name}`);
  const next = [...list, ...missing];
  if (call.test)
    return outcome(null, `Value ${JSON.stringify(args.value)} is set to be appended to grain ${args.name}`, {
      new: next,
    });
  await write(grains, args.name, args.delimiter, next);
  return outcome(true, `Append value ${JSON.stringify(args.value)} to grain ${args.name}`, { new: next });
}

async function listAbsent(args: z.output<typeof ListAbsent>, call: StateCallContext): Promise<StateOutcome> {
  const grains = call.rt.grains;
  const existing = current(grains, args.name, args.delimiter);
  const values = Array.isArray(args.value) ? args.value : [args.value];
  if (existing === MISSING || existing === null) return outcome(true, `Grain ${args.name} does not exist`);
  if (!Array.isArray(existing)) return outcome(false, `Grain ${args.name} is not a valid list`);
  const present = values.filter((value) => existing.some((have) => same(have, value)));
  if (present.length === 0)
    return outcome(true, `Value ${JSON.stringify(args.value)} is absent from grain ${args.name}`);
  const next = existing.filter((have) => !values.some((value) => same(have, value)));
  if (call.test)
    return outcome(null, `Value ${JSON.stringify(args.value)} in grain ${args.name} is set to be deleted`, {
      deleted: present,
    });
  await write(grains, args.name, args.delimiter, next);
  return outcome(true, `Value ${JSON.stringify(args.value)} was deleted from grain ${args.name}`, { deleted: present });
}

export const grainsStates: StateModule = Object.freeze({
  name: 'grains',
  functions: Object.freeze({
    present: defineState({ schema: Present, run: present }),
    absent: defineState({ schema: Absent, run: absent }),
    list_present: defineState({ schema: ListPresent, run: listPresent }),
    list_absent: defineState({ schema: ListAbsent, run: listAbsent }),
  }),
});
