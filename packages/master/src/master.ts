import { hostname } from 'node:os';
import { Context } from 'zeromq';
import pino, { type Logger } from 'pino';
import { readFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { OwnLaunch } from './reactor/own-launch.js';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  awsClientConfig,
  PhoenixError,
  startComponents,
  stateRunsDisabled,
  WIRE_VERSION,
  type Component,
  type MasterEndpoint,
  type MasterMessage,
} from '@phoenix/protocol';
import { isLive, Store, type MasterRecord, type ReadCount } from '@phoenix/store';
import { RenderProcess } from '@phoenix/state';
import { buildApi } from './api/server.js';
import { TokenRegistry } from './api/token-registry.js';
import { readClusterKeys } from './cluster-keys.js';
import type { MasterConfig } from './config.js';
import { adminStates, ALL_STATE_RUNS, JobService } from './jobs.js';
import { KeyRegistry } from './keys.js';
import { MinionLink } from './minion-link.js';
import { PeerMesh } from './peers.js';
import { MasterRegistry } from './registry.js';
import { ZapHandler } from './zap.js';
import { ClusterEvents } from './events.js';
import { MasterErrors } from './errors.js';
import { FileServer } from './file-server/file-server.js';
import { PillarRenderer } from './file-server/pillar-renderer.js';
import { GitTrees } from './gitfs/git-trees.js';
import { isGitRoot, type RootEntry } from './gitfs/git-root.js';
import { AutoAcceptor } from './reactor/auto-accept.js';
import { LifecycleConsumer } from './reactor/consumer.js';
import { HighstateCoordinator } from './reactor/highstate.js';
import { GroupMembership } from './reactor/group-check.js';
import { LifecycleReactor } from './reactor/reactor.js';
import { Scheduler } from './schedule/scheduler.js';
import { RunService } from './runs/run-service.js';
import { OrchestrationCompiler, orchestrationDriver } from './runs/orchestration.js';
import { Reactions } from './reactions/reactions.js';
import { CLUSTER_PREFIX } from './event-tags.js';
import { Refusals } from './limits/refusals.js';
import { PoisonWatch } from './limits/poison-watch.js';

/** A minion's own event (event.send) carries at most this much data. */
const MAX_EVENT_BYTES = 64 * 1024;

export const MASTER_VERSION = '0.1.0';

export interface MasterPorts {
  enrol: number;
  minion: number;
  peer: number;
  api: number;
}

export interface Master {
  readonly id: string;
  readonly ports: MasterPorts;
  stop(): Promise<void>;
}

/**
 * Starts one master: its parts (masterComponents) in order. A part that fails to start stops the
 * ones started before it, so a master that cannot start leaves no socket, timer or table row.
 */
export async function startMaster(
  config: MasterConfig,
  log: Logger = pino({ level: config.logLevel }),
): Promise<Master> {
  const master = await masterComponents(config, log);
  const started = await startComponents(master.components, master.log);
  const ports = master.ports();
  master.log.info({ ports }, 'master ready');
  return {
    id: master.id,
    ports,
    async stop() {
      await started.stop();
      master.log.info('master stopped');
    },
  };
}

export interface MasterComponents {
  readonly id: string;
  readonly log: Logger;
  /** In start order; they stop in reverse. */
  readonly components: readonly Component[];
  /** The ports bound, once the sockets and the API have started. */
  ports(): MasterPorts;
}

/**
 * The master's parts, built and wired but not started: every part gets what it needs when it is
 * built, and each part's start and stop are one entry in the list. Reading the cluster key pair and
 * the attestation certificate and the API's TLS files happens here, before anything holds a resource.
 */
