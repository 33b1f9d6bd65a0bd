import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import type { IpPermission, SecurityGroup } from '@aws-sdk/client-ec2';
import { z } from 'zod';
import { connectionArgs } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { converge, remove, runAwsState } from './aws-state.js';
import type { Step } from './aws-state.js';
import { defineState } from './types.js';
import type { StateModule } from './types.js';

const Port = z.int().min(-1).max(65535);

/** Salt's rule: a protocol, a port range, and CIDRs (one or a list) or a source group by id. */
const Rule = z
  .strictObject({
    ip_protocol: z.union([z.string().min(1), z.int().transform(String)]),
    from_port: Port.optional(),
    to_port: Port.optional(),
    cidr_ip: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    source_group_group_id: z.string().min(1).optional(),
  })
  .refine((rule) => (rule.cidr_ip === undefined) !== (rule.source_group_group_id === undefined), {
    message: 'needs cidr_ip or source_group_group_id (one of them)',
  });
type RuleArgs = z.output<typeof Rule>;

const Present = z.strictObject({
  name: z.string().min(1).max(255),
  description: z.string().min(1).max(255),
  vpc_id: z.string().min(1).optional(),
  rules: z.array(Rule).max(60).optional(),
  rules_egress: z.array(Rule).max(60).optional(),
  delete_ingress_rules: z.boolean().default(true),
  delete_egress_rules: z.boolean().default(true),
  ...connectionArgs,
});
const Absent = z.strictObject({ name: z.string().min(1), vpc_id: z.string().min(1).optional(), ...connectionArgs });

/** One permission, flattened: a protocol, ports and one source. Compared by its key. */
interface Permission {
  readonly protocol: string;
  readonly from?: number;
  readonly to?: number;
  readonly cidr?: string;
  readonly group?: string;
}

/** What EC2 gives every new group: all traffic out. */
const VPC_DEFAULT_EGRESS: readonly Permission[] = [{ protocol: '-1', cidr: '0.0.0.0/0' }];

const keyOf = (p: Permission): string =>
  JSON.stringify([p.protocol, p.from ?? null, p.to ?? null, p.cidr ?? null, p.group ?? null]);

/** Salt's `all` and -1 are every protocol, which has no ports. */
function normalProtocol(protocol: string): string {
  const lower = protocol.toLowerCase();
  return lower === 'all' || lower === '-1' ? '-1' : lower;
}

export function rulePermissions(rules: readonly RuleArgs[]): Permission[] {
  return rules.flatMap((rule): Permission[] => {
    const protocol = normalProtocol(rule.ip_protocol);
    const ports = protocol === '-1' ? {} : { from: rule.from_port ?? -1, to: rule.to_port ?? rule.from_port ?? -1 };
    if (rule.source_group_group_id !== undefined) return [{ protocol, ...ports, group: rule.source_group_group_id }];
    const cidrs = Array.isArray(rule.cidr_ip) ? rule.cidr_ip : [rule.cidr_ip as string];
    return cidrs.map((cidr) => ({ protocol, ...ports, cidr }));
  });
}

export function currentPermissions(permissions: readonly IpPermission[] | undefined): Permission[] {
  return (permissions ?? []).flatMap((permission) => {
    const protocol = normalProtocol(permission.IpProtocol ?? '-1');
    const ports =
      protocol === '-1' ? {} : { from: permission.FromPort ?? -1, to: permission.ToPort ?? permission.FromPort ?? -1 };
    return [
      ...(permission.IpRanges ?? []).map((range) => ({ protocol, ...ports, cidr: range.CidrIp ?? '' })),
      ...(permission.UserIdGroupPairs ?? []).map((pair) => ({ protocol, ...ports, group: pair.GroupId ?? '' })),
    ];
  });
}

/** One IpPermission per flattened permission: EC2 takes them in any grouping. */
export function toIpPermissions(permissions: readonly Permission[]): IpPermission[] {
  return permissions.map((p) => ({
    IpProtocol: p.protocol,
    ...(p.from === undefined ? {} : { FromPort: p.from }),
    ...(p.to === undefined ? {} : { ToPort: p.to }),
    ...(p.cidr === undefined ? {} : { IpRanges: [{ CidrIp: p.cidr }] }),
    ...(p.group === undefined ? {} : { UserIdGroupPairs: [{ GroupId: p.group }] }),
  }));
}

