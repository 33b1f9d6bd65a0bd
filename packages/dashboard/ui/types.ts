// The shapes the API answers with, as the dashboard reads them (the OpenAPI document has them all).

export type Role = 'read' | 'operate' | 'admin';
export type KeyState = 'pending' | 'accepted' | 'rejected' | 'denied';

export interface Whoami {
  name: string;
  role: Role;
  masterId: string;
}

export interface MinionView {
  minionId: string;
  keyState?: KeyState;
  lifecycle?: { state: string; group: string; launchedAt?: number; updatedAt: number };
  connectedMaster?: string;
  connectedAt?: number;
  connected: boolean;
  grains: Record<string, unknown>;
  highstate?: { result?: 'success' | 'failure'; jid?: string; startedAt?: number; finishedAt?: number };
  disabled?: { by: string; at: number; reason: string };
}

export interface MasterView {
  masterId: string;
  host: string;
  ports: { minion: number; enrol: number; peer: number; api: number };
  status: 'active' | 'draining';
  liveness: 'live' | 'draining' | 'dead';
  minionCount: number;
  heartbeatAt: number;
  startedAt: number;
  version: string;
  treeHash?: string;
}

export interface Job {
  jid: string;
  fun: string;
  args: unknown[];
  target: string;
  targetType: string;
  submitter: string;
  originMaster: string;
  expected: string[];
  createdAt: number;
}

export interface JobReturn {
  jid: string;
  minionId: string;
  success: boolean;
  retcode: number;
  ret: unknown;
  masterId?: string;
  receivedAt: number;
}

export interface KeyInfo {
  minionId: string;
  state: KeyState;
  fingerprint: string;
}

export interface ClusterEvent {
  tag: string;
  at: number;
  masterId: string;
  data: Record<string, unknown>;
}

export interface RunOutcome {
  ok: boolean;
  retcode: number;
  at: number;
  timedOut?: boolean;
  missed?: string;
}

export interface RunRecord {
  runId: string;
  kind: 'batch' | 'orchestration';
  title: string;
  submitter: string;
  status: 'running' | 'succeeded' | 'failed' | 'stopped';
  createdAt: number;
  drivers: string[];
  lease?: { holder: string; until: number };
  summary?: string;
  steps: Record<string, { status: 'running' | 'done'; result?: boolean | null; comment?: string }>;
}

export interface RunView {
  run: RunRecord;
  items: Array<{
    step: number;
    minions: string[];
    notConnected: string[];
    jobs: Array<{ jid: string; minions: string[]; sentBy: string; outcomes: Record<string, RunOutcome> }>;
  }>;
  plan?: Array<{ id: string; function: string }>;
}
