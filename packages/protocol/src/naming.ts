/**
 * Naming-convention grains. An auto-scaling group named `service-service_instance-region` tells
 * every minion it launches what it is. service_group and cluster_name are built as in Lyft's Salt
 * grains for this convention (lyft/confidant, salt/modules/grains/parse_env.py); service_node is
 * Phoenix's own, a stable host name per instance:
 *
 *   group `web-prod-useast1`, instance `i-0abc123`
 *   service_name      web                         the first part
 *   service_instance  prod                        the second part
 *   region            useast1                     everything after the second '-'
 *   service_group     web-prod                    service_name-service_instance
 *   cluster_name      web-prod-useast1            service_group-region: the group name itself
 *   service_node      web-prod-useast1-0abc123    cluster_name-instance id without "i-" (a host name)
 *
 * Parts are letters, digits and '_' (so `user_api-prod-useast1` works). service_name and
 * service_instance cannot contain '-', so the split is never ambiguous; the region may, which
 * keeps AWS region names as they are: `web-prod-us-east-1` has region `us-east-1`.
 */

/** A type, not an interface, so it can be used where grains (`Record<string, unknown>`) are expected. */
export type NamingGrains = {
  readonly service_name: string;
  readonly service_instance: string;
  readonly region: string;
  readonly service_group: string;
  readonly cluster_name: string;
  /** Only when an instance id was given. */
  readonly service_node?: string;
};

/** AWS caps auto-scaling group names at 255 characters. */
const MAX_GROUP_NAME_LENGTH = 255;
const PART = /^[A-Za-z0-9_]+$/;
/** EC2 ids are `i-` and hex digits; other clouds and the devstack may use any letters and digits. */
const INSTANCE_ID = /^(?:i-)?([A-Za-z0-9]+)$/;

/**
 * The naming grains of a minion in group `groupName`, or undefined when the name does not follow
 * the convention (a group may be named anything; it then simply gets no naming grains). An
 * `instanceId` that is not an instance id also gives undefined: the caller passed the wrong value.
 */
export function namingGrains(groupName: string, instanceId?: string): NamingGrains | undefined {
  if (typeof groupName !== 'string' || groupName.length > MAX_GROUP_NAME_LENGTH) return undefined;
  const parts = groupName.split('-');
  if (parts.length < 3 || !parts.every((part) => PART.test(part))) return undefined;
  const [service_name, service_instance] = parts as [string, string];
  const region = parts.slice(2).join('-');
  const service_group = `${service_name}-${service_instance}`;
  const cluster_name = `${service_group}-${region}`;
  const grains = { service_name, service_instance, region, service_group, cluster_name };
  if (instanceId === undefined) return grains;
  const node = typeof instanceId === 'string' ? INSTANCE_ID.exec(instanceId)?.[1] : undefined;
  return node === undefined ? undefined : { ...grains, service_node: `${cluster_name}-${node}` };
}