/**
 * Salt's boto_secgroup.present/absent: a security group by name (in `vpc_id`), its ingress
 * `rules` and `rules_egress`; rules AWS has and the SLS does not are revoked unless
 * `delete_ingress_rules`/`delete_egress_rules` is False. Sources are CIDRs or a group id
 * (`source_group_name` and tags are not read). AWS calls: DescribeSecurityGroups (describe);
 * CreateSecurityGroup, AuthorizeSecurityGroupIngress, AuthorizeSecurityGroupEgress,
 * RevokeSecurityGroupIngress, RevokeSecurityGroupEgress, DeleteSecurityGroup. Tested against
 * the devstack's resource emulator (docs/aws-states.md says what it covers).
 */
export function botoSecgroupStates(env: AwsStateEnvironment): StateModule {
  return Object.freeze({
    name: 'boto_secgroup',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('ec2', args, call, env, async (aws) => {
            const ec2 = new EC2Client(aws.clientConfig);
            env.onClient?.(ec2);
            try {
              const what = `Security group ${args.name}`;
              const group = await describe(ec2, args.name, args.vpc_id);
              let groupId = group?.GroupId;
              const steps: Step[] = [];
              if (group === undefined) {
                steps.push({
                  key: 'group',
                  old: null,
                  new: {
                    name: args.name,
                    description: args.description,
                    ...(args.vpc_id === undefined ? {} : { vpc_id: args.vpc_id }),
                  },
                  apply: async () => {
                    groupId = (
                      await ec2.send(
                        new CreateSecurityGroupCommand({
                          GroupName: args.name,
                          Description: args.description,
                          ...(args.vpc_id === undefined ? {} : { VpcId: args.vpc_id }),
                        }),
                      )
                    ).GroupId;
                  },
                });
              }
              const direction = (
                key: 'rules' | 'rules_egress',
                wanted: readonly RuleArgs[] | undefined,
                current: Permission[],
                prune: boolean,
              ) => {
                if (wanted === undefined) return;
                const desired = rulePermissions(wanted);
                const have = new Set(current.map(keyOf));
                const want = new Set(desired.map(keyOf));
                const add = desired.filter((p) => !have.has(keyOf(p)));
                const revoke = prune ? current.filter((p) => !want.has(keyOf(p))) : [];
                if (add.length === 0 && revoke.length === 0) return;
                const egress = key === 'rules_egress';
                steps.push({
                  key,
                  old: current,
                  new: [...current.filter((p) => !revoke.includes(p)), ...add],
                  apply: async () => {
                    if (revoke.length > 0)
                      await (egress
                        ? ec2.send(
                            new RevokeSecurityGroupEgressCommand({
                              GroupId: groupId,
                              IpPermissions: toIpPermissions(revoke),
                            }),
                          )
                        : ec2.send(
                            new RevokeSecurityGroupIngressCommand({
                              GroupId: groupId,
                              IpPermissions: toIpPermissions(revoke),
                            }),
                          ));
                    if (add.length > 0)
                      await (egress
                        ? ec2.send(
                            new AuthorizeSecurityGroupEgressCommand({
                              GroupId: groupId,
                              IpPermissions: toIpPermissions(add),
                            }),
                          )
                        : ec2.send(
                            new AuthorizeSecurityGroupIngressCommand({
                              GroupId: groupId,
                              IpPermissions: toIpPermissions(add),
                            }),
                          ));
                  },
                });
              };
              direction('rules', args.rules, currentPermissions(group?.IpPermissions), args.delete_ingress_rules);
              direction(
                'rules_egress',
                args.rules_egress,
                group === undefined ? [...VPC_DEFAULT_EGRESS] : currentPermissions(group.IpPermissionsEgress),
                args.delete_egress_rules,
              );
              return converge(steps, {
                what,
                test: aws.test,
                secrets: aws.connection.secrets,
                creating: group === undefined,
              });
            } finally {
              ec2.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('ec2', args, call, env, async (aws) => {
            const ec2 = new EC2Client(aws.clientConfig);
            env.onClient?.(ec2);
            try {
              const group = await describe(ec2, args.name, args.vpc_id);
              return remove(group !== undefined, {
                what: `Security group ${args.name}`,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'group',
                name: args.name,
                apply: () => ec2.send(new DeleteSecurityGroupCommand({ GroupId: group?.GroupId })),
              });
            } finally {
              ec2.destroy();
            }
          }),
      }),
    }),
  });
}

async function describe(ec2: EC2Client, name: string, vpcId: string | undefined): Promise<SecurityGroup | undefined> {
  const answer = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [name] },
        ...(vpcId === undefined ? [] : [{ Name: 'vpc-id', Values: [vpcId] }]),
      ],
    }),
  );
  return answer.SecurityGroups?.find((group) => group.GroupName === name);
}
