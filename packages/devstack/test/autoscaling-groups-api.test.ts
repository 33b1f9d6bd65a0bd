import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  CreateLaunchConfigurationCommand,
  CreateOrUpdateTagsCommand,
  DeleteAutoScalingGroupCommand,
  DeleteLaunchConfigurationCommand,
  DeleteLifecycleHookCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeLaunchConfigurationsCommand,
  DescribeLifecycleHooksCommand,
  DescribePoliciesCommand,
  PutScalingPolicyCommand,
  PutLifecycleHookCommand,
  ResumeProcessesCommand,
  SuspendProcessesCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { awsClientConfig } from '@phoenix/protocol';
import { useDevstack } from '../src/testing.js';

/*
 * The group-management half of the Auto Scaling API, as the boto_asg states call it: launch
 * configurations, groups with tags and lifecycle hooks, updates and deletes, answered over the
 * real Query protocol to the AWS SDK's own client, with AWS's error codes.
 */

const devstack = useDevstack();

const group = async (asg: AutoScalingClient, name: string) =>
  (await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups?.[0];

test('groups are created from a launch configuration with tags and hooks, updated, re-tagged and deleted', async () => {
  const asg = new AutoScalingClient(awsClientConfig(devstack().aws, 'autoscaling'));
  try {
    await asg.send(
      new CreateLaunchConfigurationCommand({
        LaunchConfigurationName: 'web-lc-1',
        ImageId: 'ami-0123456789abcdef0',
        InstanceType: 't3.small',
        SecurityGroups: ['sg-1'],
      }),
    );
    const configs = (
      await asg.send(new DescribeLaunchConfigurationsCommand({ LaunchConfigurationNames: ['web-lc-1'] }))
    ).LaunchConfigurations;
    assert.equal(configs?.[0]?.InstanceType, 't3.small');
    await assert.rejects(
      asg.send(
        new CreateLaunchConfigurationCommand({
          LaunchConfigurationName: 'web-lc-1',
          ImageId: 'ami-1',
          InstanceType: 't3.small',
        }),
      ),
      { name: 'AlreadyExistsFault' },
    );

    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'web-api',
        LaunchConfigurationName: 'web-lc-1',
        MinSize: 0,
        MaxSize: 3,
        DesiredCapacity: 1,
        Tags: [{ Key: 'team', Value: 'web', PropagateAtLaunch: true }],
        LifecycleHookSpecificationList: [
          {
            LifecycleHookName: 'web-launching',
            LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
            HeartbeatTimeout: 300,
            DefaultResult: 'CONTINUE',
          },
        ],
      }),
    );
    const made = await group(asg, 'web-api');
    assert.equal(made?.LaunchConfigurationName, 'web-lc-1');
    assert.deepEqual(
      made?.Tags?.map((t) => [t.Key, t.Value, t.PropagateAtLaunch]),
      [['team', 'web', true]],
    );
    await devstack().simulator.waitFor(
      (s) =>
        s.groups.find((g) => g.name === 'web-api')?.instances.some((i) => i.lifecycleState === 'Pending:Wait') ?? false,
      { what: 'the new group launches its instance and its hook holds it', timeoutMs: 10_000 },
    );
    const hooks = (await asg.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'web-api' })))
      .LifecycleHooks;
    assert.deepEqual(
      hooks?.map((h) => [h.LifecycleHookName, h.HeartbeatTimeout, h.DefaultResult]),
      [['web-launching', 300, 'CONTINUE']],
    );

    await assert.rejects(
      asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-api', DesiredCapacity: 9 })),
      (err: Error) => err.name === 'ValidationError' && /must be between/.test(err.message),
    );
    await asg.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'web-api', MaxSize: 5, DesiredCapacity: 2 }),
    );
    assert.deepEqual([(await group(asg, 'web-api'))?.MaxSize, (await group(asg, 'web-api'))?.DesiredCapacity], [5, 2]);

    await asg.send(
      new CreateOrUpdateTagsCommand({
        Tags: [
          {
            ResourceId: 'web-api',
            ResourceType: 'auto-scaling-group',
            Key: 'env',
            Value: 'prod',
            PropagateAtLaunch: false,
          },
        ],
      }),
    );
    await asg.send(
      new DeleteTagsCommand({ Tags: [{ ResourceId: 'web-api', ResourceType: 'auto-scaling-group', Key: 'team' }] }),
    );
    assert.deepEqual(
      (await group(asg, 'web-api'))?.Tags?.map((t) => [t.Key, t.Value, t.PropagateAtLaunch]),
      [['env', 'prod', false]],
    );

    await asg.send(
      new PutLifecycleHookCommand({
        AutoScalingGroupName: 'web-api',
        LifecycleHookName: 'web-launching',
        LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        HeartbeatTimeout: 600,
      }),
    );
    await assert.rejects(
      asg.send(
        new PutLifecycleHookCommand({
          AutoScalingGroupName: 'web-api',
          LifecycleHookName: 'bad',
          LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
          HeartbeatTimeout: 5,
        }),
      ),
      { name: 'ValidationError' },
    );
    const replaced = (await asg.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: 'web-api' })))
      .LifecycleHooks;
    assert.deepEqual(
      replaced?.map((h) => [h.LifecycleHookName, h.HeartbeatTimeout, h.DefaultResult]),
      [['web-launching', 600, 'ABANDON']],
      "a hook is replaced by name, with AWS's defaults",
    );
    await asg.send(
      new DeleteLifecycleHookCommand({ AutoScalingGroupName: 'web-api', LifecycleHookName: 'web-launching' }),
    );

    await assert.rejects(asg.send(new DeleteLaunchConfigurationCommand({ LaunchConfigurationName: 'web-lc-1' })), {
      name: 'ResourceInUseFault',
    });
    await assert.rejects(asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'web-api' })), {
      name: 'ResourceInUseFault',
    });
    await asg.send(new DeleteAutoScalingGroupCommand({ AutoScalingGroupName: 'web-api', ForceDelete: true }));
    await devstack().simulator.waitFor((s) => !s.groups.some((g) => g.name === 'web-api'), {
      what: 'the forced delete removes the group once its instances are gone',
      timeoutMs: 10_000,
    });
    assert.equal(await group(asg, 'web-api'), undefined);
    await asg.send(new DeleteLaunchConfigurationCommand({ LaunchConfigurationName: 'web-lc-1' }));
  } finally {
    asg.destroy();
  }
});

