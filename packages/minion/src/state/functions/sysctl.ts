import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { StateOutcome } from '@phoenix/state';
import { writeFileAtomic } from '@phoenix/protocol';
import { AbsolutePath, hostPath, statOrUndefined } from '../../modules/host-paths.js';
import { defineState, outcome } from './types.js';
import type { StateModule, StateRuntime } from './types.js';

/** Where Salt persists sysctl values on a systemd host. */
const DEFAULT_CONFIG = '/etc/sysctl.d/99-salt.conf';
const Key = z.string().regex(/^[A-Za-z0-9_.\-/*]+$/, 'is not a kernel parameter name');
const Value = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => (typeof v === 'boolean' ? (v ? '1' : '0') : String(v)));

const Present = z.strictObject({
  name: Key,
  value: Value,
  config: AbsolutePath.optional(),
  ignore: z.boolean().default(false),
});

/** Values compare with whitespace squashed: `sysctl -n` separates list values with tabs. */
const squash = (value: string) => value.trim().split(/\s+/).join(' ');

/** Salt's sysctl.present: the running value (`sysctl -w`) and the line in the config file. */
export const sysctlStates: StateModule = Object.freeze({
  name: 'sysctl',
  available: async (rt: StateRuntime) =>
    (await rt.commands.which('sysctl')) === undefined
      ? 'sysctl not found on PATH (sysctl states set kernel parameters with it)'
      : undefined,
  functions: Object.freeze({
    present: defineState({
      schema: Present,
      run: async (args, call): Promise<StateOutcome> => {
        const { rt } = call;
        const config = args.config ?? DEFAULT_CONFIG;
        const path = hostPath(rt.root, config);
        const running = await rt.commands.run({ argv: ['sysctl', '-n', args.name] });
        if (running.retcode !== 0 && !args.ignore)
          return outcome(
            false,
            `Failed to read sysctl value ${args.name}: ${running.stderr.trim() || `exit ${running.retcode}`}`,
          );
        const runningOk = running.retcode === 0 && squash(running.stdout) === squash(args.value);
        const text = (await statOrUndefined(path)) ? await readFile(path, 'utf8') : '';
        const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
        const at = lines.findIndex(
          (line) => line.split('=')[0]?.trim() === args.name && !line.trimStart().startsWith('#'),
        );
        const configured = at === -1 ? undefined : lines[at]?.slice((lines[at] as string).indexOf('=') + 1).trim();
        const configOk = configured !== undefined && squash(configured) === squash(args.value);
        if (runningOk && configOk) return outcome(true, `Sysctl value ${args.name} = ${args.value} is already set`);
        if (call.test) {
          return outcome(
            null,
            runningOk
              ? `Sysctl value ${args.name} = ${args.value} is set but is not present in ${config}`
              : `Sysctl option ${args.name} set to be changed to ${args.value}`,
            { [args.name]: args.value },
          );
        }
        const line = `${args.name} = ${args.value}`;
        if (at === -1) lines.push(line);
        else lines[at] = line;
        await mkdir(dirname(path), { recursive: true });
        await writeFileAtomic(path, Buffer.from(`${lines.join('\n')}\n`), { mode: 0o644 });
        if (!runningOk) {
          const set = await rt.commands.run({ argv: ['sysctl', '-w', `${args.name}=${args.value}`] });
          if (set.retcode !== 0 && !args.ignore)
            return outcome(
              false,
              `Failed to set ${args.name} to ${args.value}: ${set.stderr.trim() || `exit ${set.retcode}`}`,
              {},
            );
        }
        return outcome(true, `Updated sysctl value ${args.name} = ${args.value}`, { [args.name]: args.value });
      },
    }),
  }),
});
