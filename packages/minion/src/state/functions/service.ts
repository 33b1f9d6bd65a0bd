import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import { hostServices } from '../../modules/host-services.js';
import type { ServiceManager } from '../../modules/service-manager.js';
import type { Commands, CommandOutput } from '../../modules/commands.js';
import { defineState, outcome } from './types.js';
import type { StateCallContext, StateModule, StateRuntime } from './types.js';

const UnitName = z.string().regex(/^[A-Za-z0-9@._:\\-]+$/, 'is not a service name');
/** Accepted for Salt trees; systemd needs none of them. */
const Ignored = {
  sig: z.string().optional(),
  init_delay: z.number().optional(),
  no_block: z.boolean().optional(),
  unmask: z.boolean().optional(),
  unmask_runtime: z.boolean().optional(),
  timeout: z.number().optional(),
  provider: z.string().optional(),
};
const Running = z.strictObject({
  name: UnitName,
  enable: z.boolean().optional(),
  reload: z.boolean().default(false),
  full_restart: z.boolean().default(false),
  force: z.boolean().optional(),
  ...Ignored,
});
const Dead = z.strictObject({ name: UnitName, enable: z.boolean().optional(), ...Ignored });
const Enabled = z.strictObject({ name: UnitName, ...Ignored });

function failure(what: string, out: CommandOutput): string {
  const detail = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-5).join('\n');
  return detail === '' ? what : `${what}: ${detail}`;
}

type Started = boolean | undefined;

/** How Salt's _enable/_disable end their comment: by whether the service runs (undefined: as wanted). */
function tail(started: Started, negative: boolean): string {
  if (started === true) return 'and is running';
  if (started === undefined) return 'and is in the desired state';
  return negative ? 'and the service is dead' : 'and is dead';
}

/**
 * Salt's service states (salt/states/service.py) on the host's service manager (systemd, else
 * sysvinit scripts): the same checks in the same order, the same comments and changes. A watch
 * restarts a running service (or reloads it with `reload: True`) and starts a stopped one.
 */
