import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { curveKeyPair } from 'zeromq';
import { keyFingerprint } from '@phoenix/protocol';
import type { Store } from '@phoenix/store';
import { KeyRegistry } from '../src/keys.js';
import { startLocalStore } from './local-store.js';

// A master's cache of accepted keys (what its ZAP handler admits), over one real (local) DynamoDB:
// a refresh reads the whole table, and a key changed on this master while that read is under way
// must keep its change, not the read's older view.

let local: Awaited<ReturnType<typeof startLocalStore>>;
let store: Store;
before(async () => {
  local = await startLocalStore('key-registry-test');
  store = local.store;
});
after(() => local.close());

/** A registry whose refreshes get the table's answer only once `release` is called (a slow table). */
function withSlowRefresh(): { keys: KeyRegistry; release: () => void; read: Promise<void> } {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let wasRead = (): void => undefined;
  const read = new Promise<void>((resolve) => (wasRead = resolve));
  const slowList: Store['minions']['listByKeyState'] = async (...args) => {
    const page = await store.minions.listByKeyState(...args);
    wasRead();
    await held;
    return page;
  };
  // The real table, its reads of key states answered late.
  const minions = new Proxy(store.minions, {
    get(target, prop) {
      if (prop === 'listByKeyState') return slowList;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const slow = new Proxy(store, { get: (target, prop) => (prop === 'minions' ? minions : Reflect.get(target, prop)) });
  const keys = new KeyRegistry(slow, curveKeyPair().secretKey, pino({ level: 'silent' }), { maxPendingKeys: 100 });
  return { keys, release, read };
}

async function pendingKey(minionId: string): Promise<string> {
  const { publicKey } = curveKeyPair();
  await store.minions.registerKey(minionId, { publicKey, fingerprint: keyFingerprint(publicKey) });
  return publicKey;
}

test('a key rejected while a refresh reads the table stays refused after it', async () => {
  const publicKey = await pendingKey('m-rejected');
  const { keys, release, read } = withSlowRefresh();
  await keys.apply('accept', 'm-rejected');
  assert.equal(keys.isAcceptedPublicKey(publicKey), true);
  const refresh = keys.refresh();
  await read; // the read saw the key accepted
  await keys.apply('reject', 'm-rejected', true);
  assert.equal(keys.isAcceptedPublicKey(publicKey), false);
  release();
  await refresh;
  assert.equal(keys.isAcceptedPublicKey(publicKey), false, 'the refresh let a rejected key in again');
});

test('a key accepted while a refresh reads the table stays accepted after it', async () => {
  const publicKey = await pendingKey('m-accepted');
  const { keys, release, read } = withSlowRefresh();
  const refresh = keys.refresh();
  await read; // the read saw the key pending
  await keys.apply('accept', 'm-accepted');
  assert.equal(keys.isAcceptedPublicKey(publicKey), true);
  release();
  await refresh;
  assert.equal(keys.isAcceptedPublicKey(publicKey), true, 'the refresh forgot a key accepted during it');
  // The next refresh, with nothing changing meanwhile, agrees with the table.
  const again = withSlowRefresh();
  const next = again.keys.refresh();
  again.release();
  await next;
  assert.equal(again.keys.isAcceptedPublicKey(publicKey), true);
});

test("a peer's report of an accepted key, still checking the table, does not hide the key from a refresh that read it", async () => {
  const publicKey = await pendingKey('m-peer');
  // Accepted on another master: the table says so, and its report reaches this one.
  await store.minions.acceptUncontested('m-peer', Date.now(), 'other-master');
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const slowGet: Store['minions']['get'] = async (...args) => {
    await held;
    return store.minions.get(...args);
  };
  const minions = new Proxy(store.minions, {
    get(target, prop) {
      if (prop === 'get') return slowGet;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const slow = new Proxy(store, { get: (target, prop) => (prop === 'minions' ? minions : Reflect.get(target, prop)) });
  const keys = new KeyRegistry(slow, curveKeyPair().secretKey, pino({ level: 'silent' }), { maxPendingKeys: 100 });
  // The report arrives while a refresh reads the table (a refused knock started it).
  const refreshing = keys.refresh();
  const report = keys.applyChange({ minionId: 'm-peer', to: 'accepted' }, false);
  await refreshing;
  assert.equal(keys.isAcceptedPublicKey(publicKey), true, 'the refresh left out a key it read as accepted');
  release();
  await report;
  assert.equal(keys.isAcceptedPublicKey(publicKey), true);
});
