import type { Logger } from 'pino';
import type { MinionsTable, ReadCount } from '@phoenix/store';
import type { ApiToken } from '../config.js';
import type { ClusterEvents } from '../events.js';
import type { JobService } from '../jobs.js';
import type { GitRootStatus } from '../gitfs/git-trees.js';
import type { KeyRegistry } from '../keys.js';
import type { RunService } from '../runs/run-service.js';
import type { Refusals } from '../limits/refusals.js';
import type { MasterView } from '../registry.js';
import type { ApiMetrics } from './metrics.js';
import type { TokenRegistry } from './token-registry.js';

/** What the API is built from: the master's parts (see buildApi in server.ts). */
export interface ApiDeps {
  masterId: string;
  version: string;
  tokens: readonly ApiToken[];
  keys: KeyRegistry;
  jobs: JobService;
  /** Batch rollouts and orchestrations. */
  runs: RunService;
  minions: MinionsTable;
  events: ClusterEvents;
  masters: () => Promise<MasterView[]>;
  connectedMinions: () => number;
  /** Read requests this master made of each table so far. */
  tableReads?: () => Readonly<Record<string, ReadCount>>;
  /** The git roots: whether this master is still starting, and an update of them now (all masters). */
  fileServer?: {
    starting(): boolean;
    update(): Promise<readonly GitRootStatus[]>;
    /** File chunks sent to minions so far, and their bytes. */
    sent?(): { reads: number; bytes: number };
  };
  defaultJobTimeoutMs: number;
  log: Logger;
  /** Failed authentications one client address may make per window before it gets 429. */
  authFailures?: { maxFailures: number; windowMs: number };
  bodyLimitBytes?: number;
  /** Serve the web dashboard at /ui/ (default true). */
  dashboard?: boolean;
  /** Tokens made with `phoenix tokens create`, besides the config's. */
  apiTokens?: TokenRegistry;
  /** Serve HTTPS with this certificate chain and key (PEM). */
  https?: { cert: string; key: string };
  /** Counts what the API refuses (bodies over a limit, streams over a token's share). */
  refusals?: Refusals;
  /** Event and job streams one token may hold open at once (default 32). */
  streamsPerToken?: number;
}

/** What route modules see: the master's parts plus the API's own metrics and open streams. */
export interface ApiContext extends ApiDeps {
  metrics: ApiMetrics;
  /**
   * Registers an open stream of `owner` (a token's name); `end` ends it when the API closes. Call
   * the returned function once it closed. PHX_API_RATE_LIMITED when the owner holds its share already.
   */
  onStreamOpen(end: () => void, owner: string): () => void;
}
