import {
  AttachLoadBalancersCommand,
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  CreateOrUpdateTagsCommand,
  DeleteAutoScalingGroupCommand,
  DeleteLifecycleHookCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
  DescribeLifecycleHooksCommand,
  DescribeNotificationConfigurationsCommand,
  DetachLoadBalancersCommand,
  PutLifecycleHookCommand,
  PutNotificationConfigurationCommand,
  ResumeProcessesCommand,
  SuspendProcessesCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import type { AutoScalingGroup, LaunchConfiguration, LifecycleHookSpecification } from '@aws-sdk/client-auto-scaling';
import { z } from 'zod';
import { connectionArgs } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { AwsStateFailure, converge, remove, runAwsState, stepIf } from './aws-state.js';
import { Policy, newPolicySteps, policySteps } from './boto-asg-policies.js';
import type { Step } from './aws-state.js';
import { defineState } from './types.js';
import type { StateModule } from './types.js';

const Size = z.int().min(0).max(10_000);

/** Salt writes launch_config as a list of one-key mappings; a plain mapping works too. */
const LaunchConfig = z
  .union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))])
  .transform((value) => (Array.isArray(value) ? Object.assign({}, ...value) : value))
  .pipe(
    z.strictObject({
      image_id: z.string().min(1),
      instance_type: z.string().min(1).default('m1.small'),
      key_name: z.string().min(1).optional(),
      security_groups: z.array(z.string().min(1)).default([]),
      user_data: z.string().optional(),
      instance_profile_name: z.string().min(1).optional(),
    }),
  );
type LaunchConfigArgs = z.output<typeof LaunchConfig>;

const LaunchTemplate = z
  .strictObject({
    launch_template_id: z.string().min(1).optional(),
    launch_template_name: z.string().min(1).optional(),
    version: z.union([z.string().min(1), z.int().transform(String)]).optional(),
  })
  .refine((t) => (t.launch_template_id === undefined) !== (t.launch_template_name === undefined), {
    message: 'needs launch_template_id or launch_template_name (one of them)',
  });

const Tag = z.strictObject({
  key: z.string().min(1),
  value: z.union([z.string(), z.number(), z.boolean()]).transform(String).default(''),
  propagate_at_launch: z.boolean().default(false),
});

const TRANSITIONS = {
  launching: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  terminating: 'autoscaling:EC2_INSTANCE_TERMINATING',
  'autoscaling:EC2_INSTANCE_LAUNCHING': 'autoscaling:EC2_INSTANCE_LAUNCHING',
  'autoscaling:EC2_INSTANCE_TERMINATING': 'autoscaling:EC2_INSTANCE_TERMINATING',
} as const;

const Hook = z.strictObject({
  name: z.string().min(1),
  transition: z.enum(Object.keys(TRANSITIONS) as [keyof typeof TRANSITIONS]).transform((t) => TRANSITIONS[t]),
  heartbeat_timeout: z.int().min(30).max(7200).default(3600),
  default_result: z.enum(['CONTINUE', 'ABANDON']).default('ABANDON'),
  notification_target_arn: z.string().min(1).optional(),
  role_arn: z.string().min(1).optional(),
  notification_metadata: z.string().optional(),
});
type HookArgs = z.output<typeof Hook>;

const Present = z
  .strictObject({
    name: z.string().min(1),
    launch_config_name: z.string().min(1).optional(),
    launch_config: LaunchConfig.optional(),
    launch_template: LaunchTemplate.optional(),
    min_size: Size,
    max_size: Size,
    desired_capacity: Size.optional(),
    tags: z.array(Tag).max(50).optional(),
    lifecycle_hooks: z.array(Hook).max(50).optional(),
    /** Salt's simple scaling policies, and step and target-tracking ones; the group gets exactly these. */
    scaling_policies: z.array(Policy).max(50).optional(),
    /** Salt's: the subnets, as a list or AWS's comma-separated text. */
    vpc_zone_identifier: z
      .union([z.array(z.string()), z.string()])
      .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((s) => s.trim()))
      .pipe(z.array(z.string().min(1)).min(1).max(100))
      .optional(),
    /** Salt's: classic load balancers, by name; attached and detached to match. */
    load_balancers: z.array(z.string().min(1).max(32)).max(50).optional(),
    /** Salt's: the processes to keep suspended; others are resumed. */
    suspended_processes: z.array(z.string().min(1)).max(20).optional(),
    notification_arn: z.string().min(1).optional(),
    notification_types: z
      .array(z.string().min(1))
      .default([
        'autoscaling:EC2_INSTANCE_LAUNCH',
        'autoscaling:EC2_INSTANCE_LAUNCH_ERROR',
        'autoscaling:EC2_INSTANCE_TERMINATE',
        'autoscaling:EC2_INSTANCE_TERMINATE_ERROR',
      ]),
    ...connectionArgs,
  })
  .refine((a) => (a.launch_config_name === undefined) !== (a.launch_template === undefined), {
    message: 'needs launch_config_name (with or without launch_config) or launch_template',
  })
  .refine((a) => a.launch_config === undefined || a.launch_config_name !== undefined, {
    message: 'launch_config needs launch_config_name',
  });
