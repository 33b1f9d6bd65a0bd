import { readFile, statfs } from 'node:fs/promises';
import { loadavg, uptime } from 'node:os';
import { z } from 'zod';
import { ExecutionError } from './errors.js';
import { defineFunction } from './define-function.js';
import type { ExecutionModule } from './types.js';

/** Pseudo file systems diskusage leaves out unless asked for by mount point. */
const PSEUDO = new Set([
  'proc',
  'sysfs',
  'devpts',
  'cgroup',
  'cgroup2',
  'securityfs',
  'pstore',
  'debugfs',
  'tracefs',
  'mqueue',
  'hugetlbfs',
  'configfs',
  'fusectl',
  'bpf',
  'autofs',
  'binfmt_misc',
  'nsfs',
  'rpc_pipefs',
]);

async function mounts(): Promise<{ mount: string; type: string }[]> {
  const text = await readFile('/proc/mounts', 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields.length >= 3)
    .map((fields) => ({ mount: (fields[1] as string).replace(/\\040/g, ' '), type: fields[2] as string }));
}

/** Salt's status module: uptime, load and disk usage of this host. */
export const statusModule: ExecutionModule = Object.freeze({
  name: 'status',
  functions: Object.freeze({
    uptime: defineFunction({
      doc: "Returns how long the host has been up: {seconds, since_iso, since_t, days, time}.\n\nCLI Example: phoenix run '*' status.uptime",
      schema: z.strictObject({}),
      run: (_args, ctx) => {
        const seconds = Math.floor(uptime());
        const since = new Date(ctx.clock.now() - seconds * 1000);
        const days = Math.floor(seconds / 86_400);
        const hours = Math.floor((seconds % 86_400) / 3600);
        const minutes = Math.floor((seconds % 3600) / 60);
        return {
          seconds,
          since_iso: since.toISOString(),
          since_t: Math.floor(since.getTime() / 1000),
          days,
          time: `${hours}:${String(minutes).padStart(2, '0')}`,
        };
      },
    }),
    loadavg: defineFunction({
      doc: "Returns the load averages: {'1-min', '5-min', '15-min'}.\n\nCLI Example: phoenix run '*' status.loadavg",
      schema: z.strictObject({}),
      run: () => {
        const [one, five, fifteen] = loadavg();
        return { '1-min': one, '5-min': five, '15-min': fifteen };
      },
    }),
    diskusage: defineFunction({
      doc: "Returns {mount point: {available, total}} in bytes for the given mount points (or file system types), or all.\n\nCLI Example: phoenix run '*' status.diskusage / /var",
      schema: z.strictObject({ args: z.array(z.string().min(1)) }),
      varargs: 'args',
      run: async ({ args }) => {
        const all = await mounts();
        const wanted =
          args.length === 0
            ? all.filter((m) => !PSEUDO.has(m.type))
            : all.filter((m) => args.includes(m.mount) || args.includes(m.type));
        const points = args.length === 0 || wanted.length > 0 ? wanted.map((m) => m.mount) : args;
        const usage: Record<string, { available: number; total: number }> = {};
        for (const point of [...new Set(points)]) {
          const stats = await statfs(point).catch(() => undefined);
          if (!stats) {
            if (args.includes(point)) throw new ExecutionError(`${point} is not a mount point or file system type`);
            continue;
          }
          usage[point] = { available: stats.bavail * stats.bsize, total: stats.blocks * stats.bsize };
        }
        return usage;
      },
    }),
  }),
});