test('suspended Launch holds a raised capacity until the process is resumed', async () => {
  const asg = new AutoScalingClient(awsClientConfig(devstack().aws, 'autoscaling'));
  try {
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'held-api',
        LaunchTemplate: { LaunchTemplateName: 'held', Version: '1' },
        MinSize: 0,
        MaxSize: 2,
        DesiredCapacity: 0,
      }),
    );
    await asg.send(new SuspendProcessesCommand({ AutoScalingGroupName: 'held-api', ScalingProcesses: ['Launch'] }));
    await asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'held-api', DesiredCapacity: 1 }));
    const held = await group(asg, 'held-api');
    assert.deepEqual(
      held?.SuspendedProcesses?.map((p) => p.ProcessName),
      ['Launch'],
    );
    assert.deepEqual(held?.Instances, [], 'nothing launches while Launch is suspended');
    await assert.rejects(
      asg.send(new SuspendProcessesCommand({ AutoScalingGroupName: 'held-api', ScalingProcesses: ['Lunch'] })),
      { name: 'ValidationError' },
    );
    await asg.send(new ResumeProcessesCommand({ AutoScalingGroupName: 'held-api' }));
    await devstack().simulator.waitFor(
      (s) => (s.groups.find((g) => g.name === 'held-api')?.instances.length ?? 0) === 1,
      { what: 'the held capacity launches once resumed', timeoutMs: 10_000 },
    );
  } finally {
    asg.destroy();
  }
});

