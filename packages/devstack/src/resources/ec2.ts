/**
 * EC2 security groups as boto_secgroup uses them: describe (by filter, id or name), create,
 * authorize and revoke ingress and egress, delete. Pure: parameters in, an XML document out.
 */
import { escapeXml, xmlElement, type QueryParams, type XmlValue } from '../autoscaling/query-protocol.js';
import { AwsRequestError } from '../aws-request-error.js';

export const EC2_API_VERSION = '2016-11-15';
const EC2_NAMESPACE = `http://ec2.amazonaws.com/doc/${EC2_API_VERSION}/`;
/** The account's default VPC: a group made without `VpcId` lands in it, as on AWS. */
export const DEFAULT_VPC_ID = 'vpc-00000000000000001';

/** One flattened permission: a protocol, a port range and one source (a CIDR or a group id). */
export interface SecurityGroupRule {
  readonly protocol: string;
  readonly fromPort?: number;
  readonly toPort?: number;
  readonly cidr?: string;
  readonly groupId?: string;
}

export interface SecurityGroupRecord {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly vpcId: string;
  ingress: SecurityGroupRule[];
  egress: SecurityGroupRule[];
}

const keyOf = (r: SecurityGroupRule): string =>
  JSON.stringify([r.protocol, r.fromPort ?? null, r.toPort ?? null, r.cidr ?? null, r.groupId ?? null]);

export class SecurityGroups {
  private readonly groups = new Map<string, SecurityGroupRecord>();
  private sequence = 0;

  constructor(private readonly accountId: string) {}

  /** A snapshot, for tests and the devstack's own checks. */
  describe(): SecurityGroupRecord[] {
    return [...this.groups.values()].map((g) => ({ ...g, ingress: [...g.ingress], egress: [...g.egress] }));
  }

  /** Answers one EC2 action; undefined when the action is not one this emulator has. */
  handle(action: string, params: QueryParams, requestId: string): string | undefined {
    const reply = (result: Record<string, XmlValue>): string =>
      `<${action}Response xmlns="${EC2_NAMESPACE}"><requestId>${requestId}</requestId>` +
      Object.entries(result)
        .map(([name, value]) => xmlElement(name, value, 'item'))
        .join('') +
      `</${action}Response>`;
    switch (action) {
      case 'DescribeSecurityGroups':
        return reply({ securityGroupInfo: this.find(params).map((g) => this.groupXml(g)) });
      case 'CreateSecurityGroup':
        return reply({ return: true, groupId: this.create(params) });
      case 'AuthorizeSecurityGroupIngress':
      case 'AuthorizeSecurityGroupEgress':
        this.authorize(params, action.endsWith('Egress') ? 'egress' : 'ingress');
        return reply({ return: true });
      case 'RevokeSecurityGroupIngress':
      case 'RevokeSecurityGroupEgress':
        this.revoke(params, action.endsWith('Egress') ? 'egress' : 'ingress');
        return reply({ return: true });
      case 'DeleteSecurityGroup': {
        const group = this.target(params);
        const referrer = [...this.groups.values()].find(
          (other) => other.id !== group.id && [...other.ingress, ...other.egress].some((r) => r.groupId === group.id),
        );
        if (referrer !== undefined)
          throw new AwsRequestError(
            'DependencyViolation',
            `resource ${group.id} has a dependent object (a rule of ${referrer.id})`,
          );
        this.groups.delete(group.id);
        return reply({ return: true });
      }
      default:
        return undefined;
    }
  }

  private find(params: QueryParams): SecurityGroupRecord[] {
    let found = [...this.groups.values()];
    const ids = params.indexedList('GroupId');
    const names = params.indexedList('GroupName');
    for (const id of ids) if (!this.groups.has(id)) throw notFound(`The security group '${id}' does not exist`);
    for (const name of names) {
      if (!found.some((g) => g.name === name && g.vpcId === DEFAULT_VPC_ID))
        throw notFound(`The security group '${name}' does not exist in default VPC '${DEFAULT_VPC_ID}'`);
    }
    if (ids.length > 0) found = found.filter((g) => ids.includes(g.id));
    if (names.length > 0) found = found.filter((g) => names.includes(g.name) && g.vpcId === DEFAULT_VPC_ID);
    for (const filter of params.indexed('Filter')) {
      const name = filter.required('Name');
      const values = filter.indexedList('Value');
      const field: Record<string, (g: SecurityGroupRecord) => string> = {
        'group-name': (g) => g.name,
        'group-id': (g) => g.id,
        'vpc-id': (g) => g.vpcId,
        description: (g) => g.description,
      };
      const of = field[name];
      if (of === undefined) throw new AwsRequestError('InvalidParameterValue', `The filter '${name}' is invalid`);
      found = found.filter((g) => values.includes(of(g)));
    }
    return found;
  }

  private create(params: QueryParams): string {
    const name = params.optional('GroupName');
    const description = params.optional('GroupDescription');
    if (name === undefined) throw missing('GroupName');
    if (description === undefined) throw missing('GroupDescription');
    if (name.length > 255 || description.length > 255)
      throw new AwsRequestError('InvalidParameterValue', 'GroupName and GroupDescription are at most 255 characters');
    const vpcId = params.optional('VpcId') ?? DEFAULT_VPC_ID;
    if ([...this.groups.values()].some((g) => g.name === name && g.vpcId === vpcId))
      throw new AwsRequestError(
        'InvalidGroup.Duplicate',
        `The security group '${name}' already exists for VPC '${vpcId}'`,
      );
    const id = `sg-${(++this.sequence).toString(16).padStart(17, '0')}`;
    // Every new VPC group may send anything anywhere until told otherwise, as on AWS.
    this.groups.set(id, { id, name, description, vpcId, ingress: [], egress: [{ protocol: '-1', cidr: '0.0.0.0/0' }] });
    return id;
  }

