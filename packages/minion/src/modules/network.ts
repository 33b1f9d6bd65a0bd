import { networkInterfaces } from 'node:os';
import type { NetworkInterfaceInfo } from 'node:os';
import { BlockList } from 'node:net';
import { z } from 'zod';
import { ExecutionError } from './errors.js';
import { defineFunction } from './define-function.js';
import type { ExecutionModule } from './types.js';

function inCidr(address: string, family: 'ipv4' | 'ipv6', cidr: string | undefined): boolean {
  if (cidr === undefined) return true;
  const [net, bits] = cidr.split('/');
  if (net === undefined || bits === undefined) throw new ExecutionError(`'${cidr}' is not a CIDR such as 10.0.0.0/8`);
  const list = new BlockList();
  try {
    list.addSubnet(net, Number(bits), net.includes(':') ? 'ipv6' : 'ipv4');
  } catch {
    throw new ExecutionError(`'${cidr}' is not a CIDR such as 10.0.0.0/8`);
  }
  return list.check(address, family);
}

const IpArgs = z.strictObject({
  interface: z.string().nullish(),
  include_loopback: z.boolean().default(false),
  cidr: z.string().nullish(),
  type: z.enum(['public', 'private']).nullish(),
});

function isPrivate(address: string): boolean {
  return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|127\.|fc|fd|fe80:)/i.test(address);
}

function addresses(family: 'IPv4' | 'IPv6', args: z.output<typeof IpArgs>): string[] {
  const found: string[] = [];
  for (const [name, infos] of Object.entries(networkInterfaces())) {
    if (args.interface != null && name !== args.interface) continue;
    for (const info of infos ?? []) {
      if (info.family !== family) continue;
      if (info.internal && !args.include_loopback) continue;
      if (!inCidr(info.address, family === 'IPv4' ? 'ipv4' : 'ipv6', args.cidr ?? undefined)) continue;
      if (args.type === 'private' && !isPrivate(info.address)) continue;
      if (args.type === 'public' && isPrivate(info.address)) continue;
      found.push(info.address);
    }
  }
  return [...new Set(found)].sort();
}

/** Salt's interfaces() shape: {eth0: {hwaddr, up, inet: [{address, netmask, broadcast, label}], inet6: [...]}}. */
function describe(name: string, infos: readonly NetworkInterfaceInfo[]): Record<string, unknown> {
  const inet = infos
    .filter((info) => info.family === 'IPv4')
    .map((info) => {
      const mask = info.netmask.split('.').map(Number);
      const ip = info.address.split('.').map(Number);
      const broadcast = ip.map((octet, i) => (octet & (mask[i] ?? 0)) | (~(mask[i] ?? 0) & 255)).join('.');
      return { address: info.address, netmask: info.netmask, broadcast, label: name };
    });
  const inet6 = infos
    .filter((info) => info.family === 'IPv6')
    .map((info) => ({
      address: info.address,
      prefixlen: info.cidr?.split('/')[1] ?? '',
      scope: info.scopeid === 0 ? 'global' : 'link',
    }));
  return {
    hwaddr: infos[0]?.mac ?? '00:00:00:00:00:00',
    up: true,
    ...(inet.length ? { inet } : {}),
    ...(inet6.length ? { inet6 } : {}),
  };
}

/** Salt's network module, the part about this host's addresses. */
export const networkModule: ExecutionModule = Object.freeze({
  name: 'network',
  functions: Object.freeze({
    ip_addrs: defineFunction({
      doc: "Returns this host's IPv4 addresses (not loopback unless include_loopback=True).\n\ninterface: only this one\ncidr: only addresses in this subnet\ntype: public or private\n\nCLI Example: phoenix run '*' network.ip_addrs cidr=10.0.0.0/8",
      schema: IpArgs,
      run: (args) => addresses('IPv4', args),
    }),
    ip_addrs6: defineFunction({
      doc: "Returns this host's IPv6 addresses.\n\nCLI Example: phoenix run '*' network.ip_addrs6",
      schema: IpArgs,
      run: (args) => addresses('IPv6', args),
    }),
    interfaces: defineFunction({
      doc: "Returns this host's network interfaces with their addresses.\n\nCLI Example: phoenix run '*' network.interfaces",
      schema: z.strictObject({}),
      run: () =>
        Object.fromEntries(
          Object.entries(networkInterfaces()).map(([name, infos]) => [name, describe(name, infos ?? [])]),
        ),
    }),
    hw_addr: defineFunction({
      doc: "Returns the MAC address of an interface.\n\nCLI Example: phoenix run '*' network.hw_addr eth0",
      schema: z.strictObject({ iface: z.string().min(1) }),
      run: ({ iface }) => {
        const infos = networkInterfaces()[iface];
        if (!infos || infos.length === 0) throw new ExecutionError(`Interface "${iface}" not in available interfaces`);
        return infos[0]?.mac;
      },
    }),
  }),
});
