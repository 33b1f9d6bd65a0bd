/**
 * Classic load balancers (Elastic Load Balancing, API 2012-06-01) as boto_elb uses them:
 * create, describe and delete; listeners, health check, availability zones, subnets, security
 * groups, attributes and tags. Pure: parameters in, an XML document out. No instance is ever
 * registered and no health is checked: the emulator keeps configuration only.
 */
import { escapeXml, xmlElement, type QueryParams, type XmlValue } from '../autoscaling/query-protocol.js';
import { AwsRequestError } from '../aws-request-error.js';
import { DEFAULT_VPC_ID } from './ec2.js';

export const ELB_API_VERSION = '2012-06-01';
const ELB_NAMESPACE = `http://elasticloadbalancing.amazonaws.com/doc/${ELB_API_VERSION}/`;
/** AWS's rule: letters, digits and hyphens, at most 32, no hyphen at either end. */
const NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$/;
const PROTOCOLS = ['HTTP', 'HTTPS', 'TCP', 'SSL'];
const SUBNET_ID = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const HEALTH_TARGET = /^(?:(?:HTTP|HTTPS):\d{1,5}\/\S*|(?:TCP|SSL):\d{1,5})$/;
const MAX_TAGS = 10;

export interface ListenerRecord {
  readonly protocol: string;
  readonly loadBalancerPort: number;
  readonly instanceProtocol: string;
  readonly instancePort: number;
  readonly sslCertificateId?: string;
}

export interface HealthCheckRecord {
  readonly target: string;
  readonly interval: number;
  readonly timeout: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
}

export interface LoadBalancerAttributesRecord {
  readonly crossZoneLoadBalancing: boolean;
  readonly connectionDraining: { readonly enabled: boolean; readonly timeout: number };
  readonly idleTimeout: number;
  readonly accessLog: {
    readonly enabled: boolean;
    readonly s3BucketName?: string;
    readonly s3BucketPrefix?: string;
    readonly emitInterval?: number;
  };
}

export interface LoadBalancerRecord {
  readonly name: string;
  readonly dnsName: string;
  readonly scheme: 'internet-facing' | 'internal';
  readonly created: Date;
  /** Subnets' VPC: the default VPC here (subnets are not modelled), none without subnets. */
  readonly vpcId?: string;
  listeners: ListenerRecord[];
  availabilityZones: string[];
  subnets: string[];
  securityGroups: string[];
  healthCheck: HealthCheckRecord;
  attributes: LoadBalancerAttributesRecord;
  readonly tags: Map<string, string>;
}

export class ClassicLoadBalancers {
  private readonly balancers = new Map<string, LoadBalancerRecord>();

  /** `securityGroupExists` is the EC2 emulator's: a group named by id must exist there, as on AWS. */
  constructor(
    private readonly region: string,
    private readonly now: () => Date,
    private readonly securityGroupExists: (id: string) => boolean,
  ) {}

  /** A snapshot, for tests and the devstack's own checks. */
  describe(): LoadBalancerRecord[] {
    return [...this.balancers.values()].map((lb) => ({
      ...lb,
      listeners: [...lb.listeners],
      availabilityZones: [...lb.availabilityZones],
      subnets: [...lb.subnets],
      securityGroups: [...lb.securityGroups],
      tags: new Map(lb.tags),
    }));
  }

  /** Answers one ELB action; undefined when the action is not one this emulator has. */
  handle(action: string, params: QueryParams, requestId: string): string | undefined {
    const result = this.run(action, params);
    if (result === null) return undefined;
    return (
      `<${action}Response xmlns="${ELB_NAMESPACE}">${xmlElement(`${action}Result`, result)}` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
    );
  }

