import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { MasterRecord } from '@phoenix/store';
import { locatePhoenixBinaries } from '../src/local/binaries.js';
import { apiUrl, masterConfig, minionConfig } from '../src/local/instance-config.js';

const master = (id: string, host: string, api: number): MasterRecord => ({
  masterId: id,
  host,
  ports: { enrol: api + 1, minion: api + 2, peer: 0, api },
  status: 'active',
  heartbeatAt: 0,
  startedAt: 0,
  version: '0.1.0',
  minionCount: 0,
  expiresAt: 0,
});

test('a local master listens on loopback only, on free ports, and knows the admin token only by its hash', () => {
  const config = masterConfig({
    instanceId: 'i-0123456789abcdef0',
    dir: '/home/u/.phoenix/local/instances/i-0123456789abcdef0',
    aws: { region: 'us-east-1', endpoints: { dynamodb: 'http://127.0.0.1:1' } },
    tablePrefix: 'phoenix',
    adminTokenSha256: 'a'.repeat(64),
    stateTree: { fileRoot: '/home/u/.phoenix/local/srv/salt', pillarRoot: '/home/u/.phoenix/local/srv/pillar' },
    reactor: {
      queueUrl: 'http://127.0.0.1:2/000000000000/phoenix-lifecycle',
      groups: { masters: 'phoenix-master-devstack', minions: 'demo-web-devstack' },
      certificatePem: '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
      accountId: '000000000000',
      region: 'us-east-1',
    },
  });
  assert.equal(config.id, 'i-0123456789abcdef0');
  assert.equal(config.bind, '127.0.0.1');
  assert.deepEqual(config.ports, { enrol: 0, minion: 0, peer: 0, api: 0 });
  assert.equal(config.pkiDir, '/home/u/.phoenix/local/instances/i-0123456789abcdef0/pki');
  assert.deepEqual(config.api, { tokens: [{ name: 'local-admin', role: 'admin', sha256: 'a'.repeat(64) }] });
  const reactor = config.reactor as { groups: Record<string, { role: string }>; attestation: { enabled: boolean } };
  assert.deepEqual(reactor.groups, {
    // The devstack's masters' launching hook: each master completes its own once it serves.
    'phoenix-master-devstack': { role: 'masters', launchingHook: 'phoenix-master-devstack-launching' },
    // The grains user data writes on the minions, vouched for by the group (pillar, -G role:web).
    'demo-web-devstack': { role: 'minions', grains: { role: 'web' } },
  });
  assert.equal(reactor.attestation.enabled, true, 'the local cluster accepts only attested instances');
  assert.deepEqual(
    [config.fileRoots, config.pillarRoots],
    [{ base: ['/home/u/.phoenix/local/srv/salt'] }, { base: ['/home/u/.phoenix/local/srv/pillar'] }],
    'every local master serves the one shared tree',
  );
});

test('a local minion is named after its instance, carries its group and identity, and knows the live masters', () => {
  const identity = { document: '{"instanceId":"i-0123456789abcdef0"}', signature: 'c2ln' };
  const config = minionConfig({
    instanceId: 'i-0123456789abcdef0',
    groupName: 'demo-web-devstack',
    dir: '/d',
    identity,
    clusterPublicKey: 'k'.repeat(40),
    masters: [master('m-1', '127.0.0.1', 5000)],
    aws: { region: 'us-east-1', endpoints: { dynamodb: 'http://127.0.0.1:1' } },
    tablePrefix: 'phoenix',
  });
  assert.equal(config.id, 'i-0123456789abcdef0');
  assert.equal(config.instanceId, 'i-0123456789abcdef0');
  assert.equal(config.autoscalingGroup, 'demo-web-devstack');
  assert.deepEqual(config.identityDocument, identity);
  assert.deepEqual(config.masters, [{ id: 'm-1', host: '127.0.0.1', port: 5002, enrolPort: 5001 }]);
  assert.deepEqual(config.imds, { enabled: false });
  assert.equal(config.pkiDir, '/d/pki');
  assert.equal(config.cacheDir, '/d/cache');
});

test('API URLs bracket IPv6 hosts', () => {
  assert.equal(apiUrl(master('m', '127.0.0.1', 8080)), 'http://127.0.0.1:8080');
  assert.equal(apiUrl(master('m', '::1', 8080)), 'http://[::1]:8080');
});

test('the master and minion programs are found from the CLI without loading them', () => {
  const { master: masterBin, minion: minionBin } = locatePhoenixBinaries();
  assert.match(masterBin, /phoenix-master\.js$/);
  assert.match(minionBin, /phoenix-minion\.js$/);
  assert.ok(existsSync(masterBin) && existsSync(minionBin));
});