export async function masterComponents(config: MasterConfig, baseLog: Logger): Promise<MasterComponents> {
  const id = config.id ?? `${hostname()}-${config.ports.api}`;
  const log = baseLog.child({ masterId: id });
  const clusterKeys = await readClusterKeys(config.pkiDir);
  const reactorConfig = config.reactor;
  const certificate = await readCertificate(reactorConfig.attestation.certificate);
  const tls = config.api.tls;
  const https =
    tls === undefined
      ? undefined
      : { cert: await readPem(tls.certFile, 'api.tls.certFile'), key: await readPem(tls.keyFile, 'api.tls.keyFile') };

  const dynamodb = new DynamoDBClient(awsClientConfig(config.aws, 'dynamodb'));
  const autoscaling = new AutoScalingClient(awsClientConfig(config.aws, 'autoscaling'));
  const sqs = reactorConfig.queueUrl === undefined ? undefined : new SQSClient(awsClientConfig(config.aws, 'sqs'));
  const mastersGroup = Object.entries(reactorConfig.groups).find(
    ([, group]) => group.role === 'masters' && group.launchingHook !== undefined,
  );
  const ownLaunch =
    mastersGroup === undefined
      ? undefined
      : new OwnLaunch({
          autoscaling,
          group: mastersGroup[0],
          hookName: mastersGroup[1].launchingHook ?? '',
          instanceId: id,
          log: log.child({ component: 'own-launch' }),
          onCompleted: () => events.emit('master/launch-completed', { group: mastersGroup[0] }),
        });
  const store = new Store(dynamodb, config.tablePrefix, {
    terminatedMinionRetentionMs: config.terminatedMinionRetentionMs,
  });
  // Keys and presence come in herds (a fleet launched at once, an acceptance of thousands, their
  // hellos, a flood of made-up ids): their table requests go through a client with a few
  // connections of its own and queue there, while jobs, returns and this master's heartbeat keep
  // the main client's. One pool for both made a connected minion's job wait seconds behind an
  // enrolment burst (test/attack-enrol-burst.test.ts).
  const herdPool = { maxSockets: config.enrolment.tableConnections };
  const herdDynamodb = new DynamoDBClient({
    ...awsClientConfig(config.aws, 'dynamodb'),
    requestHandler: { httpAgent: herdPool, httpsAgent: herdPool, logger: sdkLogger(log) },
  });
  const herdStore = new Store(herdDynamodb, config.tablePrefix, {
    terminatedMinionRetentionMs: config.terminatedMinionRetentionMs,
  });
  // Every input refused at this master's boundaries, by where and why: /metrics shows them.
  const refusals = new Refusals();
  const keys = new KeyRegistry(herdStore, clusterKeys.secretKey, log.child({ component: 'keys' }), {
    maxPendingKeys: config.enrolment.maxPendingKeys,
    masterId: id,
  });
  // Each master owns its context: the ZAP endpoint is per context, and nothing is shared by accident.
  const context = new Context();
  const zap = new ZapHandler(
    context,
    (domain, publicKey) => {
      if (domain === 'enrol') return true;
      if (domain === 'peer') return publicKey === clusterKeys.publicKey;
      if (domain !== 'minion') return false;
      const accepted = keys.isAcceptedPublicKey(publicKey);
      if (!accepted) keys.refreshSoon();
      return accepted;
    },
    log.child({ component: 'zap' }),
  );
  const events = new ClusterEvents(id, log.child({ component: 'events' }));
  /** Set on SIGTERM: every masters list this master sends from then on tells its minions to leave. */
  let draining = false;
  const mastersMessage = (leaving = false): MasterMessage => ({
    v: WIRE_VERSION,
    t: 'masters',
    // A starting master does not serve the cluster's tree yet: no minion is sent to it. The list is
    // the one the last change announced, so a minion told it at hello hears every change after.
    masters: registry
      .announced()
      .filter((m) => m.status !== 'starting')
      .map(endpoint),
    ...(leaving ? { draining: leaving } : {}),
  });
  // The lifecycle reactor: auto-accept, first highstate exactly once, lifecycle actions.
  const autoAccept = new AutoAcceptor(
    herdStore,
    keys,
    autoscaling,
    {
      enabled: reactorConfig.attestation.enabled,
      maxDocumentAgeMs: reactorConfig.attestation.maxDocumentAgeSeconds * 1000,
      contestWindowMs: reactorConfig.attestation.contestWindowMs,
      ...(certificate === undefined ? {} : { certificatePem: certificate }),
      ...(reactorConfig.attestation.accountId === undefined ? {} : { accountId: reactorConfig.attestation.accountId }),
      ...(reactorConfig.attestation.region === undefined ? {} : { region: reactorConfig.attestation.region }),
    },
    events,
    log.child({ component: 'auto-accept' }),
  );
  /** A minion's grains, as it reported them: cached here and told to the peers (noteGrains also keeps them in the table). */
  const rememberGrains = (minionId: string, grains: Record<string, unknown>): void => {
    jobs.rememberGrains(minionId, grains);
    peers.broadcast({ v: WIRE_VERSION, t: 'peer-grains', from: id, minionId, grains });
  };
  const noteGrains = async (minionId: string, grains: Record<string, unknown>): Promise<void> => {
    rememberGrains(minionId, grains);
    await store.minions.updateGrains(minionId, grains);
  };
  // A minion that keeps sending what must be refused is quarantined, cluster-wide.
  const poison = new PoisonWatch({
    after: config.quarantine.after,
    windowMs: config.quarantine.windowMs,
    addStrikes: (minionId, count, windowMs) => store.minions.addStrikes(minionId, count, windowMs),
    quarantine: (minionId, reason) => keys.quarantine(minionId, reason, id),
    log: log.child({ component: 'quarantine' }),
  });
  // The minion connections. Their handlers run once minions connect, after every part below is built.
  const link: MinionLink = new MinionLink({
    context,
    bind: config.bind,
    enrolPort: config.ports.enrol,
    minionPort: config.ports.minion,
    masterId: id,
    clusterSecretKey: clusterKeys.secretKey,
    keys,
    heartbeatMs: config.minionHeartbeatMs,
    silenceMs: config.minionSilenceMs,
    enrolment: config.enrolment,
    refusals,
    log: log.child({ component: 'link' }),
    handlers: {
      hello: async (session, message) => {
        link.send(session.minionId, mastersMessage(draining));
        // First: a job lost with the master this minion was on reaches it now.
        void jobs
          .redeliver(session.minionId, message.seen ?? [])
          .catch((err: unknown) => log.warn({ err, minionId: session.minionId }, 'could not send missed jobs'));
        // Told before the table writes below: a busy table (a master's worth of minions arriving
        // at once) must not leave the other masters thinking the minion is connected nowhere, or
        // a job submitted there meanwhile skips it.
        // With the minion's own time of this hello, which orders its hellos on every master (see Presence).
        events.emit('minion/connected', {
          minionId: session.minionId,
          ...(message.at === undefined ? {} : { helloAt: message.at }),
        });
        // A minion back from another master mostly reports the grains every master already has:
        // only changed ones are told to the peers, and written with the presence, in one write (on
        // the herd's table client: a thousand minions accepted at once make a thousand hellos).
        const changed = !jobs.hasGrains(session.minionId, message.grains);
        if (changed) rememberGrains(session.minionId, message.grains);
        const record = await herdStore.minions.setPresence(
          session.minionId,
          id,
          Date.now(),
          changed ? message.grains : undefined,
          message.at,
        );
        jobs.noteRecord(record);
        // Quarantined while this master was not told (a lost peer message): the row says so.
        if (record.quarantine !== undefined) {
          link.revoke(session.minionId, 'key quarantined');
          keys.refreshSoon(0);
          return;
        }
        // Disabled through the API while it was away: its own killswitch is set now it is back.
        if (
          record.disabled !== undefined &&
          adminStates(record.disabled).includes(ALL_STATE_RUNS) &&
          stateRunsDisabled(message.grains) === undefined
        ) {
          const { by, reason } = record.disabled;
          await jobs
            .submit({
              target: [session.minionId],
              targetType: 'list',
              fun: 'state.disable',
              args: [],
              kwargs: { reason, by },
              submitter: by,
            })
            .catch((err: unknown) => log.warn({ err, minionId: session.minionId }, 'could not set the killswitch'));
        }
      },
      result: (session, message) => jobs.recordReturn(session, message),
      grains: async (session, message) => {
        await noteGrains(session.minionId, message.grains);
        // Said once the row has them: a reader that reloads on it (the dashboard's minion page,
        // whose killswitch comes from these grains) reads what changed, not the row before it.
        events.emit('minion/grains', { minionId: session.minionId });
      },
      event: (session, message) => {
        // The cluster's own tags are not a minion's to send; a big payload is not an event's to carry.
        const bytes = Buffer.byteLength(JSON.stringify(message.data));
        if (message.tag.startsWith(CLUSTER_PREFIX) || /\s/.test(message.tag) || bytes > MAX_EVENT_BYTES) {
          refusals.count('wire', 'invalid');
          log.warn({ minionId: session.minionId, tag: message.tag, bytes }, 'refused an event from a minion');
          return;
        }
        events.emit('minion/event', { minionId: session.minionId, tag: message.tag, data: message.data });
      },
      request: (session, message) => fileServer.answer(session.minionId, message),
      pending: async (minionId) => {
        await autoAccept.consider(minionId);
      },
      poison: (minionId, reason) => poison.strike(minionId, reason),
      gone: (session) => {
        // A minion that reconnected here already has a new session: its old one's end changes nothing.
        if (link.isConnected(session.minionId)) return;
        events.emit('minion/disconnected', {
          minionId: session.minionId,
          ...(session.left === true ? { left: true } : {}),
        });
        void herdStore.minions.clearPresence(session.minionId, id).catch(() => undefined);
      },
    },
  });
  // Pillar templates, and the top files of fetched commits, run in a process that holds none of
  // this master's secrets (see @phoenix/state).
  const renderProcess = new RenderProcess({
    onExit: ({ code, signal, stderr }) =>
      log.warn({ code, signal, stderr: stderr.slice(-1000) }, 'the render process stopped; the next render starts one'),
  });
  // The state trees, directories and git remotes. Until this master serves the cluster's commit of
  // every git root it is `starting`: in no minion's list and not healthy.
  const gitTrees = new GitTrees({
    fileRoots: config.fileRoots,
    pillarRoots: config.pillarRoots,
    cacheDir: config.fileServer.gitCacheDir,
    fetchIntervalMs: config.fileServer.fetchIntervalMs,
    maxFileBytes: config.fileServer.maxFileBytes,
    gitTimeoutMs: config.fileServer.gitTimeoutMs,
    renderTimeoutMs: config.fileServer.pillarTimeoutMs,
    isolation: renderProcess,
    aws: config.aws,
    events,
    log: log.child({ component: 'gitfs' }),
  });
  const registry = new MasterRegistry({
    status: gitTrees.ready ? 'active' : 'starting',
    store,
    minionCount: () => link.connectedCount,
    heartbeatMs: config.heartbeatIntervalMs,
    deadAfterMs: config.deadAfterMs,
    // Called only once the mesh below runs (the registry judges no peer before it starts).
    heardFrom: (masterId) => peers.heardFrom(masterId),
    log: log.child({ component: 'registry' }),
  });
  const peers = new PeerMesh({
    context,
    bind: config.bind,
    port: config.ports.peer,
    masterId: id,
    clusterKeys,
    refusals,
    helloEveryMs: config.heartbeatIntervalMs,
    connectedMinions: () => link.connected(),
    log: log.child({ component: 'peers' }),
    onMessage: (message) => {
      switch (message.t) {
        case 'peer-hello':
          // A master this one has not seen yet: read the table now rather than at the next
          // heartbeat, so the mesh is whole before the newcomer's first job is forwarded.
          if (!registry.knows(message.masterId)) void registry.refresh().catch(() => undefined);
          return;
        case 'peer-job':
          jobs.deliver(message, message.from);
          return;
        case 'peer-return':
          jobs.announce(message);
          return;
        case 'peer-key':
          void keys
            .applyChange({ minionId: message.minionId, to: message.to }, false)
            .catch((err: unknown) => log.warn({ err }, 'could not apply a key change from a peer'));
          return;
        case 'peer-event':
          events.relay({
            // A peer of an older version sends no id: one made of what it sent is the same on every master.
            id: message.id ?? `${message.from}/${message.at}/${message.tag}`,
            tag: message.tag,
            at: message.at,
            masterId: message.from,
            data: message.data,
          });
          return;
        case 'peer-grains':
          jobs.rememberGrains(message.minionId, message.grains);
          // It said hello on that peer: its row may hold a lifecycle this master has not read yet.
          void store.minions
            .get(message.minionId)
            .then((record) => record && jobs.noteRecord(record))
            .catch(() => undefined);
          return;
        case 'peer-presence':
          for (const minionId of message.minions) jobs.presence.listedBy(minionId, message.from);
          return;
        case 'peer-fileserver-update':
          void gitTrees.update(`asked by ${message.from}`);
          return;
        default:
          return;
      }
    },
  });
  const jobs = new JobService({
    store,
    keys,
    link,
    peers: {
      forwardJob: (job) => peers.broadcast({ v: WIRE_VERSION, t: 'peer-job', from: id, ...job }),
      returnToOrigin: (origin, event) =>
        peers.sendTo(origin, { v: WIRE_VERSION, t: 'peer-return', from: id, ...event }),
    },
    vouched: (minionId, grains) => {
      events.emit('grains/vouched', { minionId, grains });
      void store.minions
        .setVouchedGrains(minionId, grains)
        .catch((err: unknown) => log.warn({ err, minionId }, 'could not record vouched grains'));
    },
    masterId: id,
    summarized: (jid, summary) => events.emit('job/summarized', { jid, ...summary }),
    liveMasters: () => new Set(registry.live().map((m) => m.masterId)),
    deadSince: (masterId) => registry.deadSince(masterId),
    transitMs: config.minionTransitMs,
    refusals,
    selfReported: config.selfReportedGrains,
    groupGrains: (group) => config.reactor.groups[group]?.grains as Readonly<Record<string, unknown>> | undefined,
    redelivery: { windowMs: config.jobRedeliveryWindowMs, defaultTimeoutMs: config.jobTimeoutMs },
    log: log.child({ component: 'jobs' }),
  });
  const highstate = new HighstateCoordinator(
    store,
    jobs,
    autoscaling,
    {
      masterId: id,
      ...reactorConfig.highstate,
      onFailure: (group) => reactorConfig.groups[group]?.onHighstateFailure ?? 'ABANDON',
      contestWindowMs: reactorConfig.attestation.contestWindowMs,
    },
    events,
    log.child({ component: 'highstate' }),
  );
  const reactor =
    sqs === undefined || reactorConfig.queueUrl === undefined
      ? undefined
      : new LifecycleReactor(
          reactorConfig,
          store,
          keys,
          autoAccept,
          highstate,
          new GroupMembership(autoscaling),
          autoscaling,
          events,
          log.child({ component: 'reactor' }),
        );
  const consumer =
    sqs === undefined || reactorConfig.queueUrl === undefined || reactor === undefined
      ? undefined
      : new LifecycleConsumer(
          sqs,
          reactorConfig.queueUrl,
          reactorConfig.waitTimeSeconds,
          reactor,
          log.child({ component: 'reactor' }),
          refusals,
        );
  // The state tree: salt:// files for minions, pillar rendered here for each minion alone.
  const fileServer = new FileServer({
    trees: gitTrees,
    pillar: new PillarRenderer({
      files: (await gitTrees.at()).pillar,
      timeoutMs: config.fileServer.pillarTimeoutMs,
      concurrency: config.fileServer.pillarConcurrency,
      waitingPerMinion: config.fileServer.pillarWaitingPerMinion,
      opts: {
        file_roots: rootsForTemplates(config.fileRoots),
        pillar_roots: rootsForTemplates(config.pillarRoots),
        master_id: id,
      },
      log: log.child({ component: 'pillar' }),
      isolation: renderProcess,
      // Directories only: a git root's checkout is no path a template can name (opts shows its URL).
      hostPath: async (path, kind) => {
        const { tree } = await gitTrees.at();
        return (await tree.pillar.hostPath(path, kind)) ?? tree.files.hostPath(path, kind);
      },
    }),
    grainsOf: (minionId) => jobs.pillarGrains(minionId),
    files: {
      atOnce: config.fileServer.fileRequestsAtOnce,
      runningPerMinion: config.fileServer.fileRunningPerMinion,
      waitingPerMinion: config.fileServer.fileWaitingPerMinion,
    },
    refusals,
    log: log.child({ component: 'file-server' }),
  });
  // The master schedule: every master runs the crons, and one claims each tick and fires it.
  const scheduler = new Scheduler({
    masterId: id,
    entries: config.schedule,
    claim: (name, tickAt) => store.scheduleClaims.claim(name, tickAt, id),
    submit: (request) => jobs.submit(request),
    events,
    log: log.child({ component: 'schedule' }),
  });
  // Batch rollouts and orchestrations: driven here under a lease, resumed by a peer if this master dies.
  const runs = new RunService({
    masterId: id,
    store,
    jobs,
    events,
    leaseMs: config.runs.leaseMs,
    sweepMs: config.runs.sweepMs,
    log: log.child({ component: 'runs' }),
    orchestrations: {
      // Rendered as pillar is: in the render process, from this master's roots.
      compiler: new OrchestrationCompiler({
        masterId: id,
        trees: async () => {
          const served = await gitTrees.at();
          return { files: served.tree.files, pillar: served.pillar };
        },
        jobs,
        isolation: renderProcess,
        timeoutMs: config.fileServer.pillarTimeoutMs,
        opts: {
          file_roots: rootsForTemplates(config.fileRoots),
          pillar_roots: rootsForTemplates(config.pillarRoots),
          master_id: id,
        },
      }),
      driver: orchestrationDriver({ events, keys, defaultTimeoutMs: config.jobTimeoutMs }),
    },
  });
  // Operators' reactor rules: each event once in the cluster, by a claim per event and rule.
  const reactions = new Reactions({
    masterId: id,
    rules: reactorConfig.rules,
    events,
    claim: (eventId, rule, tag) => store.reactionClaims.claim(eventId, rule, tag, id),
    jobs,
    runs,
    orchestrationExists: async (name, saltenv) => {
      const path = name.replace(/\./g, '/');
      for (const candidate of [`${path}.sls`, `${path}/init.sls`])
        if ((await (await gitTrees.at()).tree.files.locate(candidate, saltenv)) !== undefined) return true;
      return false;
    },
    isolation: renderProcess,
    renderTimeoutMs: config.fileServer.pillarTimeoutMs,
    defaultJobTimeoutMs: config.jobTimeoutMs,
    log: log.child({ component: 'reactions' }),
  });
  const apiTokens = new TokenRegistry(store.apiTokens, log.child({ component: 'tokens' }));
  // A token made or revoked on a peer is read again at once, not at the next refresh.
  events.on((event) => {
    if (event.masterId !== id && (event.tag === 'token/created' || event.tag === 'token/revoked'))
      void apiTokens.refresh();
  });
  const api = buildApi({
    apiTokens,
    ...(https === undefined ? {} : { https }),
    masterId: id,
    version: MASTER_VERSION,
    tokens: config.api.tokens,
    keys,
    jobs,
    runs,
    minions: store.minions,
    events,
    masters: () => registry.all(),
    connectedMinions: () => link.connectedCount,
    tableReads: () => ({
      masters: store.masters.reads,
      minions: sumReads(store.minions.reads, herdStore.minions.reads),
      jobs: store.jobs.reads,
      returns: store.returns.reads,
    }),
    fileServer: {
      starting: () => registry.status === 'starting',
      update: async () => {
        peers.broadcast({ v: WIRE_VERSION, t: 'peer-fileserver-update', from: id });
        return gitTrees.update('phoenix fileserver update');
      },
      sent: () => fileServer.sent(),
    },
    defaultJobTimeoutMs: config.jobTimeoutMs,
    refusals,
    streamsPerToken: config.api.streamsPerToken,
    log,
  });

  // Whichever master hears of an acceptance (its own, or a peer's) tries the claim; one wins.
  keys.onChange((change, _local, row) => {
    if (change.to === 'accepted') void highstate.consider(change.minionId, row);
  });
  keys.onChange((change, local) => {
    if (local) peers.broadcast({ v: WIRE_VERSION, t: 'peer-key', from: id, minionId: change.minionId, to: change.to });
  });
  // Admin disables, operators' grains and presence, made here or on a peer: every master's job
  // service sees them alike.
  events.on((event) => {
    const minionId = event.data.minionId;
    if (typeof minionId !== 'string') return;
    if (event.tag === 'minion/enabled') jobs.noteAdminDisable(minionId, undefined);
    if (event.tag === 'grains/vouched' && event.masterId !== id && typeof event.data.grains === 'object')
      jobs.noteOperatorGrains(minionId, event.data.grains as Record<string, unknown>);
    if (event.tag === 'minion/disabled') {
      const { by, reason, at, states } = event.data;
      jobs.noteAdminDisable(minionId, {
        by: String(by),
        reason: String(reason),
        at: typeof at === 'number' ? at : event.at,
        ...(Array.isArray(states) ? { states: states.map(String) } : {}),
      });
    }
    if (event.tag === 'minion/connected') {
      const helloAt = event.data.helloAt;
      jobs.presence.connected(minionId, event.masterId, typeof helloAt === 'number' ? helloAt : undefined);
    } else if (event.tag === 'minion/disconnected')
      jobs.presence.disconnected(minionId, event.masterId, event.data.left === true, Date.now());
  });
  // This master's events go to every peer's event stream too. Not key changes (each master emits
  // those as it applies them) nor returns (they travel to the job's origin already).
  events.on((event) => {
    if (event.masterId !== id || event.tag === 'key/changed' || event.tag === 'job/return') return;
    peers.broadcast({
      v: WIRE_VERSION,
      t: 'peer-event',
      from: id,
      id: event.id,
      tag: event.tag,
      at: event.at,
      data: event.data,
    });
  });
  registry.onChange((live) => {
    peers.sync(live);
    // Minions learn of every change at once, so none waits for a table poll to find a new master.
    link.broadcast(mastersMessage(draining));
  });
  // Every read of the table tells the git roots what the other masters serve; every heartbeat
  // tells the others what this one serves.
  registry.onRefresh((rows) => {
    registry.setFileServer({ gitCommits: gitTrees.commits(), fileServerErrors: gitTrees.errors() });
    void gitTrees
      .noteCluster(rows, id, (row) => isLive(row, config.deadAfterMs))
      .catch((err: unknown) => log.warn({ err }, 'could not compare git commits with the other masters'));
  });
  events.on((event) => {
    if (event.masterId === id && event.tag.startsWith('fileserver/')) {
      registry.setFileServer({ gitCommits: gitTrees.commits(), fileServerErrors: gitTrees.errors() });
    }
  });
  gitTrees.onReady(() => {
    if (registry.status !== 'starting') return;
    void registry
      .setStatus('active')
      .then(() => registry.refresh())
      .then(() => events.emit('master/active', { commits: gitTrees.commits() }))
      .catch((err: unknown) => log.warn({ err }, 'could not mark this master active'));
  });

  const ports = (): MasterPorts => ({
    ...link.ports,
    peer: peers.port,
    api: (api.server.address() as { port: number } | null)?.port ?? 0,
  });
  // Operators compare trees across masters (`phoenix masters`): the hash follows edits to the tree.
  const hashTree = async (): Promise<void> => {
    try {
      registry.setTreeHash(await (await gitTrees.at()).tree.hash());
    } catch (err) {
      log.warn({ err }, 'could not hash the state tree');
    }
  };
  let treeTimer: NodeJS.Timeout | undefined;

  const components: Component[] = [
    {
      name: 'aws clients',
      stop: () => {
        dynamodb.destroy();
        herdDynamodb.destroy();
        autoscaling.destroy();
        sqs?.destroy();
      },
    },
    // Before this master holds a port or a row: a rule naming an orchestration the file roots lack stops the start.
    { name: 'reactor rules', start: () => reactions.check() },
    {
      // What the table knows before the first minion connects: accepted keys, minions' grains.
      name: 'caches',
      start: async () => {
        await keys.refresh();
        await jobs.loadGrains();
      },
      // Stopped late, the store still open: the summaries of jobs still running are written as they stand.
      stop: () => jobs.stopSummaries(),
    },
    // Started on the first pillar render; closed once nothing can ask for one.
    { name: 'render process', stop: () => renderProcess.close() },
    // Checks that git runs, then fetches in the background; stopping ends a fetch in progress.
    { name: 'git roots', start: () => gitTrees.start(), stop: () => gitTrees.stop() },
    { name: 'zap', start: () => zap.start(), stop: () => zap.close() },
    { name: 'minion link', start: () => link.start(), stop: () => link.close() },
    { name: 'peer mesh', start: () => peers.start(), stop: () => peers.close() },
    { name: 'api tokens', start: () => apiTokens.start(config.api.tokenRefreshMs), stop: () => apiTokens.stop() },
    {
      name: 'api',
      start: async () => {
        await api.listen({ host: config.bind, port: config.ports.api });
      },
      stop: () => api.close(),
    },
    {
      name: 'tree hash',
      start: async () => {
        await hashTree();
        treeTimer = setInterval(() => void hashTree(), config.fileServer.hashIntervalMs);
        treeTimer.unref();
      },
      stop: () => clearInterval(treeTimer),
    },
    {
      name: 'registry',
      start: () =>
        registry.start({
          masterId: id,
          host: config.advertise,
          ports: ports(),
          startedAt: Date.now(),
          version: MASTER_VERSION,
        }),
      stop: () => registry.stop(),
    },
    { name: 'auto-accept', stop: () => autoAccept.stop() },
    {
      name: 'lifecycle reactor',
      start: () => {
        if (consumer === undefined) return;
        consumer.start();
        reactor?.start();
        highstate.start();
      },
      stop: async () => {
        await consumer?.stop();
        reactor?.stop();
        highstate.stop();
      },
    },
    {
      // Stopping: minions are asked to move on, and given a bounded time to leave.
      name: 'drain',
      stop: async () => {
        draining = true;
        await registry.setStatus('draining').catch(() => undefined);
        link.broadcast(mastersMessage(true));
        const deadline = Date.now() + config.drainTimeoutMs;
        while (link.connectedCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        log.info({ remaining: link.connectedCount }, 'drained');
      },
    },
    // Stopped early: a draining master fires no more scheduled ticks, the others claim them.
    { name: 'scheduler', start: () => scheduler.start(), stop: () => scheduler.stop() },
    // Stopped before the drain: its leases are let go, and a peer resumes each run at once.
    { name: 'runs', start: () => runs.start(), stop: () => runs.stop() },
    // After everything a reaction may use.
    { name: 'reactions', start: () => reactions.start(), stop: () => reactions.stop() },
    {
      // Last: Auto Scaling puts this master in service once it serves (with its trees, if git roots).
      name: 'own launch',
      start: () => {
        if (ownLaunch === undefined) return;
        if (registry.status === 'active') void ownLaunch.complete();
        else
          events.on((event) => {
            if (event.masterId === id && event.tag === 'master/active') void ownLaunch.complete();
          });
      },
      stop: () => ownLaunch?.stop(),
    },
  ];
  return { id, log, components, ports };
}

function sumReads(a: ReadCount, b: ReadCount): ReadCount {
  return { requests: a.requests + b.requests, items: a.items + b.items };
}

/** The SDK's own warnings (a connection pool at capacity) as this master's log lines. */
function sdkLogger(log: Logger): { warn(message: string): void } {
  const sdk = log.child({ component: 'aws-sdk' });
  return { warn: (message) => sdk.debug({ sdk: message }, 'AWS SDK warning') };
}

/** `opts.file_roots` in templates: directories, and git roots by URL (their credentials' sources stay here). */
function rootsForTemplates(roots: Readonly<Record<string, readonly RootEntry[]>>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(roots).map(([env, entries]) => [env, entries.map((e) => (isGitRoot(e) ? e.git : e))]),
  );
}

/** A PEM file the config names; unreadable, the master does not start, saying which key and why. */
async function readPem(path: string, key: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new PhoenixError(
      MasterErrors.PHX_MASTER_START_FAILED,
      `${key}: cannot read ${path}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}

/** The attestation certificate: inline PEM, or the path of a PEM file. */
async function readCertificate(value: string | undefined): Promise<string | undefined> {
  if (value === undefined || value.includes('-----BEGIN')) return value;
  return readFile(value, 'utf8');
}

function endpoint(master: MasterRecord): MasterEndpoint {
  return {
    id: master.masterId,
    host: master.host,
    port: master.ports.minion,
    enrolPort: master.ports.enrol,
    ...(master.status === 'draining' ? { draining: true } : {}),
  };
}
