import { readFile } from 'node:fs/promises';
import os from 'node:os';
import type { NetworkInterfaceInfo } from 'node:os';
import { parseOsRelease } from './os-release.js';

/** Everything core grains are computed from, read once, so the computation itself stays pure. */
export interface HostFacts {
  /** `Linux`, `Darwin`, `Windows` (Node's `Windows_NT` renamed as Salt names it). */
  kernel: string;
  kernelRelease: string;
  kernelVersion: string;
  cpuArch: string;
  hostname: string;
  cpuModels: string[];
  parallelism: number;
  totalMemBytes: number;
  interfaces: Record<string, NetworkInterfaceInfo[] | undefined>;
  /** Absent where there is no os-release file (macOS, Windows, minimal containers). */
  osRelease: Record<string, string> | undefined;
}

/** os-release(5): /etc first, then the vendor copy in /usr/lib. */
export const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'] as const;

export async function readHostFacts(osReleasePaths: readonly string[] = OS_RELEASE_PATHS): Promise<HostFacts> {
  const type = os.type();
  return {
    kernel: type === 'Windows_NT' ? 'Windows' : type,
    kernelRelease: os.release(),
    kernelVersion: os.version(),
    cpuArch: os.machine(),
    hostname: os.hostname(),
    cpuModels: os.cpus().map((cpu) => cpu.model.trim()),
    parallelism: os.availableParallelism(),
    totalMemBytes: os.totalmem(),
    interfaces: os.networkInterfaces(),
    osRelease: type === 'Linux' ? await readOsRelease(osReleasePaths) : undefined,
  };
}

async function readOsRelease(paths: readonly string[]): Promise<Record<string, string> | undefined> {
  for (const path of paths) {
    try {
      return parseOsRelease(await readFile(path, 'utf8'));
    } catch {
      // absent or unreadable: try the next, and without any the os grains fall back to the kernel
    }
  }
  return undefined;
}
