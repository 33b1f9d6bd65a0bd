import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import {
  decodeMasterMessage,
  encodeMessage,
  generateCurveKeyPair,
  keyFingerprint,
  messageKey,
  signMessage,
  type CurveKeyPair,
  type MasterMessage,
  type MinionMessage,
} from '@phoenix/protocol';
import type { LaunchRequest } from '@phoenix/devstack';
import { stopProcess, useDevstack, useProcesses, useTempDir, waitFor } from '@phoenix/devstack/testing';
import { json, phoenix } from './lib/cli.js';
import { ADMIN_TOKEN, startMasterProcess, startMinionProcess, type RunningMaster } from './lib/cluster.js';

// Attacks on auto-accept, against a real master, the devstack's auto-scaling simulator and SQS:
// a hostile client that learns a launching instance's id from the event stream (a read token)
// and enrols it first, with the instance's signed identity document (replay) or without
// (squatting). The simulated instance's real minion is started by the test, a moment later.

const GROUP = 'demo-web-devstack';
const HOOK_TIMEOUT_SECONDS = 3;
const READ_TOKEN = 'phoenix-attack-read-token';
const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Launches: the request (what the metadata service would serve) is kept; the minion starts when told. */
const launches: LaunchRequest[] = [];
const running = new Map<string, ChildProcess>();
const devstack = useDevstack(
  { hookTimeoutSeconds: HOOK_TIMEOUT_SECONDS, groups: { minions: { name: GROUP, desired: 0 } } },
  {
    launcher: () => ({
      launch: async (request) => {
        launches.push(request);
        return { stop: () => stopRealMinion(request.instanceId) };
      },
    }),
  },
);
async function stopRealMinion(instanceId: string): Promise<void> {
  const child = running.get(instanceId);
  if (child !== undefined) await stopProcess(child);
}
const dir = useTempDir();
const processes = useProcesses();
let master: RunningMaster;
const env = (): NodeJS.ProcessEnv => ({ PHOENIX_API: master.api, PHOENIX_TOKEN: ADMIN_TOKEN });

interface Event {
  tag: string;
  data: Record<string, unknown>;
}
const seen: Event[] = [];

/** A read token's view of the cluster: every event on the master's stream. */
async function watchEvents(signal: AbortSignal): Promise<void> {
  const response = await fetch(`${master.api}/api/v1/events`, {
    headers: { authorization: `Bearer ${READ_TOKEN}` },
    signal,
  });
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
      buffer = buffer.slice(end + 2);
      if (data !== undefined) seen.push(JSON.parse(data) as Event);
    }
  }
}
const watching = new AbortController();

/** The next instance the group launches, as the attacker learns of it: from `lifecycle/launching`. */
async function nextLaunch(count: number): Promise<{ instanceId: string; request: LaunchRequest }> {
  devstack().simulator.setDesiredCapacity(GROUP, count);
  return waitFor(
    () => {
      const event = seen.filter((e) => e.tag === 'lifecycle/launching')[count - 1];
      const request = launches.find((l) => l.instanceId === event?.data.minionId);
      return event === undefined || request === undefined ? undefined : { instanceId: request.instanceId, request };
    },
    { what: `launch number ${count} in the event stream`, timeoutMs: 20_000 },
  );
}

interface Attacker {
  keyPair: CurveKeyPair;
  /** The enrolment's last answer. */
  answer: MasterMessage | undefined;
  /** Whatever the master sent it on the minion port, if it got that far. */
  received: MasterMessage[];
  close(): void;
}

/**
 * A hostile client on the real wire protocol: enrols `minionId` with a key of its own (and the
 * instance's identity document, when it has one, answering any challenge the master sets), and if
 * accepted says hello on the minion port and asks for the minion's pillar.
 */