type PresentArgs = z.output<typeof Present>;

const Absent = z.strictObject({ name: z.string().min(1), force: z.boolean().default(false), ...connectionArgs });

/**
 * Salt's boto_asg.present/absent: the launch configuration (created from `launch_config` when
 * missing) or a launch template, sizes, subnets (`vpc_zone_identifier`), classic load balancers,
 * tags with propagate_at_launch, scaling policies (simple, step, target tracking), suspended
 * processes, group notifications, and Phoenix's `lifecycle_hooks`. Launch configurations cannot
 * change on AWS: one that differs from `launch_config` fails the state (give a new
 * `launch_config_name`). AWS calls: DescribeAutoScalingGroups, DescribeLaunchConfigurations,
 * DescribeLifecycleHooks, DescribeNotificationConfigurations, DescribePolicies (describe);
 * CreateLaunchConfiguration, CreateAutoScalingGroup, UpdateAutoScalingGroup, AttachLoadBalancers,
 * DetachLoadBalancers, CreateOrUpdateTags, DeleteTags, PutLifecycleHook, DeleteLifecycleHook,
 * PutScalingPolicy, DeletePolicy, SuspendProcesses, ResumeProcesses,
 * PutNotificationConfiguration, DeleteAutoScalingGroup.
 */
export function botoAsgStates(env: AwsStateEnvironment): StateModule {
  return Object.freeze({
    name: 'boto_asg',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('autoscaling', args, call, env, async (aws) => {
            const asg = new AutoScalingClient(aws.clientConfig);
            env.onClient?.(asg);
            try {
              return await present(asg, args, aws.test, aws.connection.secrets);
            } finally {
              asg.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('autoscaling', args, call, env, async (aws) => {
            const asg = new AutoScalingClient(aws.clientConfig);
            env.onClient?.(asg);
            try {
              const group = await describeGroup(asg, args.name);
              return remove(group !== undefined, {
                what: `Auto scaling group ${args.name}`,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'group',
                name: args.name,
                apply: () =>
                  asg.send(
                    new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: args.name, ForceDelete: args.force }),
                  ),
              });
            } finally {
              asg.destroy();
            }
          }),
      }),
    }),
  });
}

