import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Context, Router } from 'zeromq';
import pino from 'pino';
import {
  decodeMinionMessage,
  encodeMessage,
  generateCurveKeyPair,
  ManualClock,
  messageKey,
  systemClock,
  NONCE_BYTES,
  WIRE_VERSION,
  type MasterMessage,
  type MinionMessage,
} from '@phoenix/protocol';
import { MasterSession } from '../src/connection/session.js';
import type { SocketSettings } from '../src/connection/master-socket.js';

// How a session tells a dead master from a silent one, against a real ZeroMQ router on loopback
// that plays the master's side of the handshake (knock, challenge, hello, welcome, heartbeats).

const HEARTBEAT_MS = 100;
const cluster = generateCurveKeyPair();
const minionKeys = generateCurveKeyPair();
const settings: SocketSettings = {
  clusterPublicKey: cluster.publicKey,
  keyPair: minionKeys,
  messageKey: messageKey(minionKeys.secretKey, cluster.publicKey),
  log: pino({ level: 'silent' }),
  clock: systemClock,
};
const hello: Extract<MinionMessage, { t: 'hello' }> = {
  v: WIRE_VERSION,
  t: 'hello',
  id: 'web-1',
  grains: {},
  running: [],
};

/** A master's minion port that welcomes one minion and heartbeats it until told to stop. */
async function fakeMaster(
  options: { holdWelcome?: boolean; refuseKeys?: boolean } = {},
): Promise<{ port: number; silence(): void; welcome(): void; close(): void }> {
  // A door (ZAP handler, in the router's own context) that refuses every key, as a master's does a key it does not accept.
  const context = options.refuseKeys === true ? new Context() : undefined;
  const door = context === undefined ? undefined : new Router({ context, linger: 0 });
  if (door !== undefined) {
    await door.bind('inproc://zeromq.zap.01');
    void (async () => {
      try {
        for await (const [route, empty, , requestId] of door)
          void door.send([route ?? '', empty ?? '', '1.0', requestId ?? '', '400', 'Denied', '', '']);
      } catch {
        // closed
      }
    })();
  }
  const router = new Router({
    ...(context === undefined ? {} : { context }),
    curveServer: true,
    curveSecretKey: cluster.secretKey,
    linger: 0,
  });
  await router.bind('tcp://127.0.0.1:*');
  const port = Number(/:(\d+)$/.exec(router.lastEndpoint ?? '')?.[1]);
  let beating: NodeJS.Timeout | undefined;
  let held: (() => void) | undefined;
  const send = (route: Buffer, message: MasterMessage): void => void router.send([route, encodeMessage(message)]);
  void (async () => {
    try {
      for await (const [route, body] of router) {
        if (route === undefined || body === undefined) continue;
        const decoded = decodeMinionMessage(body);
        if (!decoded.ok) continue;
        if (decoded.message.t === 'knock')
          send(route, { v: WIRE_VERSION, t: 'challenge', nonce: randomBytes(NONCE_BYTES) });
        if (decoded.message.t === 'hello') {
          const welcome = (): void => {
            send(route, { v: WIRE_VERSION, t: 'welcome', masterId: 'm1', heartbeatMs: HEARTBEAT_MS });
            beating = setInterval(() => send(route, { v: WIRE_VERSION, t: 'heartbeat', at: Date.now() }), HEARTBEAT_MS);
          };
          if (options.holdWelcome === true) held = welcome;
          else welcome();
        }
      }
    } catch {
      // closed
    }
  })();
  return {
    port,
    silence: () => clearInterval(beating),
    welcome: () => held?.(),
    close: () => {
      clearInterval(beating);
      router.close();
      door?.close();
    },
  };
}

const address = (port: number) => ({ id: 'm1', host: '127.0.0.1', port, enrolPort: port });

test('a master whose socket goes away is gone; one that stops talking but stays connected is silent', async () => {
  for (const ending of ['gone', 'silent'] as const) {
    const master = await fakeMaster();
    const session = new MasterSession(settings, address(master.port), {
      heartbeatMs: HEARTBEAT_MS,
      // A second of silence allowed: a loaded machine may hold a heartbeat back for several intervals.
      missedHeartbeats: 10,
    });
    try {
      const welcome = await session.open(hello);
      assert.equal(typeof welcome === 'string' ? welcome : welcome.t, 'welcome');
      assert.equal((await session.next()) instanceof Object, true, 'heartbeats arrive');
      if (ending === 'gone') master.close();
      else master.silence();
      let end: unknown;
      for (let i = 0; i < 100 && typeof end !== 'string'; i++) end = await session.next();
      assert.equal(end, ending);
    } finally {
      session.close();
      master.close();
    }
  }
});

