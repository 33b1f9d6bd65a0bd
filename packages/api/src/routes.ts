/**
 * Where each API route is and who may call it: plain data, no schema library, so the typed client
 * (client.ts) can carry it into a browser. What each route takes and answers is in contract.ts,
 * under the same names.
 */

/** Token roles, least first: each includes what the ones before it may do. */
export const ROLES = ['read', 'operate', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface RouteInfo {
  method: 'GET' | 'POST';
  /** Relative to API_PREFIX unless `absolute`; `:name` is a path parameter. */
  url: string;
  absolute?: true;
  summary: string;
  tag: string;
  /** `open`: no token needed (only the health probes). */
  role: Role | 'open';
  /** The success status (200 unless said). */
  status?: number;
  /** Answers text/event-stream: the contract's response is the shape of one event. */
  stream?: true;
  /** Content type of a non-JSON answer (the metrics text). */
  produces?: string;
}

export const API_PREFIX = '/api/v1';

export const ROUTES = {
  health: {
    method: 'GET',
    url: '/healthz',
    absolute: true,
    summary: "health: the process answers and serves the cluster's tree (503 while it is starting)",
    tag: 'system',
    role: 'open',
  },
  ready: {
    method: 'GET',
    url: '/readyz',
    absolute: true,
    summary: 'readiness: the masters table answers and this master is live in it (503 otherwise)',
    tag: 'system',
    role: 'open',
  },
  masters: {
    method: 'GET',
    url: '/masters',
    summary: 'every master in the masters table with its liveness',
    tag: 'masters',
    role: 'read',
  },
  whoami: {
    method: 'GET',
    url: '/whoami',
    summary: "the caller's token name and role, and the master answering (the dashboard shows what a role allows)",
    tag: 'system',
    role: 'read',
  },
  openapi: { method: 'GET', url: '/openapi.json', summary: 'this document', tag: 'system', role: 'read' },
  metrics: {
    method: 'GET',
    url: '/metrics',
    absolute: true,
    summary: "this master's metrics in the Prometheus text format",
    tag: 'system',
    role: 'read',
    produces: 'text/plain; version=0.0.4; charset=utf-8',
  },
  listMinions: {
    method: 'GET',
    url: '/minions',
    summary: 'the fleet, filtered and paged (pass the cursor back for the next page)',
    tag: 'minions',
    role: 'read',
  },
  getMinion: {
    method: 'GET',
    url: '/minions/:id',
    summary:
      'one minion, with all its grains (as it reports them, and those the master vouches for) and its lifecycle and master histories',
    tag: 'minions',
    role: 'read',
  },
  disableMinion: {
    method: 'POST',
    url: '/minions/:id/disable',
    summary: 'mark a minion disabled, with who and why (admin, audited)',
    tag: 'minions',
    role: 'admin',
  },
  enableMinion: {
    method: 'POST',
    url: '/minions/:id/enable',
    summary: 'enable a disabled minion again (admin, audited)',
    tag: 'minions',
    role: 'admin',
  },
  fileServerUpdate: {
    method: 'POST',
    url: '/fileserver/update',
    summary:
      'fetches the git roots now: this master waits for its own fetch and answers with it, the others are told to fetch too',
    tag: 'masters',
    role: 'operate',
  },
  listKeys: {
    method: 'GET',
    url: '/keys',
    summary: 'minion keys whose id matches a glob, optionally in one state',
    tag: 'keys',
    role: 'read',
  },
  changeKeys: {
    method: 'POST',
    url: '/keys/:action',
    summary: 'accept, reject or delete the keys matching a glob (audited); accept also lifts a quarantine',
    tag: 'keys',
    role: 'admin',
  },
  submitJob: {
    method: 'POST',
    url: '/jobs',
    summary: 'submit a job to the minions a target selects (audited)',
    tag: 'jobs',
    role: 'operate',
    status: 201,
  },
  previewTarget: {
    method: 'POST',
    url: '/targets/preview',
    summary:
      "the minions a target selects, as a job submitted now would have them: matched by the master's own targeting, with those a state run would skip and those connected to no master (nothing is run)",
    tag: 'jobs',
    role: 'read',
  },
  listJobs: { method: 'GET', url: '/jobs', summary: 'recent jobs, newest first', tag: 'jobs', role: 'read' },
  listRuns: {
    method: 'GET',
    url: '/runs',
    summary: 'recent batch rollouts and orchestrations, newest first',
    tag: 'runs',
    role: 'read',
  },
  getRun: {
    method: 'GET',
    url: '/runs/:runId',
    summary: 'one run as it stands: its steps, the jobs each sent and every minion outcome so far',
    tag: 'runs',
    role: 'read',
  },
  submitOrchestration: {
    method: 'POST',
    url: '/orchestrations',
    summary: "start an orchestration SLS from the masters' file server (Salt's state.orchestrate; audited)",
    tag: 'runs',
    role: 'operate',
    status: 201,
  },
  getJob: {
    method: 'GET',
    url: '/jobs/:jid',
    summary: 'one job, its returns, and the minions that have not returned',
    tag: 'jobs',
    role: 'read',
  },
  jobStream: {
    method: 'GET',
    url: '/jobs/:jid/stream',
    summary: "a job's returns as server-sent events (job, return…, done)",
    tag: 'jobs',
    role: 'read',
    stream: true,
  },
  events: {
    method: 'GET',
    url: '/events',
    summary: "this master's cluster events (lifecycle, keys, minions, jobs, highstate) as server-sent events",
    tag: 'events',
    role: 'read',
    stream: true,
  },
  createToken: {
    method: 'POST',
    url: '/tokens',
    summary: 'make an API token (admin, audited); the answer holds the token, shown this once',
    tag: 'tokens',
    role: 'admin',
    status: 201,
  },
  listTokens: {
    method: 'GET',
    url: '/tokens',
    summary: 'the API tokens made with phoenix tokens create (never the tokens themselves)',
    tag: 'tokens',
    role: 'admin',
  },
  revokeToken: {
    method: 'POST',
    url: '/tokens/:id/revoke',
    summary: 'revoke an API token at once, on every master (admin, audited)',
    tag: 'tokens',
    role: 'admin',
  },
} as const satisfies Record<string, RouteInfo>;

export type RouteName = keyof typeof ROUTES;
/** The routes that answer one JSON document (or text), and those that answer server-sent events. */
export type StreamRouteName = { [K in RouteName]: (typeof ROUTES)[K] extends { stream: true } ? K : never }[RouteName];
export type CallRouteName = Exclude<RouteName, StreamRouteName>;

/** The route's path as the server mounts it (`:name` parameters left in). */
export function fullPath(route: RouteInfo): string {
  return route.absolute === true ? route.url : `${API_PREFIX}${route.url}`;
}