  private target(params: QueryParams): SecurityGroupRecord {
    const id = params.optional('GroupId');
    const name = params.optional('GroupName');
    if (id === undefined && name === undefined) throw missing('GroupId');
    const group =
      id === undefined
        ? [...this.groups.values()].find((g) => g.name === name && g.vpcId === DEFAULT_VPC_ID)
        : this.groups.get(id);
    if (group === undefined) throw notFound(`The security group '${id ?? name}' does not exist`);
    return group;
  }

  private authorize(params: QueryParams, direction: 'ingress' | 'egress'): void {
    const group = this.target(params);
    const rules = this.rules(params);
    const held = new Set(group[direction].map(keyOf));
    const seen = new Set<string>();
    for (const rule of rules) {
      if (held.has(keyOf(rule)) || seen.has(keyOf(rule)))
        throw new AwsRequestError(
          'InvalidPermission.Duplicate',
          `the specified rule "peer: ${rule.cidr ?? rule.groupId}, ${ruleText(rule)}, ALLOW" already exists`,
        );
      seen.add(keyOf(rule));
    }
    group[direction].push(...rules);
  }

  private revoke(params: QueryParams, direction: 'ingress' | 'egress'): void {
    const group = this.target(params);
    const rules = this.rules(params);
    const held = new Set(group[direction].map(keyOf));
    const unknown = rules.find((r) => !held.has(keyOf(r)));
    if (unknown !== undefined)
      throw new AwsRequestError(
        'InvalidPermission.NotFound',
        `The specified rule does not exist in this security group (${ruleText(unknown)}).`,
      );
    const gone = new Set(rules.map(keyOf));
    group[direction] = group[direction].filter((r) => !gone.has(keyOf(r)));
  }

  /** `IpPermissions.N`, each with any number of `IpRanges.M.CidrIp` and `Groups.M.GroupId`, flattened. */
  private rules(params: QueryParams): SecurityGroupRule[] {
    const permissions = params.indexed('IpPermissions');
    if (permissions.length === 0) throw missing('IpPermissions');
    return permissions.flatMap((permission) => {
      const raw = permission.required('IpProtocol').toLowerCase();
      const protocol = raw === 'all' ? '-1' : raw;
      if (!['-1', 'tcp', 'udp', 'icmp', 'icmpv6'].includes(protocol) && !/^\d{1,3}$/.test(protocol))
        throw new AwsRequestError('InvalidParameterValue', `Invalid value '${raw}' for IP protocol.`);
      const ports =
        protocol === '-1' ? {} : { fromPort: permission.integer('FromPort'), toPort: permission.integer('ToPort') };
      if (ports.fromPort !== undefined && ports.toPort !== undefined && ports.fromPort > ports.toPort)
        throw new AwsRequestError('InvalidParameterValue', 'The from port is higher than the to port.');
      const cidrs = permission.indexed('IpRanges').map((range) => range.required('CidrIp'));
      for (const cidr of cidrs) {
        if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(cidr))
          throw new AwsRequestError('InvalidParameterValue', `CIDR block ${cidr} is malformed`);
      }
      const groups = permission.indexed('Groups').map((pair) => pair.required('GroupId'));
      for (const id of groups) if (!this.groups.has(id)) throw notFound(`The security group '${id}' does not exist`);
      if (cidrs.length === 0 && groups.length === 0) throw missing('IpPermissions.N.IpRanges or Groups');
      return [
        ...cidrs.map((cidr) => ({ protocol, ...ports, cidr })),
        ...groups.map((groupId) => ({ protocol, ...ports, groupId })),
      ];
    });
  }

  /** AWS answers rules grouped by protocol and ports, with every source of that range inside. */
  private groupXml(group: SecurityGroupRecord): XmlValue {
    const permissions = (rules: readonly SecurityGroupRule[]): XmlValue[] => {
      const byRange = new Map<string, SecurityGroupRule[]>();
      for (const rule of rules) {
        const range = JSON.stringify([rule.protocol, rule.fromPort ?? null, rule.toPort ?? null]);
        byRange.set(range, [...(byRange.get(range) ?? []), rule]);
      }
      return [...byRange.values()].map((same) => {
        const first = same[0] as SecurityGroupRule;
        return {
          ipProtocol: first.protocol,
          fromPort: first.fromPort,
          toPort: first.toPort,
          groups: same.flatMap((r) =>
            r.groupId === undefined ? [] : [{ userId: this.accountId, groupId: r.groupId }],
          ),
          ipRanges: same.flatMap((r) => (r.cidr === undefined ? [] : [{ cidrIp: r.cidr }])),
          ipv6Ranges: [],
          prefixListIds: [],
        };
      });
    };
    return {
      ownerId: this.accountId,
      groupId: group.id,
      groupName: group.name,
      groupDescription: group.description,
      vpcId: group.vpcId,
      ipPermissions: permissions(group.ingress),
      ipPermissionsEgress: permissions(group.egress),
      tagSet: [],
    };
  }
}

function ruleText(rule: SecurityGroupRule): string {
  return rule.protocol === '-1' ? 'ALL' : `${rule.protocol} ${rule.fromPort}-${rule.toPort}`;
}

function notFound(message: string): AwsRequestError {
  return new AwsRequestError('InvalidGroup.NotFound', message);
}

function missing(name: string): AwsRequestError {
  return new AwsRequestError('MissingParameter', `The request must contain the parameter ${name}`);
}

/** EC2's own error shape: `<Response><Errors><Error>`, with `RequestID` (capital D) beside it. */
export function ec2ErrorXml(error: AwsRequestError, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${escapeXml(error.awsCode)}</Code>` +
    `<Message>${escapeXml(error.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
  );
}
