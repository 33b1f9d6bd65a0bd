/**
 * Route 53 hosted zones and record sets as boto_route53 uses them, over Route 53's REST-XML
 * protocol (API 2013-04-01): CreateHostedZone, ListHostedZones, ListHostedZonesByName,
 * ListResourceRecordSets, ChangeResourceRecordSets and GetChange. Pure: a method, a path and a
 * body in, a status and an XML document out. Nothing resolves: the emulator keeps records only.
 */
import { randomBytes } from 'node:crypto';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { AwsRequestError } from '../aws-request-error.js';

export const ROUTE53_API_VERSION = '2013-04-01';
const ROUTE53_NAMESPACE = `https://route53.amazonaws.com/doc/${ROUTE53_API_VERSION}/`;
const RECORD_TYPES = ['A', 'AAAA', 'CAA', 'CNAME', 'DS', 'MX', 'NAPTR', 'NS', 'PTR', 'SOA', 'SPF', 'SRV', 'TXT'];
const LABEL = /^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const MAX_ITEMS = 300;
const MAX_CHANGES = 1000;

export interface RecordSetRecord {
  readonly name: string;
  readonly type: string;
  readonly ttl?: number;
  readonly setIdentifier?: string;
  readonly weight?: number;
  readonly values: readonly string[];
}

export interface HostedZoneRecord {
  readonly id: string;
  readonly name: string;
  readonly callerReference: string;
  readonly comment?: string;
  readonly privateZone: boolean;
  records: RecordSetRecord[];
}

export interface Route53Answer {
  readonly status: number;
  readonly body: string;
  readonly action: string;
  /** AWS's code when refused. */
  readonly refused?: string;
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false });
const parser = new XMLParser({
  parseTagValue: false,
  ignoreAttributes: true,
  isArray: (name) => ['Change', 'ResourceRecord'].includes(name),
  processEntities: true,
});

