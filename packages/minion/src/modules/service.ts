import { z } from 'zod';
import { ExecutionError } from './errors.js';
import { hostServices } from './host-services.js';
import type { ServiceManager } from './service-manager.js';
import type { Commands } from './commands.js';
import { defineFunction } from './define-function.js';
import { hostCommands } from './host-context.js';
import type { HostOptions } from './host-context.js';
import type { ExecutionModule, JobContext } from './types.js';

const Unit = z.string().regex(/^[A-Za-z0-9@._:\\*-]+$/, 'is not a service name');

/** Salt's service module on systemd, or sysvinit scripts without it: status, start/stop/restart/reload, enable/disable. */
export function createServiceModule(
  options: HostOptions,
  manager: (commands: Commands) => ServiceManager = hostServices,
): ExecutionModule {
  const sm = async (ctx: JobContext): Promise<ServiceManager> => {
    const found = manager(hostCommands(options, ctx));
    const missing = await found.missing();
    if (missing !== undefined) throw new ExecutionError(missing);
    return found;
  };
  const action = (verb: 'start' | 'stop' | 'restart' | 'reload' | 'enable' | 'disable', doc: string) =>
    defineFunction({
      doc,
      schema: z.strictObject({
        name: Unit,
        no_block: z.boolean().optional(),
        unmask: z.boolean().optional(),
        unmask_runtime: z.boolean().optional(),
      }),
      run: async ({ name }, ctx) => {
        const m = await sm(ctx);
        if (!(await m.exists(name))) throw new ExecutionError(`Service '${name}' not found`);
        const out = await m.act(verb, name);
        if (out.retcode !== 0)
          throw new ExecutionError(
            `Failed to ${verb} service ${name}: ${(out.stderr.trim() || out.stdout.trim()).split('\n').slice(-3).join('\n')}`,
          );
        return true;
      },
    });
  return Object.freeze({
    name: 'service',
    functions: Object.freeze({
      status: defineFunction({
        doc: "Returns True when the service is running (several, or a glob: {name: bool}).\n\nCLI Example: phoenix run '*' service.status ssh",
        schema: z.strictObject({ name: Unit, sig: z.string().optional() }),
        run: async ({ name }, ctx) => (await sm(ctx)).isActive(name),
      }),
      available: defineFunction({
        doc: "Returns True when the service manager knows the service.\n\nCLI Example: phoenix run '*' service.available ssh",
        schema: z.strictObject({ name: Unit }),
        run: async ({ name }, ctx) => (await sm(ctx)).exists(name),
      }),
      missing: defineFunction({
        doc: "Returns True when the service manager does not know the service.\n\nCLI Example: phoenix run '*' service.missing ssh",
        schema: z.strictObject({ name: Unit }),
        run: async ({ name }, ctx) => !(await (await sm(ctx)).exists(name)),
      }),
      enabled: defineFunction({
        doc: "Returns True when the service starts at boot.\n\nCLI Example: phoenix run '*' service.enabled ssh",
        schema: z.strictObject({ name: Unit }),
        run: async ({ name }, ctx) => (await sm(ctx)).isEnabled(name),
      }),
      disabled: defineFunction({
        doc: "Returns True when the service does not start at boot.\n\nCLI Example: phoenix run '*' service.disabled ssh",
        schema: z.strictObject({ name: Unit }),
        run: async ({ name }, ctx) => !(await (await sm(ctx)).isEnabled(name)),
      }),
      start: action('start', "Starts a service. Returns True.\n\nCLI Example: phoenix run '*' service.start nginx"),
      stop: action('stop', "Stops a service. Returns True.\n\nCLI Example: phoenix run '*' service.stop nginx"),
      restart: action(
        'restart',
        "Restarts a service. Returns True.\n\nCLI Example: phoenix run '*' service.restart nginx",
      ),
      reload: action(
        'reload',
        "Reloads a service's configuration. Returns True.\n\nCLI Example: phoenix run '*' service.reload nginx",
      ),
      enable: action(
        'enable',
        "Starts a service at boot. Returns True.\n\nCLI Example: phoenix run '*' service.enable nginx",
      ),
      disable: action(
        'disable',
        "Stops a service from starting at boot. Returns True.\n\nCLI Example: phoenix run '*' service.disable nginx",
      ),
    }),
  });
}