  /** The action's result (AWS answers an empty result element for actions that return nothing); null for an unknown action. */
  private run(action: string, params: QueryParams): Record<string, XmlValue> | null {
    switch (action) {
      case 'DescribeLoadBalancers': {
        const names = params.list('LoadBalancerNames');
        const found = names.length === 0 ? [...this.balancers.values()] : names.map((name) => this.balancer(name));
        return { LoadBalancerDescriptions: found.map((lb) => this.descriptionXml(lb)) };
      }
      case 'CreateLoadBalancer':
        return { DNSName: this.create(params).dnsName };
      case 'DeleteLoadBalancer':
        // AWS answers success for a name it does not have.
        this.balancers.delete(params.required('LoadBalancerName'));
        return {};
      case 'CreateLoadBalancerListeners': {
        const lb = this.target(params);
        const listeners = this.listeners(params);
        for (const listener of listeners) {
          const same = lb.listeners.find((l) => l.loadBalancerPort === listener.loadBalancerPort);
          if (same !== undefined && JSON.stringify(same) !== JSON.stringify(listener))
            throw new AwsRequestError(
              'DuplicateListener',
              `A listener already exists for ${lb.name} with LoadBalancerPort ${listener.loadBalancerPort}, but with a different InstancePort, Protocol, or SSLCertificateId`,
            );
        }
        const added = listeners.filter((l) => !lb.listeners.some((x) => x.loadBalancerPort === l.loadBalancerPort));
        lb.listeners = [...lb.listeners, ...added];
        return {};
      }
      case 'DeleteLoadBalancerListeners': {
        const lb = this.target(params);
        const ports = params.list('LoadBalancerPorts').map(Number);
        lb.listeners = lb.listeners.filter((l) => !ports.includes(l.loadBalancerPort));
        return {};
      }
      case 'ConfigureHealthCheck': {
        const lb = this.target(params);
        lb.healthCheck = healthCheck(params.structure('HealthCheck'));
        return { HealthCheck: healthCheckXml(lb.healthCheck) };
      }
      case 'EnableAvailabilityZonesForLoadBalancer':
      case 'DisableAvailabilityZonesForLoadBalancer': {
        const lb = this.target(params);
        if (lb.subnets.length > 0)
          throw new AwsRequestError(
            'InvalidConfigurationRequest',
            'A load balancer in a VPC takes subnets, not availability zones',
            409,
          );
        const zones = this.zones(params.list('AvailabilityZones'));
        const next = action.startsWith('Enable')
          ? [...new Set([...lb.availabilityZones, ...zones])]
          : lb.availabilityZones.filter((z) => !zones.includes(z));
        if (next.length === 0)
          throw new AwsRequestError('ValidationError', 'Cannot remove all availability zones from a load balancer');
        lb.availabilityZones = next;
        return { AvailabilityZones: [...next] };
      }
      case 'AttachLoadBalancerToSubnets':
      case 'DetachLoadBalancerFromSubnets': {
        const lb = this.target(params);
        if (lb.subnets.length === 0)
          throw new AwsRequestError(
            'InvalidConfigurationRequest',
            'A load balancer outside a VPC takes availability zones, not subnets',
            409,
          );
        const subnets = this.subnets(params.list('Subnets'));
        const next = action.startsWith('Attach')
          ? [...new Set([...lb.subnets, ...subnets])]
          : lb.subnets.filter((s) => !subnets.includes(s));
        if (next.length === 0)
          throw new AwsRequestError(
            'InvalidConfigurationRequest',
            'Cannot detach all subnets from a load balancer',
            409,
          );
        lb.subnets = next;
        lb.availabilityZones = zonesOf(next, this.region);
        return { Subnets: [...next] };
      }
      case 'ApplySecurityGroupsToLoadBalancer': {
        const lb = this.target(params);
        const groups = this.securityGroups(params.list('SecurityGroups'));
        if (groups.length === 0) throw missing('SecurityGroups');
        lb.securityGroups = groups;
        return { SecurityGroups: [...groups] };
      }
      case 'DescribeLoadBalancerAttributes':
        return { LoadBalancerAttributes: attributesXml(this.target(params).attributes) };
      case 'ModifyLoadBalancerAttributes': {
        const lb = this.target(params);
        lb.attributes = modifiedAttributes(lb.attributes, params.structure('LoadBalancerAttributes'));
        return { LoadBalancerName: lb.name, LoadBalancerAttributes: attributesXml(lb.attributes) };
      }
      case 'DescribeTags': {
        const names = params.list('LoadBalancerNames');
        if (names.length === 0) throw missing('LoadBalancerNames');
        return {
          TagDescriptions: names.map((name) => {
            const lb = this.balancer(name);
            return { LoadBalancerName: lb.name, Tags: [...lb.tags].map(([Key, Value]) => ({ Key, Value })) };
          }),
        };
      }
      case 'AddTags': {
        const balancers = params.list('LoadBalancerNames').map((name) => this.balancer(name));
        const tags = tagsOf(params);
        for (const lb of balancers) {
          const keys = new Set([...lb.tags.keys(), ...tags.keys()]);
          if (keys.size > MAX_TAGS)
            throw new AwsRequestError('TooManyTags', `A load balancer can have at most ${MAX_TAGS} tags`);
        }
        for (const lb of balancers) for (const [key, value] of tags) lb.tags.set(key, value);
        return {};
      }
      case 'RemoveTags': {
        const balancers = params.list('LoadBalancerNames').map((name) => this.balancer(name));
        const keys = params.structures('Tags').map((tag) => tag.required('Key'));
        for (const lb of balancers) for (const key of keys) lb.tags.delete(key);
        return {};
      }
      default:
        return null;
    }
  }

