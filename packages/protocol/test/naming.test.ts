import { test } from 'node:test';
import assert from 'node:assert/strict';
import { namingGrains } from '../src/naming.js';

test('a group named service-service_instance-region gives all naming grains, with the instance id', () => {
  assert.deepEqual(namingGrains('web-prod-useast1', 'i-0abc123def4567890'), {
    service_name: 'web',
    service_instance: 'prod',
    region: 'useast1',
    service_group: 'web-prod',
    cluster_name: 'web-prod-useast1',
    service_node: 'web-prod-useast1-0abc123def4567890',
  });
});

test('the devstack group name follows the same rule', () => {
  assert.deepEqual(namingGrains('demo-web-devstack', 'i-00000001'), {
    service_name: 'demo',
    service_instance: 'web',
    region: 'devstack',
    service_group: 'demo-web',
    cluster_name: 'demo-web-devstack',
    service_node: 'demo-web-devstack-00000001',
  });
});

test('without an instance id there is no service_node, and everything else is the same', () => {
  const grains = namingGrains('web-prod-useast1');
  assert.deepEqual(grains, {
    service_name: 'web',
    service_instance: 'prod',
    region: 'useast1',
    service_group: 'web-prod',
    cluster_name: 'web-prod-useast1',
  });
  assert.equal(grains !== undefined && 'service_node' in grains, false);
});

test('a region with hyphens (an AWS region name) is everything after the second part', () => {
  const grains = namingGrains('web-prod-us-east-1', 'i-0abc');
  assert.equal(grains?.service_name, 'web');
  assert.equal(grains?.service_instance, 'prod');
  assert.equal(grains?.region, 'us-east-1');
  assert.equal(grains?.cluster_name, 'web-prod-us-east-1');
  assert.equal(grains?.service_node, 'web-prod-us-east-1-0abc');
});

test('parts may hold underscores, digits and capitals; case is kept', () => {
  const grains = namingGrains('user_api-prod2-eu_west_1', 'i-1');
  assert.equal(grains?.service_name, 'user_api');
  assert.equal(grains?.service_instance, 'prod2');
  assert.equal(grains?.region, 'eu_west_1');
  assert.equal(grains?.service_group, 'user_api-prod2');
  assert.equal(namingGrains('2fa-Blue-apne1')?.service_instance, 'Blue');
});

test('an instance id without the "i-" prefix is used as it is', () => {
  assert.equal(namingGrains('web-prod-useast1', 'vm42')?.service_node, 'web-prod-useast1-vm42');
});

test('a name that does not follow the convention gives undefined, not an error', () => {
  for (const name of [
    '',
    'web',
    'web-prod',
    '-web-prod',
    'web-prod-',
    'web--useast1',
    'web-prod--useast1',
    'web prod-x-y',
    'web.prod-x-useast1',
    'web-prod-use@st1',
    'web-prod-useast1\n',
    'wéb-prod-useast1',
    `web-prod-${'x'.repeat(250)}`,
  ]) {
    assert.equal(namingGrains(name), undefined, JSON.stringify(name));
  }
  assert.equal(namingGrains(undefined as unknown as string), undefined);
});

test('an instance id that is not one gives undefined, rather than a wrong service_node', () => {
  for (const instanceId of ['', 'i-', 'i-0abc/..', 'i-0abc def', 'i-i-0abc', '-0abc']) {
    assert.equal(namingGrains('web-prod-useast1', instanceId), undefined, JSON.stringify(instanceId));
  }
});
