import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import type { LifecycleStep } from '@phoenix/protocol';

/** An instance as the Auto Scaling API lists it. */
export interface ListedInstance {
  group: string;
  /** AWS's LifecycleState: `Pending:Wait`, `InService`, `Warmed:Stopped`, … */
  state: string;
}

/** Where an instance stands as the API lists it, in the terms the reactor decides by. */
type Standing = 'joining' | 'in-service' | 'leaving' | 'warming' | 'warm' | 'leaving-pool';

function standing(state: string): Standing {
  if (state.startsWith('Warmed:Terminat')) return 'leaving-pool';
  if (state.startsWith('Warmed:Pending')) return 'warming';
  if (state.startsWith('Warmed:')) return 'warm';
  if (state.startsWith('Pending')) return 'joining';
  if (state.startsWith('Terminat')) return 'leaving';
  // InService, Standby, EnteringStandby, Detaching, root-volume replacement: in the group, running.
  return 'in-service';
}

/** For each step, the standings in which the instance really is making that move. */
const CONSISTENT: Record<LifecycleStep, ReadonlySet<Standing>> = {
  // In service already is a repeated message: acting again changes nothing.
  launch: new Set(['joining', 'in-service']),
  warm: new Set(['warming', 'warm']),
  'return-to-pool': new Set(['warming', 'warm']),
  terminate: new Set(['leaving', 'leaving-pool']),
};

export type GroupCheck = { ok: true } | { ok: false; reason: string };

/**
 * Whether a lifecycle message is about an instance the group really has, making the move the
 * message says: the queue is not trusted, the Auto Scaling API is. `listed` is the instance as
 * the API lists it (undefined: not listed, as after its termination), `knownGroup` the group
 * Phoenix recorded it launching in, if any. A termination of an instance no longer listed is
 * believed only for an instance Phoenix saw launch in that group, so a crafted TERMINATE can
 * delete no key of a server outside it.
 */
export function checkAgainstGroup(
  step: LifecycleStep,
  message: { group: string; instanceId: string },
  listed: ListedInstance | undefined,
  knownGroup: string | undefined,
): GroupCheck {
  const { group, instanceId } = message;
  if (listed === undefined) {
    if (step === 'terminate' && knownGroup === group) return { ok: true };
    return {
      ok: false,
      reason:
        step === 'terminate'
          ? `instance ${instanceId} is not in group ${group} and Phoenix never saw it launch there`
          : `instance ${instanceId} is not in group ${group}: the Auto Scaling API does not list it`,
    };
  }
  if (listed.group !== group) {
    return { ok: false, reason: `instance ${instanceId} belongs to group ${listed.group}, not ${group}` };
  }
  if (!CONSISTENT[step].has(standing(listed.state))) {
    return { ok: false, reason: `instance ${instanceId} is ${listed.state} in group ${group}: not a ${step}` };
  }
  return { ok: true };
}

/** The Auto Scaling API's word on one instance (DescribeAutoScalingInstances, warm pools included). */
export class GroupMembership {
  constructor(private readonly autoscaling: AutoScalingClient) {}

  async describe(instanceId: string): Promise<ListedInstance | undefined> {
    const { AutoScalingInstances = [] } = await this.autoscaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }),
    );
    const found = AutoScalingInstances.find((instance) => instance.InstanceId === instanceId);
    if (found?.AutoScalingGroupName === undefined || found.LifecycleState === undefined) return undefined;
    // AWS keeps listing a terminated instance for a while; it is no longer the group's.
    if (found.LifecycleState === 'Terminated' || found.LifecycleState === 'Warmed:Terminated') return undefined;
    return { group: found.AutoScalingGroupName, state: found.LifecycleState };
  }
}
