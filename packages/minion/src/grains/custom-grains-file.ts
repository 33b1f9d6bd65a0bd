import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { parse, stringify } from 'yaml';
import { GrainValueSchema } from './types.js';
import type { GrainValue } from './types.js';
import { PhoenixError, writeFileAtomic } from '@phoenix/protocol';
import { MinionErrors } from '../errors.js';

export const CUSTOM_GRAINS_FILE = 'grains.yaml';

const CustomGrainsSchema = z.record(z.string().min(1), GrainValueSchema);

/**
 * Reads the custom grains file (a YAML mapping, like Salt's /etc/salt/grains). A missing or empty
 * file means no custom grains; a file that is not a mapping is an error rather than silently
 * ignored, because the next setval would overwrite what the operator wrote.
 */
export async function readCustomGrains(path: string): Promise<Record<string, GrainValue>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new PhoenixError(
      MinionErrors.PHX_GRAINS_FILE_UNREADABLE,
      `cannot read custom grains file ${path}: ${String(err)}`,
      {
        cause: err,
        details: { path },
      },
    );
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw invalid(path, `not valid YAML (${(err as Error).message})`, err);
  }
  if (raw === null || raw === undefined) return {};
  const parsed = CustomGrainsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at '${issue.path.join(':')}'` : '';
    throw invalid(path, `expected a mapping of grain names to values${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export async function writeCustomGrains(path: string, grains: Readonly<Record<string, GrainValue>>): Promise<void> {
  const body = Object.keys(grains).length === 0 ? '{}\n' : stringify(grains);
  await writeFileAtomic(path, `# Custom grains, written by phoenix-minion (grains.setval / grains.delval).\n${body}`);
}

function invalid(path: string, reason: string, cause?: unknown): PhoenixError {
  return new PhoenixError(
    MinionErrors.PHX_GRAINS_FILE_INVALID,
    `custom grains file ${path} is ${reason}; fix or remove it`,
    {
      cause,
      details: { path },
    },
  );
}
