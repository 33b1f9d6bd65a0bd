import {
  AddTagsCommand,
  ApplySecurityGroupsToLoadBalancerCommand,
  AttachLoadBalancerToSubnetsCommand,
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  CreateLoadBalancerListenersCommand,
  DeleteLoadBalancerCommand,
  DeleteLoadBalancerListenersCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  DetachLoadBalancerFromSubnetsCommand,
  DisableAvailabilityZonesForLoadBalancerCommand,
  ElasticLoadBalancingClient,
  EnableAvailabilityZonesForLoadBalancerCommand,
  ModifyLoadBalancerAttributesCommand,
  RemoveTagsCommand,
} from '@aws-sdk/client-elastic-load-balancing';
import type {
  HealthCheck,
  Listener,
  LoadBalancerAttributes,
  LoadBalancerDescription,
} from '@aws-sdk/client-elastic-load-balancing';
import { DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { connectionArgs, resolveConnection } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import {
  AwsStateFailure,
  awsErrorCode,
  clientConfigOf,
  converge,
  remove,
  runAwsState,
  stepIf,
  tagDiff,
} from './aws-state.js';
import type { Step } from './aws-state.js';
import { defineState } from './types.js';
import type { StateCallContext, StateModule } from './types.js';

const Protocol = z
  .string()
  .transform((p) => p.toUpperCase())
  .pipe(z.enum(['HTTP', 'HTTPS', 'TCP', 'SSL']));
const Port = z.int().min(1).max(65_535);

/** Salt's listener: `elb_port`, `instance_port`, `elb_protocol`, `instance_protocol` (default the ELB's), `certificate`. */
const ListenerArg = z.strictObject({
  elb_port: Port,
  instance_port: Port,
  elb_protocol: Protocol,
  instance_protocol: Protocol.optional(),
  certificate: z.string().min(1).optional(),
  /** Salt's listener policies are not managed; an empty list is accepted. */
  policies: z.array(z.string()).max(0).optional(),
});
type ListenerArgs = z.output<typeof ListenerArg>;

/** Salt's health_check: only the keys given are managed. */
const HealthCheckArg = z.strictObject({
  target: z.string().min(1).optional(),
  interval: z.int().optional(),
  timeout: z.int().optional(),
  healthy_threshold: z.int().optional(),
  unhealthy_threshold: z.int().optional(),
});
type HealthCheckArgs = z.output<typeof HealthCheckArg>;

/** Salt's attributes, with Salt's (boto's) section names; only the sections and keys given are managed. */
const AttributesArg = z.strictObject({
  cross_zone_load_balancing: z.strictObject({ enabled: z.boolean() }).optional(),
  connection_draining: z.strictObject({ enabled: z.boolean(), timeout: z.int().optional() }).optional(),
  connecting_settings: z.strictObject({ idle_timeout: z.int() }).optional(),
  access_log: z
    .strictObject({
      enabled: z.boolean(),
      s3_bucket_name: z.string().min(1).optional(),
      s3_bucket_prefix: z.string().optional(),
      emit_interval: z.int().optional(),
    })
    .optional(),
});
type AttributesArgs = z.output<typeof AttributesArg>;

const Names = z.array(z.string().min(1)).max(50);

const Present = z
  .strictObject({
    name: z.string().min(1),
    listeners: z.array(ListenerArg).min(1).max(100),
    availability_zones: Names.optional(),
    subnets: Names.optional(),
    /** Ids (`sg-…`) or names, as Salt: names are looked up in EC2. */
    security_groups: Names.optional(),
    scheme: z.enum(['internet-facing', 'internal']).default('internet-facing'),
    health_check: HealthCheckArg.optional(),
    attributes: AttributesArg.optional(),
    /** Salt's: a mapping; the load balancer gets exactly these. */
    tags: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
    ...connectionArgs,
  })
  .refine((a) => (a.availability_zones?.length ?? 0) > 0 || (a.subnets?.length ?? 0) > 0, {
    message: 'needs availability_zones or subnets',
  });
type PresentArgs = z.output<typeof Present>;

const Absent = z.strictObject({ name: z.string().min(1), ...connectionArgs });

/**
 * Salt's boto_elb.present/absent for classic load balancers: listeners, availability zones or
 * subnets, security groups, scheme, health check, attributes and tags. AWS calls:
 * DescribeLoadBalancers, DescribeLoadBalancerAttributes, DescribeTags, ec2:DescribeSecurityGroups
 * (security groups named, not by id); CreateLoadBalancer, CreateLoadBalancerListeners,
 * DeleteLoadBalancerListeners, ConfigureHealthCheck, EnableAvailabilityZonesForLoadBalancer,
 * DisableAvailabilityZonesForLoadBalancer, AttachLoadBalancerToSubnets,
 * DetachLoadBalancerFromSubnets, ApplySecurityGroupsToLoadBalancer, ModifyLoadBalancerAttributes,
 * AddTags, RemoveTags, DeleteLoadBalancer.
 */
export function botoElbStates(env: AwsStateEnvironment): StateModule {
  return Object.freeze({
    name: 'boto_elb',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('elb', args, call, env, async (aws) => {
            const elb = new ElasticLoadBalancingClient(aws.clientConfig);
            env.onClient?.(elb);
            try {
              const groups = await securityGroupIds(args, call, env);
              return await present(elb, args, groups, aws.test, aws.connection.secrets);
            } finally {
              elb.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('elb', args, call, env, async (aws) => {
            const elb = new ElasticLoadBalancingClient(aws.clientConfig);
            env.onClient?.(elb);
            try {
              const current = await describe(elb, args.name);
              return await remove(current !== undefined, {
                what: `Load balancer ${args.name}`,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'load_balancer',
                name: args.name,
                apply: () => elb.send(new DeleteLoadBalancerCommand({ LoadBalancerName: args.name })),
              });
            } finally {
              elb.destroy();
            }
          }),
      }),
    }),
  });
}