export function serviceStates(managerOf: (commands: Commands) => ServiceManager = hostServices): StateModule {
  // One manager per run's commands: the host's service manager is found once a run.
  const managers = new WeakMap<Commands, ServiceManager>();
  const manager = (commands: Commands): ServiceManager => {
    let found = managers.get(commands);
    if (!found) {
      found = managerOf(commands);
      managers.set(commands, found);
    }
    return found;
  };

  /** Salt's _enable / _disable: `started` says what the caller did (true started, undefined nothing, false dead). */
  const toggle = async (
    sm: ServiceManager,
    name: string,
    enable: boolean,
    started: Started,
    test: boolean,
    result = true,
  ): Promise<{ result: boolean | null; comment: string; changes?: Record<string, unknown> }> => {
    const word = enable ? 'enabled' : 'disabled';
    if (!(await sm.exists(name)))
      return enable
        ? { result: false, comment: `The named service ${name} is not available` }
        : { result: true, comment: `The named service ${name} is not available` };
    const before = await sm.isEnabled(name);
    if (before === enable) {
      return {
        result,
        comment: `Service ${name} is already ${word}, ${tail(started, false)}`,
        ...(started === undefined ? { changes: {} } : {}),
      };
    }
    if (test) return { result: null, comment: `Service ${name} set to be ${word}` };
    const out = await sm.act(enable ? 'enable' : 'disable', name);
    if (out.retcode === 0) {
      const after = await sm.isEnabled(name);
      return {
        result,
        comment: `Service ${name} has been ${word}, ${tail(started, false)}`,
        changes: after !== before ? { [name]: true } : {},
      };
    }
    const failed = enable
      ? `Failed when setting service ${name} to start at boot, ${
          started === true
            ? 'but the service is running'
            : started === undefined
              ? 'but the service was already running'
              : 'and the service is dead'
        }`
      : `Failed when setting service ${name} to not start at boot, ${
          started === true
            ? 'and is running'
            : started === undefined
              ? 'but the service was already running'
              : 'and the service is dead'
        }`;
    return { result: false, comment: failure(failed, out) };
  };

  /** ret.update(...) of Salt's running/dead with what _enable/_disable returned. */
  const merged = (
    base: { result: boolean | null; comment: string; changes: Record<string, unknown> },
    update: { result: boolean | null; comment: string; changes?: Record<string, unknown> },
  ): StateOutcome => outcome(update.result, update.comment, update.changes ?? base.changes);

  const running = async (args: z.output<typeof Running>, call: StateCallContext): Promise<StateOutcome> => {
    const sm = manager(call.rt.commands);
    const { name, enable } = args;
    if (!(await sm.exists(name))) {
      return call.test
        ? outcome(null, `Service ${name} not present; if created in this state run, it would have been started`)
        : outcome(false, `The named service ${name} is not available`);
    }
    const before = await sm.isActive(name);
    const enabledBefore = await sm.isEnabled(name);
    if (before) {
      const ret = { result: true, comment: `The service ${name} is already running`, changes: {} };
      if (enable === true && !enabledBefore) return merged(ret, await toggle(sm, name, true, undefined, call.test));
      if (enable === false && enabledBefore) return merged(ret, await toggle(sm, name, false, undefined, call.test));
      return outcome(ret.result, ret.comment);
    }
    if (call.test) return outcome(null, `Service ${name} is set to start`);
    const out = await sm.act('start', name);
    if (out.retcode !== 0) {
      const ret = { result: false, comment: failure(`Service ${name} failed to start`, out), changes: {} };
      if (enable !== undefined) return merged(ret, await toggle(sm, name, enable, false, false, false));
      return outcome(ret.result, ret.comment);
    }
    const after = await sm.isActive(name);
    const enabledAfter = await sm.isEnabled(name);
    const changes: Record<string, unknown> =
      enabledAfter !== enabledBefore || after !== before ? { [name]: after } : {};
    const ret = {
      result: after,
      comment: after ? `Started Service ${name}` : `Service ${name} failed to start`,
      changes,
    };
    if (enable !== undefined) return merged(ret, await toggle(sm, name, enable, after, false, after));
    return outcome(ret.result, ret.comment, ret.changes);
  };

  const dead = async (args: z.output<typeof Dead>, call: StateCallContext): Promise<StateOutcome> => {
    const sm = manager(call.rt.commands);
    const { name, enable } = args;
    if (!(await sm.exists(name))) {
      // A service that is not there is as dead as it gets.
      return call.test
        ? outcome(null, `Service ${name} not present; if created in this state run, it would have been stopped`)
        : outcome(true, `The named service ${name} is not available`);
    }
    const before = await sm.isActive(name);
    const enabledBefore = await sm.isEnabled(name);
    if (!before) {
      const ret = { result: true, comment: `The service ${name} is already dead`, changes: {} };
      if (enable === true && !enabledBefore) return merged(ret, await toggle(sm, name, true, undefined, call.test));
      if (enable === false && enabledBefore) return merged(ret, await toggle(sm, name, false, undefined, call.test));
      return outcome(ret.result, ret.comment);
    }
    if (call.test) return outcome(null, `Service ${name} is set to be killed`);
    const out = await sm.act('stop', name);
    if (out.retcode !== 0) {
      const ret = { result: false, comment: failure(`Service ${name} failed to die`, out), changes: {} };
      if (enable !== undefined) return merged(ret, await toggle(sm, name, enable, true, false, false));
      return outcome(ret.result, ret.comment);
    }
    const after = await sm.isActive(name);
    const enabledAfter = await sm.isEnabled(name);
    const changes: Record<string, unknown> =
      enabledAfter !== enabledBefore || after !== before ? { [name]: after } : {};
    const ret = {
      result: !after,
      comment: after ? `Service ${name} failed to die` : `Service ${name} was killed`,
      changes,
    };
    if (enable !== undefined) return merged(ret, await toggle(sm, name, enable, after, false, !after));
    return outcome(ret.result, ret.comment, ret.changes);
  };

  const boot = async (name: string, call: StateCallContext, enable: boolean): Promise<StateOutcome> => {
    const sm = manager(call.rt.commands);
    const { result, comment, changes } = await toggle(sm, name, enable, undefined, call.test);
    return outcome(result, comment, changes ?? {});
  };

  return Object.freeze({
    name: 'service',
    available: (rt: StateRuntime) => manager(rt.commands).missing(),
    functions: Object.freeze({
      running: defineState({ schema: Running, run: running }),
      dead: defineState({ schema: Dead, run: dead }),
      enabled: defineState({ schema: Enabled, run: (args, call) => boot(args.name, call, true) }),
      disabled: defineState({ schema: Enabled, run: (args, call) => boot(args.name, call, false) }),
    }),
    async modWatch(args: Record<string, unknown>, sfun: string, call: StateCallContext): Promise<StateOutcome> {
      const sm = manager(call.rt.commands);
      let action: 'start' | 'stop' | 'restart' | 'reload';
      let done: string;
      if (sfun === 'dead') {
        const { name } = Dead.parse(args);
        if (!(await sm.isActive(name))) return outcome(true, 'Service is already stopped');
        [action, done] = ['stop', 'stopped'];
      } else if (sfun === 'running') {
        const { name, reload } = Running.parse(args);
        const active = await sm.isActive(name);
        [action, done] = !active ? ['start', 'started'] : reload ? ['reload', 'reloaded'] : ['restart', 'restarted'];
      } else return outcome(false, `Unable to trigger watch for service.${sfun}`);
      const name = String(args.name);
      if (call.test) return outcome(null, `Service is set to be ${done}`);
      const out = await sm.act(action, name);
      const ok = out.retcode === 0;
      return outcome(ok, ok ? `Service ${done}` : failure(`Failed to ${action} the service`, out), { [name]: ok });
    },
  });
}