async function present(
  asg: AutoScalingClient,
  args: PresentArgs,
  test: boolean,
  secrets: readonly string[],
): Promise<ReturnType<typeof converge>> {
  const what = `Auto scaling group ${args.name}`;
  const steps: Step[] = [];
  if (args.launch_config_name !== undefined && args.launch_config !== undefined) {
    const name = args.launch_config_name;
    const existing = (await asg.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: [name] })))
      .LaunchConfigurations?.[0];
    const desired = args.launch_config;
    if (existing === undefined) {
      steps.push({
        key: 'launch_config',
        old: null,
        new: { name, ...desired },
        apply: () => asg.send(new CreateLaunchConfigurationCommand(launchConfigInput(name, desired))),
      });
    } else {
      const differs = launchConfigDiff(existing, desired);
      if (differs.length > 0)
        throw new AwsStateFailure(
          `Launch configuration ${name} exists with other ${differs.join(', ')}; launch configurations cannot change, so give launch_config_name a new name`,
        );
    }
  }
  const group = await describeGroup(asg, args.name);
  const launchSource = {
    ...(args.launch_config_name === undefined ? {} : { LaunchConfigurationName: args.launch_config_name }),
    ...(args.launch_template === undefined
      ? {}
      : {
          LaunchTemplate: {
            ...(args.launch_template.launch_template_id === undefined
              ? {}
              : { LaunchTemplateId: args.launch_template.launch_template_id }),
            ...(args.launch_template.launch_template_name === undefined
              ? {}
              : { LaunchTemplateName: args.launch_template.launch_template_name }),
            ...(args.launch_template.version === undefined ? {} : { Version: args.launch_template.version }),
          },
        }),
  };
  const tags = (args.tags ?? []).map((tag) => ({
    ResourceId: args.name,
    ResourceType: 'auto-scaling-group',
    Key: tag.key,
    Value: tag.value,
    PropagateAtLaunch: tag.propagate_at_launch,
  }));
  if (group === undefined) {
    const desired = args.desired_capacity ?? args.min_size;
    steps.push({
      key: 'group',
      old: null,
      new: {
        name: args.name,
        min_size: args.min_size,
        max_size: args.max_size,
        desired_capacity: desired,
        ...(args.tags === undefined ? {} : { tags: args.tags }),
        ...(args.lifecycle_hooks === undefined ? {} : { lifecycle_hooks: args.lifecycle_hooks.map((h) => h.name) }),
        ...(args.vpc_zone_identifier === undefined ? {} : { vpc_zone_identifier: args.vpc_zone_identifier }),
        ...(args.load_balancers === undefined ? {} : { load_balancers: args.load_balancers }),
      },
      apply: () =>
        asg.send(
          new CreateAutoScalingGroupCommand({
            AutoScalingGroupName: args.name,
            ...launchSource,
            MinSize: args.min_size,
            MaxSize: args.max_size,
            DesiredCapacity: desired,
            ...(tags.length === 0 ? {} : { Tags: tags }),
            ...(args.vpc_zone_identifier === undefined || args.vpc_zone_identifier.length === 0
              ? {}
              : { VPCZoneIdentifier: args.vpc_zone_identifier.join(',') }),
            ...(args.load_balancers === undefined || args.load_balancers.length === 0
              ? {}
              : { LoadBalancerNames: args.load_balancers }),
            ...(args.lifecycle_hooks === undefined || args.lifecycle_hooks.length === 0
              ? {}
              : { LifecycleHookSpecificationList: args.lifecycle_hooks.map(hookSpecification) }),
          }),
        ),
    });
    steps.push(...newPolicySteps(asg, args.name, args.scaling_policies ?? []));
    if (args.suspended_processes !== undefined && args.suspended_processes.length > 0) {
      const processes = [...new Set(args.suspended_processes)].sort();
      steps.push({
        key: 'suspended_processes',
        old: [],
        new: processes,
        apply: () =>
          asg.send(new SuspendProcessesCommand({ AutoScalingGroupName: args.name, ScalingProcesses: processes })),
      });
    }
    if (args.notification_arn !== undefined) steps.push(notificationStep(asg, args, [], undefined));
    return converge(steps, { what, test, secrets, creating: true });
  }

  const currentSource = {
    launch_config_name: group.LaunchConfigurationName ?? null,
    launch_template: group.LaunchTemplate?.LaunchTemplateName ?? group.LaunchTemplate?.LaunchTemplateId ?? null,
    version: group.LaunchTemplate?.Version ?? null,
  };
  const desiredSource = {
    launch_config_name: args.launch_config_name ?? null,
    launch_template: args.launch_template?.launch_template_name ?? args.launch_template?.launch_template_id ?? null,
    version: args.launch_template === undefined ? null : (args.launch_template.version ?? currentSource.version),
  };
  steps.push(
    ...stepIf('launch_source', currentSource, desiredSource, () =>
      asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: args.name, ...launchSource })),
    ),
  );
  const currentSizes = { min_size: group.MinSize, max_size: group.MaxSize, desired_capacity: group.DesiredCapacity };
  const desiredSizes = {
    min_size: args.min_size,
    max_size: args.max_size,
    desired_capacity: args.desired_capacity ?? currentSizes.desired_capacity,
  };
  steps.push(
    ...stepIf('sizes', currentSizes, desiredSizes, () =>
      asg.send(
        new UpdateAutoScalingGroupCommand({
          AutoScalingGroupName: args.name,
          MinSize: args.min_size,
          MaxSize: args.max_size,
          ...(args.desired_capacity === undefined ? {} : { DesiredCapacity: args.desired_capacity }),
        }),
      ),
    ),
  );
  if (args.vpc_zone_identifier !== undefined) {
    const subnets = args.vpc_zone_identifier;
    const now = (group.VPCZoneIdentifier ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .sort();
    steps.push(
      ...stepIf('vpc_zone_identifier', now, [...subnets].sort(), () =>
        asg.send(
          new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: args.name, VPCZoneIdentifier: subnets.join(',') }),
        ),
      ),
    );
  }
  if (args.load_balancers !== undefined) {
    const now = [...(group.LoadBalancerNames ?? [])].sort();
    const wanted = [...new Set(args.load_balancers)].sort();
    const attach = wanted.filter((name) => !now.includes(name));
    const detach = now.filter((name) => !wanted.includes(name));
    steps.push(
      ...stepIf('load_balancers', now, wanted, async () => {
        if (attach.length > 0)
          await asg.send(
            new AttachLoadBalancersCommand({ AutoScalingGroupName: args.name, LoadBalancerNames: attach }),
          );
        if (detach.length > 0)
          await asg.send(
            new DetachLoadBalancersCommand({ AutoScalingGroupName: args.name, LoadBalancerNames: detach }),
          );
      }),
    );
  }
  if (args.tags !== undefined) {
    const now = Object.fromEntries(
      (group.Tags ?? []).map((tag) => [
        tag.Key ?? '',
        { value: tag.Value ?? '', propagate_at_launch: tag.PropagateAtLaunch ?? false },
      ]),
    );
    const wanted = Object.fromEntries(
      args.tags.map((tag) => [tag.key, { value: tag.value, propagate_at_launch: tag.propagate_at_launch }]),
    );
    const set = tags.filter(
      (tag) => now[tag.Key]?.value !== tag.Value || now[tag.Key]?.propagate_at_launch !== tag.PropagateAtLaunch,
    );
    const gone = Object.keys(now).filter((key) => !(key in wanted));
    steps.push(
      ...stepIf('tags', now, wanted, async () => {
        if (set.length > 0) await asg.send(new CreateOrUpdateTagsCommand({ Tags: set }));
        if (gone.length > 0)
          await asg.send(
            new DeleteTagsCommand({
              Tags: gone.map((key) => ({ ResourceId: args.name, ResourceType: 'auto-scaling-group', Key: key })),
            }),
          );
      }),
    );
  }
  if (args.lifecycle_hooks !== undefined) {
    const listed =
      (await asg.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: args.name }))).LifecycleHooks ?? [];
    const now = Object.fromEntries(
      listed.map((hook) => [
        hook.LifecycleHookName ?? '',
        hookView({
          transition: hook.LifecycleTransition ?? '',
          heartbeat_timeout: hook.HeartbeatTimeout,
          default_result: hook.DefaultResult,
          notification_target_arn: hook.NotificationTargetARN,
          role_arn: hook.RoleARN,
          notification_metadata: hook.NotificationMetadata,
        }),
      ]),
    );
    const wanted = Object.fromEntries(args.lifecycle_hooks.map((hook) => [hook.name, hookView(hook)]));
    const put = args.lifecycle_hooks.filter(
      (hook) => JSON.stringify(now[hook.name]) !== JSON.stringify(wanted[hook.name]),
    );
    const gone = Object.keys(now).filter((name) => !(name in wanted));
    steps.push(
      ...stepIf('lifecycle_hooks', now, wanted, async () => {
        // Deleted first: AWS (and the local simulator) may hold one hook per transition.
        for (const name of gone)
          await asg.send(new DeleteLifecycleHookCommand({ AutoScalingGroupName: args.name, LifecycleHookName: name }));
        for (const hook of put)
          await asg.send(new PutLifecycleHookCommand({ AutoScalingGroupName: args.name, ...hookSpecification(hook) }));
      }),
    );
  }
  if (args.scaling_policies !== undefined) steps.push(...(await policySteps(asg, args.name, args.scaling_policies)));
  if (args.suspended_processes !== undefined) {
    const now = (group.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? '').sort();
    const wanted = [...new Set(args.suspended_processes)].sort();
    const suspend = wanted.filter((p) => !now.includes(p));
    const resume = now.filter((p) => !wanted.includes(p));
    steps.push(
      ...stepIf('suspended_processes', now, wanted, async () => {
        if (suspend.length > 0)
          await asg.send(new SuspendProcessesCommand({ AutoScalingGroupName: args.name, ScalingProcesses: suspend }));
        if (resume.length > 0)
          await asg.send(new ResumeProcessesCommand({ AutoScalingGroupName: args.name, ScalingProcesses: resume }));
      }),
    );
  }
  if (args.notification_arn !== undefined) {
    const configured =
      (await asg.send(new DescribeNotificationConfigurationsCommand({ AutoScalingGroupNames: [args.name] })))
        .NotificationConfigurations ?? [];
    const current = configured
      .filter((c) => c.TopicARN === args.notification_arn)
      .map((c) => c.NotificationType ?? '')
      .sort();
    const topics = [...new Set(configured.map((c) => c.TopicARN))];
    if (JSON.stringify(current) !== JSON.stringify([...args.notification_types].sort()))
      steps.push(notificationStep(asg, args, current, topics[0]));
  }
  return converge(steps, { what, test, secrets });
}