/** The load balancer, or undefined when AWS has none of that name. */
async function describe(elb: ElasticLoadBalancingClient, name: string): Promise<LoadBalancerDescription | undefined> {
  try {
    const found = await elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [name] }));
    return found.LoadBalancerDescriptions?.find((lb) => lb.LoadBalancerName === name);
  } catch (err) {
    if (awsErrorCode(err) === 'LoadBalancerNotFound' || awsErrorCode(err) === 'AccessPointNotFoundException')
      return undefined;
    throw err;
  }
}

/** Security groups as ids: `sg-…` as given, names looked up in EC2 (Salt's convert_to_group_ids). */
async function securityGroupIds(
  args: PresentArgs,
  call: StateCallContext,
  env: AwsStateEnvironment,
): Promise<string[] | undefined> {
  if (args.security_groups === undefined) return undefined;
  const names = args.security_groups.filter((g) => !/^sg-[0-9a-f]+$/.test(g));
  if (names.length === 0) return [...new Set(args.security_groups)];
  const resolved = resolveConnection('ec2', args, call.rt.pillar, env);
  if (!resolved.ok) throw new AwsStateFailure(resolved.comment);
  const ec2 = new EC2Client(clientConfigOf(resolved.connection));
  env.onClient?.(ec2);
  try {
    const found =
      (
        await ec2.send(
          new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [...new Set(names)] }] }),
        )
      ).SecurityGroups ?? [];
    return [...new Set(args.security_groups)].map((group) => {
      if (!names.includes(group)) return group;
      const matches = found.filter((sg) => sg.GroupName === group);
      // A prediction may precede the state that creates the group: it is shown by its name.
      if (matches.length === 0 && call.test) return group;
      if (matches.length !== 1)
        throw new AwsStateFailure(
          matches.length === 0
            ? `Security group ${group} does not exist`
            : `Security group name ${group} is in ${matches.length} VPCs; give its id`,
        );
      return matches[0]?.GroupId ?? group;
    });
  } finally {
    ec2.destroy();
  }
}

function listenerView(l: ListenerArgs): Record<string, unknown> {
  return {
    elb_protocol: l.elb_protocol,
    instance_port: l.instance_port,
    instance_protocol: l.instance_protocol ?? l.elb_protocol,
    ...(l.certificate === undefined ? {} : { certificate: l.certificate }),
  };
}

function describedListenerView(l: Listener): Record<string, unknown> {
  return {
    elb_protocol: (l.Protocol ?? '').toUpperCase(),
    instance_port: l.InstancePort,
    instance_protocol: (l.InstanceProtocol ?? l.Protocol ?? '').toUpperCase(),
    ...(l.SSLCertificateId === undefined || l.SSLCertificateId === '' ? {} : { certificate: l.SSLCertificateId }),
  };
}