  private create(params: QueryParams): LoadBalancerRecord {
    const name = params.required('LoadBalancerName');
    if (!NAME.test(name))
      throw new AwsRequestError(
        'ValidationError',
        `LoadBalancerName '${name}' must have at most 32 characters, only letters, digits and hyphens, and must not begin or end with a hyphen`,
      );
    if (this.balancers.has(name))
      throw new AwsRequestError('DuplicateLoadBalancerName', `Load Balancer named '${name}' already exists`);
    const listeners = this.listeners(params);
    const subnets = this.subnets(params.list('Subnets'));
    const zones = this.zones(params.list('AvailabilityZones'));
    if ((subnets.length === 0) === (zones.length === 0))
      throw new AwsRequestError(
        'ValidationError',
        'Exactly one of AvailabilityZones and Subnets must be specified for a load balancer',
      );
    const scheme = params.optional('Scheme') ?? 'internet-facing';
    if (scheme !== 'internet-facing' && scheme !== 'internal')
      throw new AwsRequestError('InvalidScheme', `Invalid scheme '${scheme}': internet-facing or internal`);
    if (scheme === 'internal' && subnets.length === 0)
      throw new AwsRequestError('InvalidScheme', 'An internal load balancer must be in a VPC (give Subnets)');
    const groups = this.securityGroups(params.list('SecurityGroups'));
    const tags = tagsOf(params);
    if (tags.size > MAX_TAGS)
      throw new AwsRequestError('TooManyTags', `A load balancer can have at most ${MAX_TAGS} tags`);
    const first = listeners[0] as ListenerRecord;
    const id = String(1_000_000_000 + this.balancers.size + 1);
    const record: LoadBalancerRecord = {
      name,
      dnsName: `${scheme === 'internal' ? 'internal-' : ''}${name}-${id}.${this.region}.elb.amazonaws.com`,
      scheme,
      created: this.now(),
      ...(subnets.length === 0 ? {} : { vpcId: DEFAULT_VPC_ID }),
      listeners,
      availabilityZones: subnets.length === 0 ? zones : zonesOf(subnets, this.region),
      subnets,
      securityGroups: groups,
      // AWS's default health check: a TCP connect to the first listener's instance port.
      healthCheck: {
        target: `TCP:${first.instancePort}`,
        interval: 30,
        timeout: 5,
        unhealthyThreshold: 2,
        healthyThreshold: 10,
      },
      attributes: {
        crossZoneLoadBalancing: false,
        connectionDraining: { enabled: false, timeout: 300 },
        idleTimeout: 60,
        accessLog: { enabled: false },
      },
      tags,
    };
    this.balancers.set(name, record);
    return record;
  }

  private balancer(name: string): LoadBalancerRecord {
    const lb = this.balancers.get(name);
    if (lb === undefined)
      throw new AwsRequestError('LoadBalancerNotFound', `There is no ACTIVE Load Balancer named '${name}'`);
    return lb;
  }

  private target(params: QueryParams): LoadBalancerRecord {
    return this.balancer(params.required('LoadBalancerName'));
  }