async function attack(minionId: string, identity?: { document: string; signature: string }): Promise<Attacker> {
  const keyPair = generateCurveKeyPair();
  const key = messageKey(keyPair.secretKey, devstack().clusterKeys.publicKey);
  const socket = (port: number): Dealer => {
    const dealer = new Dealer({
      curveServerKey: devstack().clusterKeys.publicKey,
      curvePublicKey: keyPair.publicKey,
      curveSecretKey: keyPair.secretKey,
      linger: 0,
      receiveTimeout: 2_000,
    });
    dealer.connect(`tcp://127.0.0.1:${port}`);
    return dealer;
  };
  const send = async (dealer: Dealer, message: MinionMessage): Promise<void> => {
    const body = encodeMessage(message);
    await dealer.send([body, signMessage(key, body)]);
  };
  const receive = async (dealer: Dealer): Promise<MasterMessage | undefined> => {
    try {
      const [frame] = await dealer.receive();
      const decoded = decodeMasterMessage(frame ?? Buffer.alloc(0));
      return decoded.ok ? decoded.message : undefined;
    } catch {
      return undefined;
    }
  };
  const enrol = socket(master.ports.enrol);
  const base = { v: 1, t: 'enrol', id: minionId, publicKey: keyPair.publicKey } as const;
  await send(enrol, identity === undefined ? base : { ...base, identity });
  let answer = await receive(enrol);
  const challenge = answer?.t === 'enrolment' ? (answer as { challenge?: string }).challenge : undefined;
  if (identity !== undefined && challenge !== undefined) {
    await send(enrol, { ...base, identity: { ...identity, challenge } } as MinionMessage);
    answer = await receive(enrol);
  }
  const received: MasterMessage[] = [];
  let closed = false;
  // It keeps knocking for as long as the test lets it, on a fresh connection each second: an
  // accepted key would get its welcome, its first highstate and its pillar here.
  const listening = (async () => {
    while (!closed) {
      const minion = socket(master.ports.minion);
      minion.sendTimeout = 500;
      minion.receiveTimeout = 1_000;
      try {
        await send(minion, { v: 1, t: 'hello', id: minionId, grains: {}, running: [] });
        await send(minion, { v: 1, t: 'pillar', id: minionId, req: 1, env: 'base' });
        for (let message = await receive(minion); message !== undefined; message = await receive(minion)) {
          if (message.t !== 'heartbeat') received.push(message);
        }
      } catch {
        // not let in: the handshake never completed, so the send timed out
      } finally {
        minion.close();
      }
    }
  })();
  return {
    keyPair,
    answer,
    received,
    close: () => {
      closed = true;
      void listening.then(() => enrol.close());
    },
  };
}

async function startRealMinion(request: LaunchRequest): Promise<string> {
  const child = await startMinionProcess(
    devstack(),
    join(dir(), 'instances'),
    processes,
    request.instanceId,
    [master],
    {
      instanceId: request.instanceId,
      autoscalingGroup: request.groupName,
      identityDocument: request.identity,
    },
  );
  running.set(request.instanceId, child);
  const publicKey = await waitFor(
    () => readFile(join(dir(), 'instances', request.instanceId, 'pki', 'minion.pub'), 'utf8').catch(() => undefined),
    { what: 'the real minion’s key', timeoutMs: 20_000 },
  );
  return keyFingerprint(publicKey.trim());
}

interface MinionView {
  keyState?: string;
  contested?: { fingerprints: string[] };
  lifecycle?: { state: string };
}
const minionView = async (id: string): Promise<MinionView> =>
  json<{ minions: MinionView[] }>(await phoenix(['minions', id, '--out', 'json'], env())).minions[0] ?? {};
const lifecycleState = (id: string): string | undefined => devstack().simulator.instance(id)?.lifecycleState;

test('a master whose reactor auto-accepts attested launches', async () => {
  const roots = join(dir(), 'srv');
  await mkdir(join(roots, 'salt'), { recursive: true });
  await mkdir(join(roots, 'pillar'), { recursive: true });
  await writeFile(join(roots, 'salt', 'top.sls'), "base:\n  '*':\n    - web\n");
  await writeFile(join(roots, 'salt', 'web.sls'), 'configured:\n  test.succeed_without_changes: []\n');
  await writeFile(join(roots, 'pillar', 'top.sls'), "base:\n  '*':\n    - secrets\n");
  await writeFile(join(roots, 'pillar', 'secrets.sls'), 'database_password: only-for-the-real-instance\n');
  master = await startMasterProcess(devstack(), dir(), processes, 'master-1', undefined, {
    api: {
      tokens: [
        { name: 'test-admin', role: 'admin', sha256: sha256(ADMIN_TOKEN) },
        { name: 'watcher', role: 'read', sha256: sha256(READ_TOKEN) },
      ],
    },
    fileRoots: { base: [join(roots, 'salt')] },
    pillarRoots: { base: [join(roots, 'pillar')] },
    reactor: {
      queueUrl: devstack().lifecycle.queueUrl,
      groups: { [GROUP]: { role: 'minions' }, [devstack().options.groups.masters.name]: { role: 'masters' } },
      waitTimeSeconds: 1,
      highstate: { leaseMs: 5_000, heartbeatMs: 1_000 },
      attestation: {
        enabled: true,
        certificate: devstack().identityCertificate,
        accountId: devstack().options.accountId,
        region: devstack().options.region,
        // Long enough for the real minion to start on a busy machine after the attacker enrolled.
        contestWindowMs: 8_000,
      },
    },
  });
  void watchEvents(watching.signal).catch(() => undefined);
  await waitFor(() => seen.length >= 0 && processes.output(master.process).includes('master ready'), {
    what: 'the event stream',
  });
});