test('nothing listening where the master was: the session is gone, not waited out', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  // A long allowance of silence: only the refused port can end it early.
  const session = new MasterSession(settings, address(port), { heartbeatMs: HEARTBEAT_MS, missedHeartbeats: 1_000 });
  try {
    assert.equal(await session.open(hello), 'gone');
  } finally {
    session.close();
  }
});

test('a session closed on this side says so', async () => {
  const master = await fakeMaster();
  const session = new MasterSession(settings, address(master.port), { heartbeatMs: HEARTBEAT_MS, missedHeartbeats: 3 });
  try {
    await session.open(hello);
    const next = session.next();
    session.close();
    assert.equal(await next, 'closed');
  } finally {
    master.close();
  }
});

/** Whether `promise` settles within `ms` of real time (for what must not happen while a clock stands still). */
async function settlesWithin<T>(promise: Promise<T>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true as const), late]);
  clearTimeout(timer);
  return settled;
}

test('silence is judged on the session clock: a quiet master is silent when that clock says so, not the wall', async () => {
  const master = await fakeMaster();
  const clock = new ManualClock();
  const session = new MasterSession({ ...settings, clock }, address(master.port), {
    heartbeatMs: HEARTBEAT_MS,
    missedHeartbeats: 3,
  });
  try {
    const welcome = await session.open(hello);
    assert.equal(typeof welcome === 'string' ? welcome : welcome.t, 'welcome');
    master.silence();
    // Drain what was already sent, so the next() below is the one that waits through the silence.
    let next = session.next();
    while (await settlesWithin(next, HEARTBEAT_MS * 2)) next = session.next();
    // Four allowances of wall time pass while the clock stands: the master is not silent yet.
    assert.equal(await settlesWithin(next, session.silentAfterMs * 4), false);
    clock.advance(session.silentAfterMs - 1);
    assert.equal(await settlesWithin(next, HEARTBEAT_MS * 3), false, 'one millisecond short of the allowance');
    clock.advance(1);
    assert.equal(await next, 'silent');
  } finally {
    session.close();
    master.close();
  }
});

test('a session opened with more patience waits that long for a slow welcome; by default it is silent sooner', async () => {
  for (const patient of [true, false]) {
    const master = await fakeMaster({ holdWelcome: true });
    const clock = new ManualClock();
    const session = new MasterSession({ ...settings, clock }, address(master.port), {
      heartbeatMs: HEARTBEAT_MS,
      missedHeartbeats: 3,
    });
    try {
      const opened = patient ? session.open(hello, session.silentAfterMs * 3) : session.open(hello);
      // Past the allowance of silence, short of three times it, on the session's clock.
      assert.equal(await settlesWithin(opened, HEARTBEAT_MS * 3), false, 'the master holds its welcome');
      clock.advance(session.silentAfterMs * 2);
      if (patient) {
        assert.equal(await settlesWithin(opened, HEARTBEAT_MS * 3), false, 'still waiting');
        master.welcome();
        const welcome = await opened;
        assert.equal(typeof welcome === 'string' ? welcome : welcome.t, 'welcome');
      } else {
        assert.equal(await opened, 'silent');
      }
    } finally {
      session.close();
      master.close();
    }
  }
});

test('a master silent after the handshake admitted this minion says nothing against its key; one whose door refused it never admitted it', async () => {
  for (const refuseKeys of [false, true]) {
    const master = await fakeMaster({ holdWelcome: true, refuseKeys });
    const session = new MasterSession(settings, address(master.port), {
      heartbeatMs: HEARTBEAT_MS,
      missedHeartbeats: 3,
    });
    try {
      assert.equal(await session.open(hello), 'silent');
      assert.equal(session.admitted, !refuseKeys, refuseKeys ? 'refused at the door' : 'let in, then no welcome');
    } finally {
      session.close();
      master.close();
    }
  }
});

test('a master that let this minion in gets the longer patience to welcome it; one whose door refused it only the short one', async () => {
  for (const refuseKeys of [false, true]) {
    const master = await fakeMaster({ holdWelcome: true, refuseKeys });
    const clock = new ManualClock();
    const session = new MasterSession({ ...settings, clock }, address(master.port), {
      heartbeatMs: HEARTBEAT_MS,
      missedHeartbeats: 3,
    });
    try {
      const opened = session.open(hello, session.silentAfterMs, session.silentAfterMs * 3);
      // Past the short patience, short of the long one, on the session's clock.
      clock.advance(session.silentAfterMs * 2);
      if (refuseKeys) {
        assert.equal(await opened, 'silent');
        assert.equal(session.admitted, false);
      } else {
        assert.equal(await settlesWithin(opened, HEARTBEAT_MS * 3), false, 'still waiting for a busy master');
        master.welcome();
        const welcome = await opened;
        assert.equal(typeof welcome === 'string' ? welcome : welcome.t, 'welcome');
      }
    } finally {
      session.close();
      master.close();
    }
  }
});
