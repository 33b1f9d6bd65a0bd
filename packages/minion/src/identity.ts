import { hostname } from 'node:os';
import type { MinionConfig } from './config.js';

/**
 * The minion id: from config, else the EC2 instance id through IMDSv2 (a session token, then the
 * metadata; a short timeout so a host outside EC2 does not wait), else the host name.
 */
export async function resolveMinionId(config: MinionConfig): Promise<{ id: string; instanceId?: string }> {
  if (config.id !== undefined)
    return { id: config.id, ...(config.instanceId ? { instanceId: config.instanceId } : {}) };
  if (config.instanceId !== undefined) return { id: config.instanceId, instanceId: config.instanceId };
  if (config.imds.enabled) {
    const instanceId = await imdsInstanceId(config.imds.endpoint, config.imds.timeoutMs);
    if (instanceId !== undefined) return { id: instanceId, instanceId };
  }
  return { id: hostname() };
}

async function imdsInstanceId(endpoint: string, timeoutMs: number): Promise<string | undefined> {
  try {
    const token = await fetch(`${endpoint}/latest/api/token`, {
      method: 'PUT',
      headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!token.ok) return undefined;
    const response = await fetch(`${endpoint}/latest/meta-data/instance-id`, {
      headers: { 'x-aws-ec2-metadata-token': await token.text() },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const id = (await response.text()).trim();
    return response.ok && /^i-[0-9a-f]{8,17}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
