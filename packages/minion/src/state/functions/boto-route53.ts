import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import type { HostedZone, ResourceRecordSet, RRType } from '@aws-sdk/client-route-53';
import { systemClock } from '@phoenix/protocol';
import type { Clock } from '@phoenix/protocol';
import { z } from 'zod';
import { connectionArgs } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { AwsStateFailure, converge, remove, runAwsState } from './aws-state.js';
import { defineState } from './types.js';
import type { StateModule } from './types.js';

/** Route 53 takes up to a minute to be INSYNC; a state waits at most this long (Salt's wait_for_sync). */
const SYNC_WAIT_MS = 120_000;
const SYNC_POLL_MS = 2_000;
/** The TTL of a record made without one (Route 53 needs a TTL). */
const DEFAULT_TTL = 60;
/** Pages of ListResourceRecordSets read for one name and type (many weighted sets share them). */
const MAX_PAGES = 20;

const RECORD_TYPES = [
  'A',
  'AAAA',
  'CAA',
  'CNAME',
  'DS',
  'MX',
  'NAPTR',
  'NS',
  'PTR',
  'SOA',
  'SPF',
  'SRV',
  'TXT',
] as const;

const Zone = {
  zone: z.string().min(1).max(255),
  record_type: z
    .string()
    .transform((t) => t.toUpperCase())
    .pipe(z.enum(RECORD_TYPES)),
  identifier: z.string().min(1).max(128).optional(),
  wait_for_sync: z.boolean().default(true),
  split_dns: z.boolean().default(false),
  private_zone: z.boolean().default(false),
};

const Present = z
  .strictObject({
    name: z.string().min(1).max(255),
    /** Salt's: one value, a comma-separated text, or a list. */
    value: z
      .union([z.string().min(1), z.number().transform(String), z.array(z.union([z.string(), z.number()])).min(1)])
      .transform((v) => (Array.isArray(v) ? v.map(String) : v.split(',')).map((s) => s.trim()))
      .pipe(z.array(z.string().min(1)).max(400)),
    ttl: z.int().min(0).max(2_147_483_647).optional(),
    /** Phoenix: a weighted record's weight, with `identifier` (Route 53 needs both). */
    weight: z.int().min(0).max(255).optional(),
    ...Zone,
    ...connectionArgs,
  })
  .refine((a) => (a.identifier === undefined) === (a.weight === undefined), {
    message: 'identifier and weight go together (a weighted record set)',
  });
type PresentArgs = z.output<typeof Present>;

const Absent = z.strictObject({ name: z.string().min(1).max(255), ...Zone, ...connectionArgs });
type ZoneArgs = Pick<PresentArgs, 'zone' | 'split_dns' | 'private_zone'>;

/**
 * Salt's boto_route53.present/absent: one record set (name, type, and identifier for a weighted
 * one) in a hosted zone found by name. Values compare as Salt compares them: sorted, trailing
 * dots ignored; `ttl` and `weight` only when given. AWS calls: ListHostedZonesByName,
 * ListResourceRecordSets, GetChange (describe and wait); ChangeResourceRecordSets (UPSERT,
 * DELETE).
 */
export function botoRoute53States(env: AwsStateEnvironment): StateModule {
  const clock = (): Clock => env.clock ?? systemClock;
  return Object.freeze({
    name: 'boto_route53',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('route53', args, call, env, async (aws) => {
            const r53 = new Route53Client(aws.clientConfig);
            env.onClient?.(r53);
            try {
              const { zone, name, current, what } = await lookUp(r53, args);
              const wanted = desiredView(args);
              const now = current === undefined ? undefined : recordView(current);
              const differing = Object.keys(wanted).filter(
                (key) => JSON.stringify(now?.[key]) !== JSON.stringify(wanted[key]),
              );
              const upsert = async (): Promise<void> => {
                const set: ResourceRecordSet = {
                  Name: name,
                  Type: args.record_type,
                  TTL: args.ttl ?? current?.TTL ?? DEFAULT_TTL,
                  ResourceRecords: args.value.map((Value) => ({ Value })),
                  ...(args.identifier === undefined ? {} : { SetIdentifier: args.identifier, Weight: args.weight }),
                };
                await change(r53, zone, 'UPSERT', set, args.wait_for_sync, clock());
              };
              if (current === undefined)
                return await converge(
                  [
                    {
                      key: 'record',
                      old: null,
                      new: { name, record_type: args.record_type, ...wanted, ttl: args.ttl ?? DEFAULT_TTL },
                      apply: upsert,
                    },
                  ],
                  { what, test: aws.test, secrets: aws.connection.secrets, creating: true },
                );
              const pick = (view: Record<string, unknown>) =>
                Object.fromEntries(differing.map((key) => [key, view[key] ?? null]));
              return await converge(
                differing.length === 0
                  ? []
                  : [{ key: 'record', old: pick(now ?? {}), new: pick(wanted), apply: upsert }],
                { what, test: aws.test, secrets: aws.connection.secrets },
              );
            } finally {
              r53.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('route53', args, call, env, async (aws) => {
            const r53 = new Route53Client(aws.clientConfig);
            env.onClient?.(r53);
            try {
              const { zone, name, current, what } = await lookUp(r53, args);
              return await remove(current !== undefined, {
                what,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'record',
                name,
                // Route 53 deletes a record set only when given it exactly as it is.
                apply: () => change(r53, zone, 'DELETE', current as ResourceRecordSet, args.wait_for_sync, clock()),
              });
            } finally {
              r53.destroy();
            }
          }),
      }),
    }),
  });
}