function listenerInput(l: ListenerArgs): Listener {
  return {
    Protocol: l.elb_protocol,
    LoadBalancerPort: l.elb_port,
    InstanceProtocol: l.instance_protocol ?? l.elb_protocol,
    InstancePort: l.instance_port,
    ...(l.certificate === undefined ? {} : { SSLCertificateId: l.certificate }),
  };
}

const HEALTH_FIELDS = {
  target: 'Target',
  interval: 'Interval',
  timeout: 'Timeout',
  healthy_threshold: 'HealthyThreshold',
  unhealthy_threshold: 'UnhealthyThreshold',
} as const;

function healthCheckView(check: HealthCheck | undefined): Required<{ [K in keyof HealthCheckArgs]: unknown }> {
  return {
    target: check?.Target,
    interval: check?.Interval,
    timeout: check?.Timeout,
    healthy_threshold: check?.HealthyThreshold,
    unhealthy_threshold: check?.UnhealthyThreshold,
  };
}

/** What AWS has of the sections and keys the SLS names. */
function attributesView(a: LoadBalancerAttributes | undefined): Record<string, Record<string, unknown>> {
  return {
    cross_zone_load_balancing: { enabled: a?.CrossZoneLoadBalancing?.Enabled ?? false },
    connection_draining: { enabled: a?.ConnectionDraining?.Enabled ?? false, timeout: a?.ConnectionDraining?.Timeout },
    connecting_settings: { idle_timeout: a?.ConnectionSettings?.IdleTimeout },
    access_log: {
      enabled: a?.AccessLog?.Enabled ?? false,
      s3_bucket_name: a?.AccessLog?.S3BucketName,
      s3_bucket_prefix: a?.AccessLog?.S3BucketPrefix,
      emit_interval: a?.AccessLog?.EmitInterval,
    },
  };
}

/** Keeps of `full` only the sections and keys that `given` names. */
function pick(full: Record<string, Record<string, unknown>>, given: AttributesArgs): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(given)
      .filter(([, section]) => section !== undefined)
      .map(([name, section]) => [
        name,
        Object.fromEntries(Object.keys(section as object).map((key) => [key, full[name]?.[key] ?? null])),
      ]),
  );
}

/** ModifyLoadBalancerAttributes takes whole sections: what the SLS gives over what AWS has. */
function attributesInput(
  current: Record<string, Record<string, unknown>>,
  given: AttributesArgs,
): LoadBalancerAttributes {
  const merged = (name: keyof AttributesArgs): Record<string, unknown> => ({ ...current[name], ...given[name] });
  const out: LoadBalancerAttributes = {};
  if (given.cross_zone_load_balancing !== undefined)
    out.CrossZoneLoadBalancing = { Enabled: given.cross_zone_load_balancing.enabled };
  if (given.connection_draining !== undefined) {
    const m = merged('connection_draining');
    out.ConnectionDraining = {
      Enabled: m.enabled as boolean,
      ...(typeof m.timeout === 'number' ? { Timeout: m.timeout } : {}),
    };
  }
  if (given.connecting_settings !== undefined)
    out.ConnectionSettings = { IdleTimeout: given.connecting_settings.idle_timeout };
  if (given.access_log !== undefined) {
    const m = merged('access_log');
    out.AccessLog = {
      Enabled: m.enabled as boolean,
      ...(typeof m.s3_bucket_name === 'string' ? { S3BucketName: m.s3_bucket_name } : {}),
      ...(typeof m.s3_bucket_prefix === 'string' ? { S3BucketPrefix: m.s3_bucket_prefix } : {}),
      ...(typeof m.emit_interval === 'number' ? { EmitInterval: m.emit_interval } : {}),
    };
  }
  return out;
}

const sorted = (values: readonly string[] | undefined): string[] => [...new Set(values ?? [])].sort();

