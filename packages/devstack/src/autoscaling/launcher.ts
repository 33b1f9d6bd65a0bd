import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stopProcess } from '../processes.js';

export interface LaunchRequest {
  instanceId: string;
  groupName: string;
  /** The signed EC2 identity document, as the instance metadata service would serve it. */
  identity: { document: string; signature: string };
  privateIp: string;
  availabilityZone: string;
}

export interface RunningInstance {
  readonly pid?: number;
  /** Ends the instance and resolves once it is gone; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts what runs on an instance. The simulator calls it as soon as an instance is launched,
 * before any lifecycle hook is answered, because on AWS the instance boots while it is held.
 */
export interface InstanceLauncher {
  launch(request: LaunchRequest): Promise<RunningInstance>;
}

const PLACEHOLDER_SCRIPT = fileURLToPath(new URL('./placeholder-instance.js', import.meta.url));

/** Launches a tiny idle Node process per instance: an instance with a real pid and nothing on it. */
export class PlaceholderLauncher implements InstanceLauncher {
  /** How long stop() waits after SIGTERM before SIGKILL. */
  constructor(private readonly stopGraceMs = 5_000) {}

  async launch(request: LaunchRequest): Promise<RunningInstance> {
    const child = spawn(process.execPath, [PLACEHOLDER_SCRIPT, request.instanceId], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // The pipe is only held, never written; an EPIPE after the child's exit is expected.
    child.stdin?.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    let stopping: Promise<void> | undefined;
    return {
      pid: child.pid,
      stop: () => (stopping ??= stopProcess(child, this.stopGraceMs)),
    };
  }
}