/** Names as Route 53 keeps them: lower case with the root's dot, `*` as `\052`. */
function fqdn(name: string): string {
  const lower = name.toLowerCase().replace(/\\052/g, '*');
  return lower.endsWith('.') ? lower : `${lower}.`;
}

function desiredView(args: PresentArgs): Record<string, unknown> {
  return {
    value: args.value.map((v) => v.replace(/\.$/, '')).sort(),
    ...(args.ttl === undefined ? {} : { ttl: args.ttl }),
    ...(args.weight === undefined ? {} : { weight: args.weight }),
  };
}

function recordView(set: ResourceRecordSet): Record<string, unknown> {
  return {
    value: (set.ResourceRecords ?? []).map((r) => (r.Value ?? '').replace(/\.$/, '')).sort(),
    ttl: set.TTL,
    weight: set.Weight,
  };
}

/** The hosted zone of that name; with split_dns, the private or the public one (Salt's). */
async function findZone(r53: Route53Client, args: ZoneArgs): Promise<HostedZone> {
  const name = fqdn(args.zone);
  const listed = (await r53.send(new ListHostedZonesByNameCommand({ DNSName: name, MaxItems: 100 }))).HostedZones ?? [];
  const named = listed.filter((zone) => fqdn(zone.Name ?? '') === name);
  const matching = args.split_dns
    ? named.filter((zone) => (zone.Config?.PrivateZone ?? false) === args.private_zone)
    : named;
  if (matching.length === 0)
    throw new AwsStateFailure(
      `Hosted zone ${name}${args.split_dns ? (args.private_zone ? ' (private)' : ' (public)') : ''} does not exist`,
    );
  if (matching.length > 1)
    throw new AwsStateFailure(
      `There are ${matching.length} hosted zones named ${name}; give split_dns and private_zone to choose one`,
    );
  return matching[0] as HostedZone;
}

/** The record set the state is about, where it lives, and how its comments name it. */
async function lookUp(
  r53: Route53Client,
  args: ZoneArgs & Pick<PresentArgs, 'name' | 'record_type' | 'identifier'>,
): Promise<{ zone: HostedZone; name: string; current: ResourceRecordSet | undefined; what: string }> {
  const zone = await findZone(r53, args);
  const name = fqdn(args.name);
  const current = await findRecord(r53, zone, name, args.record_type, args.identifier);
  const what = `Route53 record ${name} (${args.record_type}${args.identifier === undefined ? '' : ` ${args.identifier}`})`;
  return { zone, name, current, what };
}

async function findRecord(
  r53: Route53Client,
  zone: HostedZone,
  name: string,
  type: RRType,
  identifier: string | undefined,
): Promise<ResourceRecordSet | undefined> {
  let start: { StartRecordName: string; StartRecordType: RRType; StartRecordIdentifier?: string } = {
    StartRecordName: name,
    StartRecordType: type,
    ...(identifier === undefined ? {} : { StartRecordIdentifier: identifier }),
  };
  for (let page = 0; page < MAX_PAGES; page++) {
    const listed = await r53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone.Id, ...start }));
    const sets = listed.ResourceRecordSets ?? [];
    const found = sets.find(
      (set) =>
        fqdn(set.Name ?? '') === name &&
        set.Type === type &&
        (identifier === undefined || set.SetIdentifier === identifier),
    );
    if (found !== undefined) return found;
    // Later pages can only hold this name and type while the listing has not gone past them.
    const passed = sets.some((set) => fqdn(set.Name ?? '') !== name || set.Type !== type);
    if (listed.IsTruncated !== true || passed || listed.NextRecordName === undefined) return undefined;
    start = {
      StartRecordName: listed.NextRecordName,
      StartRecordType: listed.NextRecordType ?? type,
      ...(listed.NextRecordIdentifier === undefined ? {} : { StartRecordIdentifier: listed.NextRecordIdentifier }),
    };
  }
  throw new AwsStateFailure(`Route53 lists more than ${MAX_PAGES} pages of ${name} ${type} record sets`);
}

async function change(
  r53: Route53Client,
  zone: HostedZone,
  action: 'UPSERT' | 'DELETE',
  set: ResourceRecordSet,
  waitForSync: boolean,
  clock: Clock,
): Promise<void> {
  const info = (
    await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zone.Id,
        ChangeBatch: { Changes: [{ Action: action, ResourceRecordSet: set }] },
      }),
    )
  ).ChangeInfo;
  if (!waitForSync || info?.Status === 'INSYNC' || info?.Id === undefined) return;
  const deadline = clock.now() + SYNC_WAIT_MS;
  for (let poll = 0; poll <= SYNC_WAIT_MS / SYNC_POLL_MS; poll++) {
    const status = (await r53.send(new GetChangeCommand({ Id: info.Id }))).ChangeInfo?.Status;
    if (status === 'INSYNC') return;
    if (clock.now() >= deadline) break;
    await new Promise<void>((resolve) => clock.setTimeout(resolve, SYNC_POLL_MS));
  }
  throw new AwsStateFailure(
    `Route53 accepted the change of ${set.Name ?? ''} but it was not INSYNC within ${SYNC_WAIT_MS / 1000} s`,
  );
}