  private listeners(params: QueryParams): ListenerRecord[] {
    const listeners = params.structures('Listeners').map((l): ListenerRecord => {
      const protocol = l.required('Protocol').toUpperCase();
      const instanceProtocol = (l.optional('InstanceProtocol') ?? protocol).toUpperCase();
      for (const p of [protocol, instanceProtocol])
        if (!PROTOCOLS.includes(p))
          throw new AwsRequestError('ValidationError', `Invalid protocol '${p}': HTTP, HTTPS, TCP or SSL`);
      const port = l.integer('LoadBalancerPort');
      const instancePort = l.integer('InstancePort');
      for (const p of [port, instancePort])
        if (p < 1 || p > 65_535) throw new AwsRequestError('ValidationError', `Invalid port ${p}`);
      const certificate = l.optional('SSLCertificateId');
      if ((protocol === 'HTTPS' || protocol === 'SSL') && certificate === undefined)
        throw new AwsRequestError('ValidationError', `A ${protocol} listener needs an SSLCertificateId`);
      return {
        protocol,
        loadBalancerPort: port,
        instanceProtocol,
        instancePort,
        ...(certificate === undefined ? {} : { sslCertificateId: certificate }),
      };
    });
    if (listeners.length === 0) throw missing('Listeners');
    const ports = listeners.map((l) => l.loadBalancerPort);
    if (new Set(ports).size !== ports.length)
      throw new AwsRequestError('DuplicateListener', 'Two listeners have the same LoadBalancerPort');
    return listeners;
  }

  private zones(zones: string[]): string[] {
    for (const zone of zones)
      if (!zone.startsWith(this.region) || !/^[a-z]$/.test(zone.slice(this.region.length)))
        throw new AwsRequestError('ValidationError', `Invalid availability zone: [${zone}]`);
    return [...new Set(zones)];
  }

  private subnets(subnets: string[]): string[] {
    const bad = subnets.find((s) => !SUBNET_ID.test(s));
    if (bad !== undefined) throw new AwsRequestError('SubnetNotFound', `The subnet ID '${bad}' does not exist`);
    return [...new Set(subnets)];
  }

  private securityGroups(groups: string[]): string[] {
    const bad = groups.find((id) => !this.securityGroupExists(id));
    if (bad !== undefined)
      throw new AwsRequestError('InvalidSecurityGroup', `One or more security groups are invalid: ${bad}`);
    return [...new Set(groups)];
  }

  private descriptionXml(lb: LoadBalancerRecord): XmlValue {
    return {
      LoadBalancerName: lb.name,
      DNSName: lb.dnsName,
      CanonicalHostedZoneName: lb.dnsName,
      CanonicalHostedZoneNameID: 'Z35SXDOTRQ7X7K',
      ListenerDescriptions: lb.listeners.map((l) => ({
        Listener: {
          Protocol: l.protocol,
          LoadBalancerPort: l.loadBalancerPort,
          InstanceProtocol: l.instanceProtocol,
          InstancePort: l.instancePort,
          SSLCertificateId: l.sslCertificateId,
        },
        PolicyNames: [],
      })),
      Policies: { AppCookieStickinessPolicies: [], LBCookieStickinessPolicies: [], OtherPolicies: [] },
      BackendServerDescriptions: [],
      AvailabilityZones: [...lb.availabilityZones],
      Subnets: [...lb.subnets],
      VPCId: lb.vpcId,
      Instances: [],
      HealthCheck: healthCheckXml(lb.healthCheck),
      SourceSecurityGroup: { OwnerAlias: 'amazon-elb', GroupName: 'amazon-elb-sg' },
      SecurityGroups: [...lb.securityGroups],
      CreatedTime: lb.created,
      Scheme: lb.scheme,
    };
  }
}

/** The emulator does not model subnets: each stands in a zone of the region by its place in the list. */
function zonesOf(subnets: readonly string[], region: string): string[] {
  return [...new Set(subnets.map((_, i) => `${region}${String.fromCharCode(97 + (i % 6))}`))];
}

function healthCheck(params: QueryParams): HealthCheckRecord {
  const target = params.required('Target');
  if (!HEALTH_TARGET.test(target))
    throw new AwsRequestError(
      'ValidationError',
      `Invalid health check target '${target}': PROTOCOL:PORT, with a path for HTTP and HTTPS`,
    );
  const check = {
    target,
    interval: params.integer('Interval'),
    timeout: params.integer('Timeout'),
    unhealthyThreshold: params.integer('UnhealthyThreshold'),
    healthyThreshold: params.integer('HealthyThreshold'),
  };
  if (check.interval < 5 || check.interval > 300)
    throw new AwsRequestError('ValidationError', 'Interval must be between 5 and 300 seconds');
  if (check.timeout < 2 || check.timeout > 60 || check.timeout >= check.interval)
    throw new AwsRequestError('ValidationError', 'Timeout must be between 2 and 60 seconds, and less than Interval');
  for (const n of [check.unhealthyThreshold, check.healthyThreshold])
    if (n < 2 || n > 10) throw new AwsRequestError('ValidationError', 'Thresholds must be between 2 and 10');
  return check;
}

