import { namingGrains } from '@phoenix/protocol';
import { readHostFacts } from './host-facts.js';
import type { HostFacts } from './host-facts.js';
import { osGrains } from './os-release.js';

/** Who the minion is; the rest of the core grains describe the host it runs on. */
export interface MinionIdentity {
  minionId: string;
  /** The EC2 instance id, when the minion runs on one. */
  instanceId?: string;
  /** The auto-scaling group the instance belongs to; its name carries the naming-convention grains. */
  autoscalingGroupName?: string;
  /** Phoenix's version, reported as the `phoenixversion` grain. */
  version: string;
}

/** Gathers the host facts and computes the core grains; called once at minion start. */
export async function gatherCoreGrains(identity: MinionIdentity): Promise<Record<string, unknown>> {
  return coreGrains(await readHostFacts(), identity);
}

/** Pure: the core grains of a host, with Salt's names and units (mem_total in MiB). */
export function coreGrains(facts: HostFacts, identity: MinionIdentity): Record<string, unknown> {
  const [host = facts.hostname, ...domain] = facts.hostname.split('.');
  const grains: Record<string, unknown> = {
    ...osGrains(facts.kernel, facts.osRelease),
    id: identity.minionId,
    kernel: facts.kernel,
    kernelrelease: facts.kernelRelease,
    kernelversion: facts.kernelVersion,
    cpuarch: facts.cpuArch,
    nodename: facts.hostname,
    localhost: facts.hostname,
    host,
    domain: domain.join('.'),
    // Salt resolves the FQDN through DNS; a minion start must not wait on a resolver, so the
    // hostname stands in (it is already fully qualified on EC2 and most servers).
    fqdn: facts.hostname,
    num_cpus: facts.cpuModels.length > 0 ? facts.cpuModels.length : facts.parallelism,
    mem_total: Math.floor(facts.totalMemBytes / (1024 * 1024)),
    ...addressGrains(facts.interfaces),
    phoenixversion: identity.version,
  };
  if (facts.cpuModels[0]) grains.cpu_model = facts.cpuModels[0];
  if (identity.instanceId !== undefined) grains.instance_id = identity.instanceId;
  if (identity.autoscalingGroupName !== undefined) {
    // Core grains above win over a convention grain of the same name: `id` must stay the minion id.
    return { ...namingGrains(identity.autoscalingGroupName, identity.instanceId), ...grains };
  }
  return grains;
}

type Interfaces = HostFacts['interfaces'];

/** ipv4/ipv6 (every address, loopback included, as Salt lists them) and per-interface maps. */
function addressGrains(interfaces: Interfaces): Record<string, unknown> {
  const ipv4 = new Set<string>();
  const ipv6 = new Set<string>();
  const ip4Interfaces: Record<string, string[]> = {};
  const ip6Interfaces: Record<string, string[]> = {};
  for (const [name, addresses] of Object.entries(interfaces)) {
    ip4Interfaces[name] = [];
    ip6Interfaces[name] = [];
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4') {
        ipv4.add(address.address);
        ip4Interfaces[name].push(address.address);
      } else {
        ipv6.add(address.address);
        ip6Interfaces[name].push(address.address);
      }
    }
  }
  return {
    ipv4: [...ipv4].sort(),
    ipv6: [...ipv6].sort(),
    ip4_interfaces: ip4Interfaces,
    ip6_interfaces: ip6Interfaces,
  };
}