/** `www.Example.com` and `www.example.com.` are one name: lower case, with the root's dot. */
export function normalName(name: string): string {
  const lower = name.toLowerCase().replace(/\\052/g, '*');
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Route 53 answers `*` as `\052`, as its API documents. */
function shownName(name: string): string {
  return name.replace(/\*/g, '\\052');
}

/** AWS's order of names: by labels from the right (`com.example.www`). */
function nameKey(name: string): string {
  return name.split('.').reverse().join('.');
}

function compareRecords(a: RecordSetRecord, b: RecordSetRecord): number {
  return (
    nameKey(a.name).localeCompare(nameKey(b.name)) ||
    a.type.localeCompare(b.type) ||
    (a.setIdentifier ?? '').localeCompare(b.setIdentifier ?? '')
  );
}

export class HostedZones {
  private readonly zones = new Map<string, HostedZoneRecord>();
  private readonly changes = new Map<string, { submittedAt: Date; comment?: string }>();

  constructor(private readonly now: () => Date) {}

  /** A snapshot, for tests and the devstack's own checks. */
  describe(): HostedZoneRecord[] {
    return [...this.zones.values()].map((zone) => ({ ...zone, records: [...zone.records] }));
  }

  /** Answers one request; undefined when the path is not one this emulator has. */
  handle(method: string, url: string, body: string, requestId: string): Route53Answer | undefined {
    const { pathname, searchParams } = new URL(url, 'http://localhost');
    const path = pathname.slice(`/${ROUTE53_API_VERSION}`.length);
    const query = (name: string): string | undefined => searchParams.get(name) ?? undefined;
    const route = ((): [string, () => [number, Record<string, unknown>]] | undefined => {
      if (method === 'POST' && path === '/hostedzone') return ['CreateHostedZone', () => this.create(body)];
      if (method === 'GET' && path === '/hostedzone') return ['ListHostedZones', () => this.list(query)];
      if (method === 'GET' && path === '/hostedzonesbyname')
        return ['ListHostedZonesByName', () => this.listByName(query)];
      const rrset = /^\/hostedzone\/([^/]+)\/rrset\/?$/.exec(path);
      if (rrset !== null && method === 'GET')
        return ['ListResourceRecordSets', () => this.listRecords(decodeURIComponent(rrset[1] ?? ''), query)];
      if (rrset !== null && method === 'POST')
        return ['ChangeResourceRecordSets', () => this.change(decodeURIComponent(rrset[1] ?? ''), body)];
      const change = /^\/change\/([^/]+)$/.exec(path);
      if (change !== null && method === 'GET') return ['GetChange', () => this.getChange(change[1] ?? '')];
      return undefined;
    })();
    if (route === undefined) return undefined;
    const [action, run] = route;
    try {
      const [status, result] = run();
      return { status, action, body: this.document(`${action}Response`, result) };
    } catch (err) {
      const error =
        err instanceof AwsRequestError
          ? err
          : new AwsRequestError('InternalFailure', 'An internal error occurred.', 500);
      return { status: error.httpStatus, action, body: route53ErrorXml(error, requestId), refused: error.awsCode };
    }
  }

  private document(root: string, content: Record<string, unknown>): string {
    return (
      '<?xml version="1.0" encoding="UTF-8"?>' + builder.build({ [root]: { '@_xmlns': ROUTE53_NAMESPACE, ...content } })
    );
  }

  private zone(id: string): HostedZoneRecord {
    const zone = this.zones.get(id.replace(/^\/?hostedzone\//, ''));
    if (zone === undefined) throw new AwsRequestError('NoSuchHostedZone', `No hosted zone found with ID: ${id}`, 404);
    return zone;
  }

  private create(body: string): [number, Record<string, unknown>] {
    const request = parse(body, 'CreateHostedZoneRequest');
    const name = normalName(text(request, 'Name') ?? '');
    const callerReference = text(request, 'CallerReference');
    if (callerReference === undefined || callerReference.length > 128)
      throw new AwsRequestError('InvalidInput', 'CallerReference must have length between 1 and 128');
    if (!validDomain(name) || name === '.')
      throw new AwsRequestError('InvalidDomainName', `${name} is not a valid domain name`);
    if ([...this.zones.values()].some((z) => z.callerReference === callerReference))
      throw new AwsRequestError(
        'HostedZoneAlreadyExists',
        `A hosted zone has already been created with the specified caller reference ${callerReference}`,
        409,
      );
    const config = object(request, 'HostedZoneConfig');
    const comment = text(config, 'Comment');
    const privateZone = text(config, 'PrivateZone') === 'true' || object(request, 'VPC') !== undefined;
    const id = `Z${randomBytes(10).toString('hex').toUpperCase().slice(0, 13)}`;
    const servers = [1, 2, 3, 4].map((n) => `ns-${n}.awsdns-emulated.${['com', 'net', 'org', 'co.uk'][n - 1]}.`);
    const zone: HostedZoneRecord = {
      id,
      name,
      callerReference,
      ...(comment === undefined ? {} : { comment }),
      privateZone,
      // Every new zone has its NS and SOA record sets, as on AWS.
      records: [
        { name, type: 'NS', ttl: 172_800, values: servers },
        {
          name,
          type: 'SOA',
          ttl: 900,
          values: [`${servers[0]} awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400`],
        },
      ],
    };
    this.zones.set(id, zone);
    return [
      201,
      {
        HostedZone: this.zoneXml(zone),
        ChangeInfo: this.submit(comment),
        DelegationSet: { NameServers: { NameServer: servers } },
      },
    ];
  }

  private zoneXml(zone: HostedZoneRecord): Record<string, unknown> {
    return {
      Id: `/hostedzone/${zone.id}`,
      Name: shownName(zone.name),
      CallerReference: zone.callerReference,
      Config: { ...(zone.comment === undefined ? {} : { Comment: zone.comment }), PrivateZone: zone.privateZone },
      ResourceRecordSetCount: zone.records.length,
    };
  }

  private sortedZones(): HostedZoneRecord[] {
    return [...this.zones.values()].sort(
      (a, b) => nameKey(a.name).localeCompare(nameKey(b.name)) || a.id.localeCompare(b.id),
    );
  }

  private list(query: (name: string) => string | undefined): [number, Record<string, unknown>] {
    const max = maxItems(query('maxitems'), 100);
    const zones = this.sortedZones();
    const marker = query('marker');
    const start =
      marker === undefined
        ? 0
        : Math.max(
            0,
            zones.findIndex((z) => z.id === marker),
          );
    const page = zones.slice(start, start + max);
    const next = zones[start + max];
    return [
      200,
      {
        HostedZones: page.length === 0 ? '' : { HostedZone: page.map((z) => this.zoneXml(z)) },
        ...(marker === undefined ? {} : { Marker: marker }),
        IsTruncated: next !== undefined,
        ...(next === undefined ? {} : { NextMarker: next.id }),
        MaxItems: max,
      },
    ];
  }

  /** Zones in name order from `dnsname` on (AWS's paging by name). */
  private listByName(query: (name: string) => string | undefined): [number, Record<string, unknown>] {
    const max = maxItems(query('maxitems'), 100);
    const dnsName = query('dnsname');
    const zoneId = query('hostedzoneid');
    if (zoneId !== undefined && dnsName === undefined)
      throw new AwsRequestError('InvalidInput', 'hostedzoneid needs dnsname');
    const from = dnsName === undefined ? undefined : nameKey(normalName(dnsName));
    const zones = this.sortedZones().filter((z) => from === undefined || nameKey(z.name) >= from);
    const page = zones.slice(0, max);
    const next = zones[max];
    return [
      200,
      {
        HostedZones: page.length === 0 ? '' : { HostedZone: page.map((z) => this.zoneXml(z)) },
        ...(dnsName === undefined ? {} : { DNSName: dnsName }),
        ...(zoneId === undefined ? {} : { HostedZoneId: zoneId }),
        IsTruncated: next !== undefined,
        ...(next === undefined ? {} : { NextDNSName: shownName(next.name), NextHostedZoneId: next.id }),
        MaxItems: max,
      },
    ];
  }

  /** Record sets in AWS's order from (name, type, identifier) on. */
  private listRecords(id: string, query: (name: string) => string | undefined): [number, Record<string, unknown>] {
    const zone = this.zone(id);
    const max = maxItems(query('maxitems'), MAX_ITEMS);
    const name = query('name');
    const type = query('type');
    if (type !== undefined && name === undefined) throw new AwsRequestError('InvalidInput', 'type needs name');
    const start: RecordSetRecord | undefined =
      name === undefined
        ? undefined
        : { name: normalName(name), type: type ?? '', values: [], setIdentifier: query('identifier') ?? '' };
    const records = [...zone.records]
      .sort(compareRecords)
      .filter((r) => start === undefined || compareRecords(r, start) >= 0);
    const page = records.slice(0, max);
    const next = records[max];
    return [
      200,
      {
        ResourceRecordSets: page.length === 0 ? '' : { ResourceRecordSet: page.map(recordXml) },
        IsTruncated: next !== undefined,
        ...(next === undefined
          ? {}
          : {
              NextRecordName: shownName(next.name),
              NextRecordType: next.type,
              ...(next.setIdentifier === undefined ? {} : { NextRecordIdentifier: next.setIdentifier }),
            }),
        MaxItems: max,
      },
    ];
  }

  /** A change batch is applied whole or not at all, as on AWS. */
  private change(id: string, body: string): [number, Record<string, unknown>] {
    const zone = this.zone(id);
    const request = parse(body, 'ChangeResourceRecordSetsRequest');
    const batch = object(request, 'ChangeBatch');
    const changes = (object(batch, 'Changes')?.Change ?? []) as unknown[];
    if (!Array.isArray(changes) || changes.length === 0)
      throw new AwsRequestError('InvalidInput', 'A change batch needs at least one Change');
    if (changes.length > MAX_CHANGES)
      throw new AwsRequestError('InvalidChangeBatch', `A change batch has at most ${MAX_CHANGES} changes`);
    let records = [...zone.records];
    const problems: string[] = [];
    for (const raw of changes) {
      const change = asObject(raw);
      const action = text(change, 'Action');
      const record = recordOf(asObject(object(change, 'ResourceRecordSet')));
      const what = `[name='${shownName(record.name)}', type='${record.type}'${record.setIdentifier === undefined ? '' : `, set-identifier='${record.setIdentifier}'`}]`;
      if (record.name !== zone.name && !record.name.endsWith(`.${zone.name}`)) {
        problems.push(`RRSet with DNS name ${shownName(record.name)} is not permitted in zone ${zone.name}`);
        continue;
      }
      const same = (r: RecordSetRecord): boolean =>
        r.name === record.name && r.type === record.type && r.setIdentifier === record.setIdentifier;
      const existing = records.find(same);
      if (action === 'DELETE') {
        if (existing === undefined || JSON.stringify(existing) !== JSON.stringify(record))
          problems.push(
            existing === undefined
              ? `Tried to delete resource record set ${what} but it was not found`
              : `Tried to delete resource record set ${what} but the values provided do not match the current values`,
          );
        else records = records.filter((r) => !same(r));
        continue;
      }
      if (action !== 'CREATE' && action !== 'UPSERT')
        throw new AwsRequestError('InvalidInput', `Invalid Action '${action ?? ''}': CREATE, DELETE or UPSERT`);
      if (action === 'CREATE' && existing !== undefined) {
        problems.push(`Tried to create resource record set ${what} but it already exists`);
        continue;
      }
      const conflict = records.find(
        (r) => r.name === record.name && !same(r) && (r.type === 'CNAME') !== (record.type === 'CNAME'),
      );
      if (conflict !== undefined) {
        problems.push(
          `RRSet of type ${record.type} with DNS name ${shownName(record.name)} is not permitted because a conflicting RRSet of type ${conflict.type} with the same DNS name already exists in zone ${zone.name}`,
        );
        continue;
      }
      if (record.type === 'CNAME' && record.name === zone.name) {
        problems.push(
          `RRSet of type CNAME with DNS name ${shownName(record.name)} is not permitted at apex in zone ${zone.name}`,
        );
        continue;
      }
      records = [...records.filter((r) => !same(r)), record];
    }
    if (problems.length > 0) throw new AwsRequestError('InvalidChangeBatch', `[${problems.join(', ')}]`);
    zone.records = records;
    return [200, { ChangeInfo: this.submit(text(batch, 'Comment')) }];
  }

  private submit(comment: string | undefined): Record<string, unknown> {
    const id = `C${randomBytes(10).toString('hex').toUpperCase().slice(0, 13)}`;
    const submittedAt = this.now();
    this.changes.set(id, { submittedAt, ...(comment === undefined ? {} : { comment }) });
    // PENDING when submitted; a GetChange finds it INSYNC (AWS takes up to a minute).
    return {
      Id: `/change/${id}`,
      Status: 'PENDING',
      SubmittedAt: submittedAt.toISOString(),
      ...(comment === undefined ? {} : { Comment: comment }),
    };
  }

  private getChange(id: string): [number, Record<string, unknown>] {
    const change = this.changes.get(id.replace(/^\/?change\//, ''));
    if (change === undefined)
      throw new AwsRequestError('NoSuchChange', `A change with the specified change ID does not exist: ${id}`, 404);
    return [
      200,
      {
        ChangeInfo: {
          Id: `/change/${id}`,
          Status: 'INSYNC',
          SubmittedAt: change.submittedAt.toISOString(),
          ...(change.comment === undefined ? {} : { Comment: change.comment }),
        },
      },
    ];
  }
}

function recordXml(r: RecordSetRecord): Record<string, unknown> {
  return {
    Name: shownName(r.name),
    Type: r.type,
    ...(r.setIdentifier === undefined ? {} : { SetIdentifier: r.setIdentifier }),
    ...(r.weight === undefined ? {} : { Weight: r.weight }),
    ...(r.ttl === undefined ? {} : { TTL: r.ttl }),
    ResourceRecords: { ResourceRecord: r.values.map((Value) => ({ Value })) },
  };
}

/** One ResourceRecordSet of a change, checked as Route 53 checks it. */
function recordOf(set: Record<string, unknown>): RecordSetRecord {
  const name = normalName(text(set, 'Name') ?? '');
  if (!validDomain(name)) throw new AwsRequestError('InvalidChangeBatch', `[${name} is not a valid DNS name]`);
  const type = text(set, 'Type') ?? '';
  if (!RECORD_TYPES.includes(type))
    throw new AwsRequestError('InvalidInput', `Invalid type '${type}': one of ${RECORD_TYPES.join(', ')}`);
  if (object(set, 'AliasTarget') !== undefined)
    throw new AwsRequestError('InvalidInput', 'The emulator holds no alias records');
  const ttlText = text(set, 'TTL');
  const ttl = ttlText === undefined ? undefined : Number(ttlText);
  if (ttl === undefined) throw new AwsRequestError('InvalidInput', 'A record set with ResourceRecords needs a TTL');
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2_147_483_647)
    throw new AwsRequestError('InvalidInput', 'TTL must be between 0 and 2147483647');
  const setIdentifier = text(set, 'SetIdentifier');
  const weightText = text(set, 'Weight');
  const weight = weightText === undefined ? undefined : Number(weightText);
  if ((setIdentifier === undefined) !== (weight === undefined))
    throw new AwsRequestError(
      'InvalidInput',
      'SetIdentifier needs a routing policy (the emulator has Weight) and Weight needs a SetIdentifier',
    );
  if (weight !== undefined && (!Number.isInteger(weight) || weight < 0 || weight > 255))
    throw new AwsRequestError('InvalidInput', 'Weight must be between 0 and 255');
  const records = object(set, 'ResourceRecords')?.ResourceRecord;
  const values = (Array.isArray(records) ? records : []).map((r) => text(asObject(r), 'Value') ?? '');
  if (values.length === 0 || values.some((v) => v === ''))
    throw new AwsRequestError('InvalidInput', 'A record set needs at least one ResourceRecord with a Value');
  if (type === 'A') {
    const bad = values.find((v) => !IPV4.test(v));
    if (bad !== undefined)
      throw new AwsRequestError(
        'InvalidChangeBatch',
        `[Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '${bad}'']`,
      );
  }
  if (type === 'CNAME' && values.length > 1)
    throw new AwsRequestError('InvalidChangeBatch', '[A CNAME record set has exactly one value]');
  return {
    name,
    type,
    ttl,
    ...(setIdentifier === undefined ? {} : { setIdentifier }),
    ...(weight === undefined ? {} : { weight }),
    values,
  };
}

function validDomain(name: string): boolean {
  if (name === '.') return true;
  const labels = name.slice(0, -1).split('.');
  return name.length <= 255 && labels.every((label) => LABEL.test(label));
}

function maxItems(value: string | undefined, max: number): number {
  if (value === undefined) return max;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new AwsRequestError('InvalidInput', `Invalid maxitems '${value}'`);
  return Math.min(n, max);
}

function parse(body: string, root: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parser.parse(body);
  } catch {
    throw new AwsRequestError('InvalidInput', 'The request body is not XML');
  }
  const request = asObject(parsed)[root];
  if (request === undefined) throw new AwsRequestError('InvalidInput', `The request body is not a ${root}`);
  return asObject(request);
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function object(parent: Record<string, unknown> | undefined, key: string): Record<string, unknown> | undefined {
  const value = parent?.[key];
  return value === undefined ? undefined : asObject(value);
}

function text(parent: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = parent?.[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Route 53's error shape: `ErrorResponse` with the code the SDK maps, in its own namespace. */
export function route53ErrorXml(error: AwsRequestError, requestId: string): string {
  const type = error.httpStatus >= 500 ? 'Receiver' : 'Sender';
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    builder.build({
      ErrorResponse: {
        '@_xmlns': ROUTE53_NAMESPACE,
        Error: { Type: type, Code: error.awsCode, Message: error.message },
        RequestId: requestId,
      },
    })
  );
}
