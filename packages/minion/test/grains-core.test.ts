import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coreGrains, gatherCoreGrains, osGrains, parseOsRelease, readHostFacts } from '../src/grains/index.js';
import type { HostFacts } from '../src/grains/index.js';

const UBUNTU = `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
# a comment
UBUNTU_CODENAME=jammy
`;

const facts = (overrides: Partial<HostFacts> = {}): HostFacts => ({
  kernel: 'Linux',
  kernelRelease: '6.1.0-18-amd64',
  kernelVersion: '#1 SMP Debian 6.1.76-1',
  cpuArch: 'x86_64',
  hostname: 'web-1.example.internal',
  cpuModels: ['Intel(R) Xeon(R) Platinum 8375C', 'Intel(R) Xeon(R) Platinum 8375C'],
  parallelism: 2,
  totalMemBytes: 8 * 1024 * 1024 * 1024 + 12345,
  interfaces: {
    lo: [
      {
        address: '127.0.0.1',
        netmask: '255.0.0.0',
        family: 'IPv4',
        mac: '00:00:00:00:00:00',
        internal: true,
        cidr: '127.0.0.1/8',
      },
      {
        address: '::1',
        netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        family: 'IPv6',
        mac: '00:00:00:00:00:00',
        internal: true,
        cidr: '::1/128',
        scopeid: 0,
      },
    ],
    eth0: [
      {
        address: '10.0.1.20',
        netmask: '255.255.255.0',
        family: 'IPv4',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: '10.0.1.20/24',
      },
      {
        address: 'fe80::1',
        netmask: 'ffff:ffff:ffff:ffff::',
        family: 'IPv6',
        mac: '02:00:00:00:00:01',
        internal: false,
        cidr: 'fe80::1/64',
        scopeid: 2,
      },
    ],
  },
  osRelease: parseOsRelease(UBUNTU),
  ...overrides,
});

test('os-release is parsed with quotes, escapes and comments', () => {
  assert.deepEqual(
    parseOsRelease('A="quoted \\"x\\" \\$y"\nB=\'single\'\nC=bare\n# D=no\n  E=spaced  \nnot a line\n'),
    {
      A: 'quoted "x" $y',
      B: 'single',
      C: 'bare',
      E: 'spaced',
    },
  );
});

test('os grains follow Salt for Ubuntu, Debian, Amazon Linux, an unknown distribution and no os-release', () => {
  assert.deepEqual(osGrains('Linux', parseOsRelease(UBUNTU)), {
    os: 'Ubuntu',
    os_family: 'Debian',
    osfullname: 'Ubuntu',
    oscodename: 'jammy',
    osrelease: '22.04',
    osmajorrelease: 22,
    osfinger: 'Ubuntu-22.04',
  });
  const debian = osGrains(
    'Linux',
    parseOsRelease('NAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n'),
  );
  assert.deepEqual(
    [debian.os, debian.os_family, debian.osfinger, debian.osmajorrelease],
    ['Debian', 'Debian', 'Debian-12', 12],
  );
  const amazon = osGrains(
    'Linux',
    parseOsRelease('NAME="Amazon Linux"\nVERSION_ID="2023"\nID="amzn"\nID_LIKE="fedora"\n'),
  );
  assert.deepEqual([amazon.os, amazon.os_family, amazon.osfinger], ['Amazon', 'RedHat', 'Amazon Linux-2023']);
  const derived = osGrains('Linux', parseOsRelease('NAME="Pika OS"\nID=pika\nID_LIKE="ubuntu debian"\n'));
  assert.deepEqual([derived.os, derived.os_family, derived.osrelease], ['Pika', 'Debian', undefined]);
  assert.deepEqual(osGrains('Linux', undefined), { os: 'Linux', os_family: 'Linux' });
  assert.deepEqual(osGrains('Darwin', undefined), { os: 'MacOS', os_family: 'MacOS' });
});

test('core grains carry identity, host, hardware and addresses with Salt names and units', () => {
  const grains = coreGrains(facts(), { minionId: 'web-1', version: '0.1.0' });
  assert.equal(grains.id, 'web-1');
  assert.equal(grains.kernel, 'Linux');
  assert.equal(grains.kernelrelease, '6.1.0-18-amd64');
  assert.equal(grains.os, 'Ubuntu');
  assert.equal(grains.osrelease, '22.04');
  assert.deepEqual(
    [grains.nodename, grains.host, grains.domain, grains.fqdn],
    ['web-1.example.internal', 'web-1', 'example.internal', 'web-1.example.internal'],
  );
  assert.equal(grains.cpu_model, 'Intel(R) Xeon(R) Platinum 8375C');
  assert.equal(grains.num_cpus, 2);
  assert.equal(grains.mem_total, 8192, 'MiB, rounded down');
  assert.deepEqual(grains.ipv4, ['10.0.1.20', '127.0.0.1']);
  assert.deepEqual(grains.ipv6, ['::1', 'fe80::1']);
  assert.deepEqual(grains.ip4_interfaces, { lo: ['127.0.0.1'], eth0: ['10.0.1.20'] });
  assert.equal(grains.phoenixversion, '0.1.0');
  assert.equal('instance_id' in grains, false);
  assert.equal('service_name' in grains, false);
});

test('instance id and naming-convention grains are added when the group is known', () => {
  const grains = coreGrains(facts(), {
    minionId: 'i-0abc123',
    instanceId: 'i-0abc123',
    autoscalingGroupName: 'web-prod-useast1',
    version: '0.1.0',
  });
  assert.equal(grains.instance_id, 'i-0abc123');
  assert.equal(grains.service_name, 'web');
  assert.equal(grains.service_instance, 'prod');
  assert.equal(grains.region, 'useast1');
  assert.equal(grains.cluster_name, 'web-prod-useast1');
  assert.equal(grains.service_node, 'web-prod-useast1-0abc123');
  assert.equal(grains.id, 'i-0abc123');
  const unconventional = coreGrains(facts(), { minionId: 'm', autoscalingGroupName: 'justonename', version: '0' });
  assert.equal('service_name' in unconventional, false, 'a group outside the convention adds no naming grains');
});

test('missing facts are absent grains, not errors', () => {
  const grains = coreGrains(facts({ cpuModels: [], parallelism: 4, osRelease: undefined, interfaces: {} }), {
    minionId: 'bare',
    version: '0',
  });
  assert.equal('cpu_model' in grains, false);
  assert.equal(grains.num_cpus, 4);
  assert.equal(grains.os, 'Linux');
  assert.equal('osrelease' in grains, false);
  assert.deepEqual(grains.ipv4, []);
});

test('gathering on this host gives the core grains, and a missing os-release is no failure', async () => {
  const grains = await gatherCoreGrains({ minionId: 'here', version: '0.1.0' });
  for (const key of [
    'id',
    'os',
    'os_family',
    'kernel',
    'kernelrelease',
    'nodename',
    'host',
    'fqdn',
    'num_cpus',
    'mem_total',
    'ipv4',
    'ipv6',
    'phoenixversion',
  ]) {
    assert.ok(key in grains, `grain ${key}`);
  }
  assert.ok((grains.ipv4 as string[]).includes('127.0.0.1'));
  assert.ok((grains.mem_total as number) > 0);
  const noRelease = await readHostFacts(['/nonexistent/os-release']);
  assert.equal(noRelease.osRelease, undefined);
});
