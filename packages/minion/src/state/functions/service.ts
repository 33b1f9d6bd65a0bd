import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import type { ServiceManager } from '../../modules/systemd.js';
import { systemdServices } from '../../modules/systemd.js';
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

/** With test=True the package that brings the unit may be installed by a state before this one. */
function unavailable(name: string, test: boolean, action: string): StateOutcome {
  return test
    ? outcome(
        null,
        `The named service ${name} is not available now; test=True: it is set to ${action} once a state before it installs it`,
        { [name]: true },
      )
    : outcome(false, `The named service ${name} is not available`);
}

/**
 * Salt's service states on a service manager (systemd unless a test hands in another). A watch
 * restarts a running service (or reloads it with `reload: True`).
 */
export function serviceStates(manager: (commands: Commands) => ServiceManager = systemdServices): StateModule {
  const ensureEnabled = async (
    sm: ServiceManager,
    name: string,
    enable: boolean | undefined,
    test: boolean,
    changes: Record<string, unknown>,
    comments: string[],
  ): Promise<string | undefined> => {
    if (enable === undefined || (await sm.isEnabled(name)) === enable) return undefined;
    changes[enable ? 'enabled' : 'disabled'] = true;
    if (test) {
      comments.push(`Service ${name} set to be ${enable ? 'enabled' : 'disabled'}`);
      return undefined;
    }
    const out = await sm.act(enable ? 'enable' : 'disable', name);
    if (out.retcode !== 0)
      return failure(`Failed when setting service ${name} to ${enable ? 'enabled' : 'disabled'}`, out);
    comments.push(`Service ${name} has been ${enable ? 'enabled' : 'disabled'}`);
    return undefined;
  };

  const setRunning = async (
    args: { name: string; enable?: boolean | undefined },
    call: StateCallContext,
    running: boolean,
  ): Promise<StateOutcome> => {
    const sm = manager(call.rt.commands);
    const { name } = args;
    if (!(await sm.exists(name))) return unavailable(name, call.test, running ? `start` : `stop`);
    const changes: Record<string, unknown> = {};
    const comments: string[] = [];
    if ((await sm.isActive(name)) !== running) {
      changes[name] = true;
      if (call.test) comments.push(running ? `Service ${name} is set to start` : `Service ${name} is set to be killed`);
      else {
        const out = await sm.act(running ? 'start' : 'stop', name);
        if (out.retcode !== 0 || (await sm.isActive(name)) !== running) {
          return outcome(false, failure(`Service ${name} failed to ${running ? 'start' : 'stop'}`, out));
        }
        comments.push(running ? `Started service ${name}` : `Service ${name} was killed`);
      }
    } else comments.push(running ? `The service ${name} is already running` : `The service ${name} is already dead`);
    const error = await ensureEnabled(sm, name, args.enable, call.test, changes, comments);
    if (error) return outcome(false, error, changes);
    const changed = Object.keys(changes).length > 0;
    return outcome(call.test && changed ? null : true, comments.join(', '), changes);
  };

  const setEnabled = async (name: string, call: StateCallContext, enable: boolean): Promise<StateOutcome> => {
    const sm = manager(call.rt.commands);
    const word = enable ? 'enabled' : 'disabled';
    if (!(await sm.exists(name))) return unavailable(name, call.test, `be ${word}`);
    if ((await sm.isEnabled(name)) === enable)
      return outcome(true, `Service ${name} is already ${word}, and is in the desired state`);
    if (call.test) return outcome(null, `Service ${name} set to be ${word}`, { [name]: true });
    const out = await sm.act(enable ? 'enable' : 'disable', name);
    if (out.retcode !== 0) return outcome(false, failure(`Failed when setting service ${name} to ${word}`, out));
    return outcome(true, `Service ${name} has been ${word}, and is in the desired state`, { [name]: true });
  };

  return Object.freeze({
    name: 'service',
    available: (rt: StateRuntime) => manager(rt.commands).missing(),
    functions: Object.freeze({
      running: defineState({ schema: Running, run: (args, call) => setRunning(args, call, true) }),
      dead: defineState({ schema: Dead, run: (args, call) => setRunning(args, call, false) }),
      enabled: defineState({ schema: Enabled, run: (args, call) => setEnabled(args.name, call, true) }),
      disabled: defineState({ schema: Enabled, run: (args, call) => setEnabled(args.name, call, false) }),
    }),
    async modWatch(args: Record<string, unknown>, sfun: string, call: StateCallContext): Promise<StateOutcome> {
      const sm = manager(call.rt.commands);
      if (sfun === 'dead') {
        const { name } = Dead.parse(args);
        if (!(await sm.isActive(name))) return outcome(true, 'Service is already stopped');
        if (call.test) return outcome(null, 'Service is set to be stopped', { [name]: true });
        const out = await sm.act('stop', name);
        if (out.retcode !== 0) return outcome(false, failure(`Service ${name} failed to stop`, out));
        return outcome(true, 'Service stopped', { [name]: true });
      }
      if (sfun !== 'running') return outcome(true, `service.${sfun} does nothing on watch`);
      const { name, reload } = Running.parse(args);
      const active = await sm.isActive(name);
      const action = !active ? 'start' : reload ? 'reload' : 'restart';
      const done = { start: 'started', reload: 'reloaded', restart: 'restarted' }[action];
      if (call.test) return outcome(null, `Service is set to be ${done}`, { [name]: true });
      const out = await sm.act(action, name);
      if (out.retcode !== 0) return outcome(false, failure(`Service ${name} failed to ${action}`, out));
      return outcome(true, `Service ${done}`, { [name]: true });
    },
  });
}