test('replayed identity document: the attacker is not accepted, the launch is held as contested', async () => {
  const { instanceId, request } = await nextLaunch(1);
  const launching = seen.find((e) => e.tag === 'lifecycle/launching' && e.data.minionId === instanceId);
  assert.deepEqual(Object.keys(launching?.data ?? {}).sort(), ['group', 'minionId'], 'a launch event says no more');

  const attacker = await attack(instanceId, request.identity);
  try {
    assert.equal(attacker.answer?.t, 'enrolment');
    assert.notEqual((attacker.answer as { state: string }).state, 'accepted', 'the attacker is not auto-accepted');
    const real = await startRealMinion(request);
    const contested = await waitFor(
      async () => {
        const view = await minionView(instanceId);
        return view.contested !== undefined && view.contested.fingerprints.length === 2 ? view : undefined;
      },
      { what: 'the enrolment to be contested', timeoutMs: 20_000 },
    );
    assert.equal(contested.keyState, 'pending', 'neither key is accepted');
    assert.ok(contested.contested?.fingerprints.includes(real));
    assert.ok(contested.contested?.fingerprints.includes(keyFingerprint(attacker.keyPair.publicKey)));
    // Held, not abandoned: the hook outlives its heartbeat timeout twice over.
    await new Promise((resolve) => setTimeout(resolve, HOOK_TIMEOUT_SECONDS * 2_000 + 500));
    assert.equal(lifecycleState(instanceId), 'Pending:Wait', 'the lifecycle hook is held while contested');
    assert.deepEqual(attacker.received, [], 'the attacker was sent nothing: no welcome, no job, no pillar');

    // The operator accepts the right key; the normal path follows.
    const accepted = await phoenix(['keys', 'accept', instanceId, '--fingerprint', real, '--out', 'json'], env());
    assert.equal(accepted.code, 0, accepted.stderr);
    await waitFor(() => lifecycleState(instanceId) === 'InService', {
      what: 'the first highstate and CONTINUE',
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    const view = await minionView(instanceId);
    assert.equal(view.keyState, 'accepted');
    assert.equal(view.contested, undefined);
    assert.equal(
      json<{ keys: Array<{ fingerprint: string }> }>(
        await phoenix(['keys', 'list', instanceId, '--state', 'accepted', '--out', 'json'], env()),
      ).keys[0]?.fingerprint,
      real,
    );
    assert.deepEqual(attacker.received, [], 'and still nothing for the attacker');
  } finally {
    attacker.close();
  }
});

test('a document replayed once the instance is in service is refused: it is no longer Pending', async () => {
  const request = launches[0] as LaunchRequest;
  const id = request.instanceId;
  await stopRealMinion(id);
  assert.equal((await phoenix(['keys', 'delete', id], env())).code, 0);
  const attacker = await attack(id, request.identity);
  try {
    const refused = await waitFor(
      () =>
        seen.find(
          (e) => e.tag === 'key/refused' && e.data.minionId === id && /Pending|InService/.test(String(e.data.reason)),
        ),
      { what: 'the late replay to be refused', timeoutMs: 20_000 },
    );
    assert.match(String(refused.data.reason), /InService/);
    assert.equal((await minionView(id)).keyState, 'pending');
    assert.deepEqual(attacker.received, []);
  } finally {
    attacker.close();
  }
});

test('launch squatting: a claim without a document holds the launch for an operator, never ABANDON', async () => {
  const { instanceId, request } = await nextLaunch(2);
  const squatter = await attack(instanceId);
  try {
    assert.equal((squatter.answer as { state?: string } | undefined)?.state, 'pending');
    const real = await startRealMinion(request);
    await waitFor(async () => (await minionView(instanceId)).contested?.fingerprints.length === 2, {
      what: 'the real minion’s enrolment to be recorded as contested, not denied',
      timeoutMs: 20_000,
    });
    await new Promise((resolve) => setTimeout(resolve, HOOK_TIMEOUT_SECONDS * 2_000 + 500));
    assert.equal(lifecycleState(instanceId), 'Pending:Wait', 'held past its heartbeat timeout, not abandoned');
    const refused = await phoenix(['keys', 'accept', instanceId], env());
    assert.notEqual(refused.code, 0, 'a contested id is accepted only with a chosen fingerprint');
    assert.match(refused.stderr, /fingerprint/);
    assert.equal((await phoenix(['keys', 'accept', instanceId, '--fingerprint', real], env())).code, 0);
    await waitFor(() => lifecycleState(instanceId) === 'InService', {
      what: 'the squatted instance to go into service',
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    assert.deepEqual(squatter.received, []);
    assert.equal((await fetch(`${master.api}/healthz`)).status, 200, 'the master keeps answering');
  } finally {
    squatter.close();
    watching.abort();
  }
});