test('policies of the three kinds are kept with their fields, and a field of another kind is refused', async () => {
  const asg = new AutoScalingClient(awsClientConfig(devstack().aws, 'autoscaling'));
  try {
    await asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'policy-api',
        LaunchTemplate: { LaunchTemplateName: 'policy' },
        MinSize: 0,
        MaxSize: 2,
        VPCZoneIdentifier: 'subnet-0a1b2c3d,subnet-0a1b2c3e',
        LoadBalancerNames: ['policy-elb'],
      }),
    );
    const made = await group(asg, 'policy-api');
    assert.equal(made?.VPCZoneIdentifier, 'subnet-0a1b2c3d,subnet-0a1b2c3e');
    assert.deepEqual(made?.LoadBalancerNames, ['policy-elb']);
    await asg.send(
      new PutScalingPolicyCommand({
        AutoScalingGroupName: 'policy-api',
        PolicyName: 'steps',
        PolicyType: 'StepScaling',
        AdjustmentType: 'PercentChangeInCapacity',
        MinAdjustmentMagnitude: 1,
        StepAdjustments: [
          { MetricIntervalUpperBound: 0, ScalingAdjustment: -10 },
          { MetricIntervalLowerBound: 0, ScalingAdjustment: 20.0 },
        ],
      }),
    );
    await asg.send(
      new PutScalingPolicyCommand({
        AutoScalingGroupName: 'policy-api',
        PolicyName: 'queue-depth',
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingConfiguration: {
          CustomizedMetricSpecification: {
            MetricName: 'Backlog',
            Namespace: 'Orders',
            Statistic: 'Average',
            Dimensions: [{ Name: 'Queue', Value: 'jobs' }],
          },
          TargetValue: 12.5,
          DisableScaleIn: true,
        },
      }),
    );
    const policies = (await asg.send(new DescribePoliciesCommand({ AutoScalingGroupName: 'policy-api' })))
      .ScalingPolicies;
    assert.deepEqual(
      policies?.map((p) => [p.PolicyName, p.PolicyType, p.MetricAggregationType, p.StepAdjustments?.length]),
      [
        ['steps', 'StepScaling', 'Average', 2],
        ['queue-depth', 'TargetTrackingScaling', undefined, undefined],
      ],
    );
    assert.deepEqual(policies?.[0]?.StepAdjustments?.[0], { MetricIntervalUpperBound: 0, ScalingAdjustment: -10 });
    assert.deepEqual(policies?.[1]?.TargetTrackingConfiguration, {
      CustomizedMetricSpecification: {
        MetricName: 'Backlog',
        Namespace: 'Orders',
        Statistic: 'Average',
        Dimensions: [{ Name: 'Queue', Value: 'jobs' }],
      },
      TargetValue: 12.5,
      DisableScaleIn: true,
    });
    await assert.rejects(
      asg.send(
        new PutScalingPolicyCommand({
          AutoScalingGroupName: 'policy-api',
          PolicyName: 'steps',
          PolicyType: 'StepScaling',
          AdjustmentType: 'ChangeInCapacity',
          Cooldown: 60,
          StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
        }),
      ),
      { name: 'ValidationError', message: /Cooldown is not supported for policy type StepScaling/ },
    );
    await assert.rejects(
      asg.send(
        new PutScalingPolicyCommand({
          AutoScalingGroupName: 'policy-api',
          PolicyName: 'steps',
          PolicyType: 'StepScaling',
          AdjustmentType: 'ChangeInCapacity',
          StepAdjustments: [{ ScalingAdjustment: 1 }, { ScalingAdjustment: 2 }],
        }),
      ),
      { name: 'ValidationError', message: /Only one step adjustment may have an open upper bound/ },
    );
    assert.equal(
      devstack()
        .simulator.describe()
        .groups.find((g) => g.name === 'policy-api')
        ?.scalingPolicies.find((p) => p.name === 'steps')?.adjustmentType,
      'PercentChangeInCapacity',
      'a refused put changes nothing',
    );
  } finally {
    asg.destroy();
  }
});
