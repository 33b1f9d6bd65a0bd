import { Context, Dealer, Router, curveKeyPair } from 'zeromq';

/**
 * The bare ZeroMQ round trip Phoenix's fan-out is compared with: one ROUTER (CURVE server), N
 * DEALERs (CURVE clients, each its own key pair) in one process on one context; the router sends
 * one small message to each dealer, each answers, and the clock stops at the last answer.
 */
export async function zeromqBaseline(count: number, repeats: number, timeoutMs = 60_000): Promise<number[]> {
  const context = new Context({ maxSockets: count + 64, ioThreads: 2 });
  const server = curveKeyPair();
  const router = new Router({ context, curveServer: true, curveSecretKey: server.secretKey, linger: 0 });
  const dealers: Dealer[] = [];
  const echoes: Array<Promise<void>> = [];
  try {
    await router.bind('tcp://127.0.0.1:0');
    const endpoint = router.lastEndpoint;
    if (endpoint === null) throw new Error('the baseline router has no endpoint');
    for (let i = 0; i < count; i++) {
      const keys = curveKeyPair();
      const dealer = new Dealer({
        context,
        curveServerKey: server.publicKey,
        curvePublicKey: keys.publicKey,
        curveSecretKey: keys.secretKey,
        routingId: `d${i}`,
        linger: 0,
      });
      dealer.connect(endpoint);
      dealers.push(dealer);
    }
    // Each dealer says hello once, so the router knows every peer before the clock starts.
    await Promise.all(dealers.map((d) => d.send('hello')));
    const peers: Buffer[] = [];
    const deadline = Date.now() + timeoutMs;
    router.receiveTimeout = 1_000;
    while (peers.length < count) {
      if (Date.now() > deadline) throw new Error(`baseline: only ${peers.length} of ${count} dealers said hello`);
      try {
        const [peer] = await router.receive();
        if (peer !== undefined) peers.push(peer);
      } catch {
        // a receive timeout: try again until the deadline
      }
    }
    for (const dealer of dealers) {
      echoes.push(
        (async () => {
          for await (const [msg] of dealer) await dealer.send(msg ?? 'pong');
        })().catch(() => undefined),
      );
    }
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const start = process.hrtime.bigint();
      for (const peer of peers) await router.send([peer, 'ping']);
      let answers = 0;
      while (answers < count) {
        if (Date.now() > deadline) throw new Error(`baseline: only ${answers} of ${count} answers`);
        try {
          await router.receive();
          answers++;
        } catch {
          // a receive timeout: keep waiting until the deadline
        }
      }
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return times;
  } finally {
    for (const dealer of dealers) dealer.close();
    router.close();
    await Promise.all(echoes);
  }
}