async function present(
  elb: ElasticLoadBalancingClient,
  args: PresentArgs,
  securityGroups: string[] | undefined,
  test: boolean,
  secrets: readonly string[],
): Promise<ReturnType<typeof converge>> {
  const what = `Load balancer ${args.name}`;
  const name = args.name;
  const current = await describe(elb, name);
  const steps: Step[] = [];
  const wantedListeners = Object.fromEntries(args.listeners.map((l) => [String(l.elb_port), listenerView(l)]));

  if (current === undefined) {
    steps.push({
      key: 'load_balancer',
      old: null,
      new: {
        name,
        scheme: args.scheme,
        listeners: wantedListeners,
        ...(args.availability_zones === undefined ? {} : { availability_zones: sorted(args.availability_zones) }),
        ...(args.subnets === undefined ? {} : { subnets: sorted(args.subnets) }),
        ...(securityGroups === undefined ? {} : { security_groups: sorted(securityGroups) }),
        ...(args.tags === undefined ? {} : { tags: args.tags }),
      },
      apply: () =>
        elb.send(
          new CreateLoadBalancerCommand({
            LoadBalancerName: name,
            Listeners: args.listeners.map(listenerInput),
            // AWS takes one of the two: subnets place the load balancer in their VPC.
            ...((args.subnets?.length ?? 0) > 0
              ? { Subnets: args.subnets }
              : { AvailabilityZones: args.availability_zones }),
            ...(securityGroups === undefined || securityGroups.length === 0 ? {} : { SecurityGroups: securityGroups }),
            Scheme: args.scheme,
            ...(args.tags === undefined || Object.keys(args.tags).length === 0
              ? {}
              : { Tags: Object.entries(args.tags).map(([Key, Value]) => ({ Key, Value })) }),
          }),
        ),
    });
    if (args.health_check !== undefined && Object.keys(args.health_check).length > 0) {
      const check = args.health_check;
      steps.push({
        key: 'health_check',
        old: null,
        new: check,
        // AWS's own default check fills in what the SLS leaves out.
        apply: async () => {
          const made = await describe(elb, name);
          await elb.send(
            new ConfigureHealthCheckCommand({ LoadBalancerName: name, HealthCheck: healthCheckInput(made, check) }),
          );
        },
      });
    }
    if (args.attributes !== undefined) {
      const given = args.attributes;
      steps.push({
        key: 'attributes',
        old: null,
        new: given,
        apply: async () => {
          const now = await elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerName: name }));
          await elb.send(
            new ModifyLoadBalancerAttributesCommand({
              LoadBalancerName: name,
              LoadBalancerAttributes: attributesInput(attributesView(now.LoadBalancerAttributes), given),
            }),
          );
        },
      });
    }
    return converge(steps, { what, test, secrets, creating: true });
  }

  if ((current.Scheme ?? 'internet-facing') !== args.scheme)
    throw new AwsStateFailure(
      `${what} is ${current.Scheme ?? 'internet-facing'}, not ${args.scheme}; the scheme cannot change, so delete it first`,
    );
  const nowListeners = Object.fromEntries(
    (current.ListenerDescriptions ?? []).flatMap((d) =>
      d.Listener === undefined ? [] : [[String(d.Listener.LoadBalancerPort), describedListenerView(d.Listener)]],
    ),
  );
  const replaced = Object.keys(nowListeners).filter(
    (port) => JSON.stringify(nowListeners[port]) !== JSON.stringify(wantedListeners[port]),
  );
  const added = args.listeners.filter(
    (l) => JSON.stringify(nowListeners[String(l.elb_port)]) !== JSON.stringify(wantedListeners[String(l.elb_port)]),
  );
  steps.push(
    ...stepIf('listeners', nowListeners, wantedListeners, async () => {
      // A port whose listener changes is deleted first: AWS refuses a second listener on a port.
      if (replaced.length > 0)
        await elb.send(
          new DeleteLoadBalancerListenersCommand({ LoadBalancerName: name, LoadBalancerPorts: replaced.map(Number) }),
        );
      if (added.length > 0)
        await elb.send(
          new CreateLoadBalancerListenersCommand({ LoadBalancerName: name, Listeners: added.map(listenerInput) }),
        );
    }),
  );
  const inVpc = (current.Subnets?.length ?? 0) > 0;
  if (args.subnets !== undefined && args.subnets.length > 0) {
    if (!inVpc) throw new AwsStateFailure(`${what} is not in a VPC; subnets cannot be given to it, so delete it first`);
    const now = sorted(current.Subnets);
    const wanted = sorted(args.subnets);
    const attach = wanted.filter((s) => !now.includes(s));
    const detach = now.filter((s) => !wanted.includes(s));
    steps.push(
      ...stepIf('subnets', now, wanted, async () => {
        // Attached first, so the load balancer never has no subnet.
        if (attach.length > 0)
          await elb.send(new AttachLoadBalancerToSubnetsCommand({ LoadBalancerName: name, Subnets: attach }));
        if (detach.length > 0)
          await elb.send(new DetachLoadBalancerFromSubnetsCommand({ LoadBalancerName: name, Subnets: detach }));
      }),
    );
  } else if (args.availability_zones !== undefined && inVpc) {
    throw new AwsStateFailure(`${what} is in a VPC: its zones come from its subnets, so give subnets`);
  } else if (args.availability_zones !== undefined) {
    const now = sorted(current.AvailabilityZones);
    const wanted = sorted(args.availability_zones);
    const enable = wanted.filter((z) => !now.includes(z));
    const disable = now.filter((z) => !wanted.includes(z));
    steps.push(
      ...stepIf('availability_zones', now, wanted, async () => {
        if (enable.length > 0)
          await elb.send(
            new EnableAvailabilityZonesForLoadBalancerCommand({ LoadBalancerName: name, AvailabilityZones: enable }),
          );
        if (disable.length > 0)
          await elb.send(
            new DisableAvailabilityZonesForLoadBalancerCommand({ LoadBalancerName: name, AvailabilityZones: disable }),
          );
      }),
    );
  }
  if (securityGroups !== undefined) {
    const wanted = sorted(securityGroups);
    steps.push(
      ...stepIf('security_groups', sorted(current.SecurityGroups), wanted, () =>
        elb.send(new ApplySecurityGroupsToLoadBalancerCommand({ LoadBalancerName: name, SecurityGroups: wanted })),
      ),
    );
  }
  if (args.health_check !== undefined) {
    const check = args.health_check;
    const full = healthCheckView(current.HealthCheck);
    const keys = Object.keys(check) as (keyof HealthCheckArgs)[];
    const now = Object.fromEntries(keys.map((k) => [k, full[k] ?? null]));
    steps.push(
      ...stepIf('health_check', now, check, () =>
        elb.send(
          new ConfigureHealthCheckCommand({ LoadBalancerName: name, HealthCheck: healthCheckInput(current, check) }),
        ),
      ),
    );
  }
  if (args.attributes !== undefined) {
    const given = args.attributes;
    const full = attributesView(
      (await elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerName: name }))).LoadBalancerAttributes,
    );
    // Only the sections that differ are shown and sent.
    const now = pick(full, given);
    const differing = Object.fromEntries(
      Object.entries(given).filter(
        ([section, value]) => value !== undefined && !isDeepStrictEqual(now[section], value),
      ),
    ) as AttributesArgs;
    const sections = Object.keys(differing);
    steps.push(
      ...stepIf('attributes', Object.fromEntries(sections.map((section) => [section, now[section]])), differing, () =>
        elb.send(
          new ModifyLoadBalancerAttributesCommand({
            LoadBalancerName: name,
            LoadBalancerAttributes: attributesInput(full, differing),
          }),
        ),
      ),
    );
  }
  if (args.tags !== undefined) {
    const wanted = args.tags;
    const described = await elb.send(new DescribeTagsCommand({ LoadBalancerNames: [name] }));
    const now = Object.fromEntries(
      (described.TagDescriptions?.[0]?.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']),
    );
    const { set, remove: gone } = tagDiff(now, wanted);
    steps.push(
      ...stepIf('tags', now, wanted, async () => {
        if (Object.keys(set).length > 0)
          await elb.send(
            new AddTagsCommand({
              LoadBalancerNames: [name],
              Tags: Object.entries(set).map(([Key, Value]) => ({ Key, Value })),
            }),
          );
        if (gone.length > 0)
          await elb.send(new RemoveTagsCommand({ LoadBalancerNames: [name], Tags: gone.map((Key) => ({ Key })) }));
      }),
    );
  }
  return converge(steps, { what, test, secrets });
}

/** ConfigureHealthCheck takes the whole check: the SLS's keys over what AWS has. */
function healthCheckInput(current: LoadBalancerDescription | undefined, check: HealthCheckArgs): HealthCheck {
  const full = healthCheckView(current?.HealthCheck);
  const value = <K extends keyof HealthCheckArgs>(key: K): unknown => check[key] ?? full[key];
  return Object.fromEntries(
    (Object.entries(HEALTH_FIELDS) as [keyof HealthCheckArgs, string][]).map(([key, field]) => [field, value(key)]),
  ) as unknown as HealthCheck;
}