function healthCheckXml(check: HealthCheckRecord): XmlValue {
  return {
    Target: check.target,
    Interval: check.interval,
    Timeout: check.timeout,
    UnhealthyThreshold: check.unhealthyThreshold,
    HealthyThreshold: check.healthyThreshold,
  };
}

/** ModifyLoadBalancerAttributes: each section given replaces that section; the others stay. */
function modifiedAttributes(current: LoadBalancerAttributesRecord, params: QueryParams): LoadBalancerAttributesRecord {
  let next = current;
  const crossZone = params.structure('CrossZoneLoadBalancing');
  if (crossZone.optional('Enabled') !== undefined)
    next = { ...next, crossZoneLoadBalancing: crossZone.boolean('Enabled') };
  const draining = params.structure('ConnectionDraining');
  if (draining.optional('Enabled') !== undefined) {
    const timeout = draining.optionalInteger('Timeout') ?? current.connectionDraining.timeout;
    if (timeout < 1 || timeout > 3600)
      throw new AwsRequestError('ValidationError', 'ConnectionDraining Timeout must be between 1 and 3600 seconds');
    next = { ...next, connectionDraining: { enabled: draining.boolean('Enabled'), timeout } };
  }
  const settings = params.structure('ConnectionSettings');
  if (settings.optional('IdleTimeout') !== undefined) {
    const idle = settings.integer('IdleTimeout');
    if (idle < 1 || idle > 4000)
      throw new AwsRequestError('ValidationError', 'IdleTimeout must be between 1 and 4000 seconds');
    next = { ...next, idleTimeout: idle };
  }
  const log = params.structure('AccessLog');
  if (log.optional('Enabled') !== undefined) {
    const enabled = log.boolean('Enabled');
    const bucket = log.optional('S3BucketName');
    const prefix = log.optional('S3BucketPrefix');
    const interval = log.optionalInteger('EmitInterval');
    if (enabled && bucket === undefined)
      throw new AwsRequestError('InvalidConfigurationRequest', 'An enabled access log needs S3BucketName', 409);
    if (interval !== undefined && interval !== 5 && interval !== 60)
      throw new AwsRequestError('ValidationError', 'EmitInterval must be 5 or 60 minutes');
    next = {
      ...next,
      accessLog: {
        enabled,
        ...(bucket === undefined ? {} : { s3BucketName: bucket }),
        ...(prefix === undefined ? {} : { s3BucketPrefix: prefix }),
        ...(interval === undefined ? {} : { emitInterval: interval }),
      },
    };
  }
  return next;
}

function attributesXml(a: LoadBalancerAttributesRecord): XmlValue {
  return {
    CrossZoneLoadBalancing: { Enabled: a.crossZoneLoadBalancing },
    AccessLog: {
      Enabled: a.accessLog.enabled,
      S3BucketName: a.accessLog.s3BucketName,
      EmitInterval: a.accessLog.emitInterval,
      S3BucketPrefix: a.accessLog.s3BucketPrefix,
    },
    ConnectionDraining: { Enabled: a.connectionDraining.enabled, Timeout: a.connectionDraining.timeout },
    ConnectionSettings: { IdleTimeout: a.idleTimeout },
    AdditionalAttributes: [],
  };
}

function tagsOf(params: QueryParams): Map<string, string> {
  const tags = new Map<string, string>();
  for (const tag of params.structures('Tags')) {
    const key = tag.required('Key');
    if (key.length > 128) throw new AwsRequestError('ValidationError', 'A tag key is at most 128 characters');
    if (tags.has(key)) throw new AwsRequestError('DuplicateTagKeys', `Tag key '${key}' is given twice`);
    tags.set(key, tag.optional('Value') ?? '');
  }
  return tags;
}

function missing(name: string): AwsRequestError {
  return new AwsRequestError('ValidationError', `The request must contain the parameter ${name}`);
}

/** ELB's query-protocol error shape, as Auto Scaling's and IAM's, in its own namespace. */
export function elbErrorXml(error: AwsRequestError, requestId: string): string {
  const type = error.httpStatus >= 500 ? 'Receiver' : 'Sender';
  return (
    `<ErrorResponse xmlns="${ELB_NAMESPACE}"><Error><Type>${type}</Type><Code>${escapeXml(error.awsCode)}</Code>` +
    `<Message>${escapeXml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}