function notificationStep(
  asg: AutoScalingClient,
  args: PresentArgs,
  current: string[],
  topic: string | undefined,
): Step {
  return {
    key: 'notification',
    old: current.length === 0 ? null : { arn: topic, types: current },
    new: { arn: args.notification_arn, types: [...args.notification_types].sort() },
    apply: () =>
      asg.send(
        new PutNotificationConfigurationCommand({
          AutoScalingGroupName: args.name,
          TopicARN: args.notification_arn,
          NotificationTypes: args.notification_types,
        }),
      ),
  };
}

function hookView(hook: {
  transition: string;
  heartbeat_timeout?: number | undefined;
  default_result?: string | undefined;
  notification_target_arn?: string | undefined;
  role_arn?: string | undefined;
  notification_metadata?: string | undefined;
}): Record<string, unknown> {
  return {
    transition: hook.transition,
    heartbeat_timeout: hook.heartbeat_timeout ?? 3600,
    default_result: hook.default_result ?? 'ABANDON',
    ...(hook.notification_target_arn === undefined ? {} : { notification_target_arn: hook.notification_target_arn }),
    ...(hook.role_arn === undefined ? {} : { role_arn: hook.role_arn }),
    ...(hook.notification_metadata === undefined ? {} : { notification_metadata: hook.notification_metadata }),
  };
}

