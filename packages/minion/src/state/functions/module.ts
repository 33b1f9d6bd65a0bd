import { z } from 'zod';
import { isMapping } from '@phoenix/state';
import type { StateOutcome } from '@phoenix/state';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

/** Any arguments: which syntax it is depends on them (see run). */
const Args = z.looseObject({ name: z.string().min(1) });

/** Salt's _get_result: a dict saying `result: False` or a non-zero `retcode` is a failure. */
function succeeded(ret: unknown): boolean {
  if (ret === false) return false;
  if (isMapping(ret)) {
    if (ret.result === false) return false;
    if (typeof ret.retcode === 'number' && ret.retcode !== 0) return false;
  }
  return true;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Positional arguments and keyword arguments from Salt's `- fun: [a, {key: v}]` list. */
function splitFunctionArgs(value: unknown): { args: unknown[]; kwargs: Record<string, unknown> } {
  const args: unknown[] = [];
  const kwargs: Record<string, unknown> = {};
  const items = value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];
  for (const item of items) {
    if (isMapping(item) && Object.keys(item).length === 1) Object.assign(kwargs, item);
    else args.push(item);
  }
  return { args, kwargs };
}

/** `module.run: [{test.arg: [a, {b: c}]}]`: every key with a dot is a function to call, in order. */
async function runNew(
  args: Record<string, unknown>,
  functions: string[],
  call: StateCallContext,
): Promise<StateOutcome> {
  if (call.test) {
    const names = functions.map((fun) => fun.split(':')[0]);
    return outcome(null, `Function${names.length === 1 ? '' : 's'} ${names.join(', ')} to be executed.`);
  }
  const failures: string[] = [];
  const successes: string[] = [];
  const changes: Record<string, unknown> = {};
  for (const key of functions) {
    const fun = key.split(':')[0] as string;
    const { args: positional, kwargs } = splitFunctionArgs(args[key]);
    try {
      const ret = await call.rt.call(fun, positional, kwargs);
      if (!succeeded(ret)) {
        failures.push(
          isMapping(ret)
            ? `'${key}' failed: ${String(ret.comment ?? '(error message N/A)')}`
            : `'${key}': ${String(ret)}`,
        );
      } else {
        successes.push(`${key}: ${isMapping(ret) && typeof ret.comment === 'string' ? ret.comment : 'Success'}`);
        changes[key] = ret;
      }
    } catch (err) {
      failures.push(`'${key}' failed: ${message(err)}`);
    }
  }
  return outcome(failures.length === 0, [...failures, ...successes].join(', '), changes);
}

/** Salt's legacy syntax: `module.run: [{name: network.ip_addrs}, {m_args: [...]}, {kwarg: v}]`. */
async function runLegacy(args: Record<string, unknown>, call: StateCallContext): Promise<StateOutcome> {
  const { name, m_name, args: listed, m_args, kwargs: named, m_kwargs, returner: _returner, ...rest } = args;
  const fun = String(name);
  if (call.test) return outcome(null, `Module function ${fun} is set to execute`);
  const positional = [...(Array.isArray(m_args) ? m_args : Array.isArray(listed) ? listed : [])];
  const kwargs: Record<string, unknown> = {
    ...rest,
    ...(isMapping(named) ? named : {}),
    ...(isMapping(m_kwargs) ? m_kwargs : {}),
    ...(m_name === undefined ? {} : { name: m_name }),
  };
  let ret: unknown;
  try {
    ret = await call.rt.call(fun, positional, kwargs);
  } catch (err) {
    const text = message(err);
    if (/is not available/.test(text)) return outcome(false, `Module function ${fun} is not available`);
    return outcome(false, `Module function ${fun} threw an exception. Exception: ${text}`);
  }
  return outcome(succeeded(ret), `Module function ${fun} executed`, { ret });
}

/** Salt's module.run, in both of its syntaxes (the one with function names as keys is Salt's current one). */
export const moduleStates: StateModule = Object.freeze({
  name: 'module',
  functions: Object.freeze({
    run: defineState({
      schema: Args,
      run: async (args, call) => {
        const functions = Object.keys(args).filter(
          (key) => key !== 'name' && /^[A-Za-z_]\w*\.[A-Za-z_]\w*(:.*)?$/.test(key),
        );
        if (functions.length > 0) return runNew(args, functions, call);
        return runLegacy(args, call);
      },
    }),
    wait: defineState({ schema: Args, run: async () => outcome(true, '') }),
  }),
  async modWatch(args: Record<string, unknown>, _sfun: string, call: StateCallContext): Promise<StateOutcome> {
    const functions = Object.keys(args).filter((key) => key !== 'name' && key.includes('.'));
    return functions.length > 0 ? runNew(args, functions, call) : runLegacy(args, call);
  },
});