function hookSpecification(hook: HookArgs): LifecycleHookSpecification {
  return {
    LifecycleHookName: hook.name,
    LifecycleTransition: hook.transition,
    HeartbeatTimeout: hook.heartbeat_timeout,
    DefaultResult: hook.default_result,
    ...(hook.notification_target_arn === undefined ? {} : { NotificationTargetARN: hook.notification_target_arn }),
    ...(hook.role_arn === undefined ? {} : { RoleARN: hook.role_arn }),
    ...(hook.notification_metadata === undefined ? {} : { NotificationMetadata: hook.notification_metadata }),
  };
}

async function describeGroup(asg: AutoScalingClient, name: string): Promise<AutoScalingGroup | undefined> {
  const groups = (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] })))
    .AutoScalingGroups;
  // A group being deleted (forced) is on its way out: present must wait for it, absent has nothing to do.
  const group = groups?.find((candidate) => candidate.AutoScalingGroupName === name);
  if (group?.Status === 'Delete in progress') {
    throw new AwsStateFailure(`Auto scaling group ${name} is being deleted; run the state again once it is gone`);
  }
  return group;
}

function launchConfigInput(name: string, config: LaunchConfigArgs) {
  return {
    LaunchConfigurationName: name,
    ImageId: config.image_id,
    InstanceType: config.instance_type,
    ...(config.key_name === undefined ? {} : { KeyName: config.key_name }),
    ...(config.security_groups.length === 0 ? {} : { SecurityGroups: config.security_groups }),
    ...(config.user_data === undefined ? {} : { UserData: Buffer.from(config.user_data).toString('base64') }),
    ...(config.instance_profile_name === undefined ? {} : { IamInstanceProfile: config.instance_profile_name }),
  };
}

function launchConfigDiff(existing: LaunchConfiguration, desired: LaunchConfigArgs): string[] {
  const differs: string[] = [];
  if (existing.ImageId !== desired.image_id) differs.push('image_id');
  if (existing.InstanceType !== desired.instance_type) differs.push('instance_type');
  if ((existing.KeyName ?? undefined) !== desired.key_name) differs.push('key_name');
  if (
    JSON.stringify([...(existing.SecurityGroups ?? [])].sort()) !== JSON.stringify([...desired.security_groups].sort())
  )
    differs.push('security_groups');
  return differs;
}
