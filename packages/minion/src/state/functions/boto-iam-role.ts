import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  NoSuchEntityException,
  PutRolePolicyCommand,
  RemoveRoleFromInstanceProfileCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import type { InstanceProfile, Role } from '@aws-sdk/client-iam';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { connectionArgs } from './aws-profile.js';
import type { AwsStateEnvironment } from './aws-profile.js';
import { AwsStateFailure, awsErrorCode, converge, remove, runAwsState, stepIf } from './aws-state.js';
import type { Step } from './aws-state.js';
import { defineState } from './types.js';
import type { StateModule } from './types.js';

/** A policy document: a mapping, or its JSON text. */
const Document = z.union([z.record(z.string(), z.unknown()), z.string().min(2)]);

const Present = z.strictObject({
  name: z.string().min(1).max(64),
  policy_document: Document.optional(),
  path: z.string().min(1).max(512).default('/'),
  policies: z.record(z.string().min(1).max(128), Document).optional(),
  managed_policies: z.array(z.string().startsWith('arn:')).max(20).optional(),
  create_instance_profile: z.boolean().default(true),
  delete_policies: z.boolean().default(true),
  ...connectionArgs,
});
const Absent = z.strictObject({ name: z.string().min(1).max(64), ...connectionArgs });

/** Salt's default trust policy: EC2 instances may assume the role. */
const EC2_TRUST = {
  Version: '2008-10-17',
  Statement: [{ Sid: '', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

function parseDocument(value: z.output<typeof Document>, what: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new AwsStateFailure(`${what} is not a JSON document`);
  }
}

/** IAM answers documents URL-encoded. */
function awsDocument(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(decodeURIComponent(text));
  } catch {
    return text;
  }
}

const missing = (err: unknown) => err instanceof NoSuchEntityException || awsErrorCode(err) === 'NoSuchEntity';

async function orUndefined<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (missing(err)) return undefined;
    throw err;
  }
}

/**
 * Salt's boto_iam_role.present/absent: the role and its trust policy (`policy_document`, EC2 by
 * default), inline `policies` (name → document; others deleted unless `delete_policies: False`),
 * `managed_policies` (ARNs, attached and detached to match), and an instance profile of the same
 * name holding the role. Documents compare as JSON. AWS calls: GetRole, ListRolePolicies,
 * GetRolePolicy, ListAttachedRolePolicies, GetInstanceProfile (describe); CreateRole,
 * UpdateAssumeRolePolicy, PutRolePolicy, DeleteRolePolicy, AttachRolePolicy, DetachRolePolicy,
 * CreateInstanceProfile, AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile,
 * DeleteInstanceProfile, DeleteRole. Tested against the devstack's resource emulator
 * (docs/aws-states.md says what it covers).
 */
export function botoIamRoleStates(env: AwsStateEnvironment): StateModule {
  return Object.freeze({
    name: 'boto_iam_role',
    functions: Object.freeze({
      present: defineState({
        schema: Present,
        run: (args, call) =>
          runAwsState('iam', args, call, env, async (aws) => {
            const iam = new IAMClient(aws.clientConfig);
            env.onClient?.(iam);
            try {
              const what = `IAM role ${args.name}`;
              const trust =
                args.policy_document === undefined ? EC2_TRUST : parseDocument(args.policy_document, 'policy_document');
              const role = (await orUndefined(iam.send(new GetRoleCommand({ RoleName: args.name }))))?.Role;
              const steps: Step[] = [];
              if (role === undefined) {
                steps.push({
                  key: 'role',
                  old: null,
                  new: { name: args.name, path: args.path, policy_document: trust },
                  apply: () =>
                    iam.send(
                      new CreateRoleCommand({
                        RoleName: args.name,
                        Path: args.path,
                        AssumeRolePolicyDocument: JSON.stringify(trust),
                      }),
                    ),
                });
              } else {
                steps.push(
                  ...stepIf('policy_document', awsDocument(role.AssumeRolePolicyDocument), trust, () =>
                    iam.send(
                      new UpdateAssumeRolePolicyCommand({ RoleName: args.name, PolicyDocument: JSON.stringify(trust) }),
                    ),
                  ),
                );
              }
              if (args.create_instance_profile) steps.push(...(await profileSteps(iam, args.name, role)));
              if (args.policies !== undefined)
                steps.push(...(await inlineSteps(iam, args.name, role, args.policies, args.delete_policies)));
              if (args.managed_policies !== undefined)
                steps.push(...(await managedSteps(iam, args.name, role, args.managed_policies)));
              return converge(steps, {
                what,
                test: aws.test,
                secrets: aws.connection.secrets,
                creating: role === undefined,
              });
            } finally {
              iam.destroy();
            }
          }),
      }),
      absent: defineState({
        schema: Absent,
        run: (args, call) =>
          runAwsState('iam', args, call, env, async (aws) => {
            const iam = new IAMClient(aws.clientConfig);
            env.onClient?.(iam);
            try {
              const role = (await orUndefined(iam.send(new GetRoleCommand({ RoleName: args.name }))))?.Role;
              return remove(role !== undefined, {
                what: `IAM role ${args.name}`,
                test: aws.test,
                secrets: aws.connection.secrets,
                key: 'role',
                name: args.name,
                // IAM deletes a role only once nothing refers to it.
                apply: async () => {
                  const inline =
                    (await iam.send(new ListRolePoliciesCommand({ RoleName: args.name }))).PolicyNames ?? [];
                  for (const policy of inline)
                    await iam.send(new DeleteRolePolicyCommand({ RoleName: args.name, PolicyName: policy }));
                  const attached =
                    (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: args.name }))).AttachedPolicies ??
                    [];
                  for (const policy of attached)
                    await iam.send(new DetachRolePolicyCommand({ RoleName: args.name, PolicyArn: policy.PolicyArn }));
                  const profile = await instanceProfile(iam, args.name);
                  if (profile !== undefined) {
                    if ((profile.Roles ?? []).some((r) => r.RoleName === args.name))
                      await iam.send(
                        new RemoveRoleFromInstanceProfileCommand({
                          InstanceProfileName: args.name,
                          RoleName: args.name,
                        }),
                      );
                    await iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: args.name }));
                  }
                  await iam.send(new DeleteRoleCommand({ RoleName: args.name }));
                },
              });
            } finally {
              iam.destroy();
            }
          }),
      }),
    }),
  });
}

async function instanceProfile(iam: IAMClient, name: string): Promise<InstanceProfile | undefined> {
  return (await orUndefined(iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }))))?.InstanceProfile;
}

async function profileSteps(iam: IAMClient, name: string, role: Role | undefined): Promise<Step[]> {
  const profile = role === undefined ? undefined : await instanceProfile(iam, name);
  const holds = (profile?.Roles ?? []).some((r) => r.RoleName === name);
  if (profile !== undefined && holds) return [];
  return [
    {
      key: 'instance_profile',
      old: profile === undefined ? null : { name, roles: (profile.Roles ?? []).map((r) => r.RoleName) },
      new: { name, roles: [name] },
      apply: async () => {
        if (profile === undefined) await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: name }));
        await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: name }));
      },
    },
  ];
}

async function inlineSteps(
  iam: IAMClient,
  name: string,
  role: Role | undefined,
  policies: Readonly<Record<string, z.output<typeof Document>>>,
  prune: boolean,
): Promise<Step[]> {
  const current: Record<string, unknown> = {};
  if (role !== undefined) {
    for (const policy of (await iam.send(new ListRolePoliciesCommand({ RoleName: name }))).PolicyNames ?? []) {
      const got = await iam.send(new GetRolePolicyCommand({ RoleName: name, PolicyName: policy }));
      current[policy] = awsDocument(got.PolicyDocument);
    }
  }
  const wanted = Object.fromEntries(
    Object.entries(policies).map(([policy, doc]) => [policy, parseDocument(doc, `policy ${policy}`)]),
  );
  const put = Object.keys(wanted).filter((policy) => !isDeepStrictEqual(current[policy], wanted[policy]));
  const gone = prune ? Object.keys(current).filter((policy) => !(policy in wanted)) : [];
  if (put.length === 0 && gone.length === 0) return [];
  return [
    {
      key: 'policies',
      old: Object.fromEntries([...put, ...gone].filter((p) => p in current).map((p) => [p, current[p]])),
      new: Object.fromEntries([...put.map((p) => [p, wanted[p]]), ...gone.map((p) => [p, null])]),
      apply: async () => {
        for (const policy of put)
          await iam.send(
            new PutRolePolicyCommand({
              RoleName: name,
              PolicyName: policy,
              PolicyDocument: JSON.stringify(wanted[policy]),
            }),
          );
        for (const policy of gone) await iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policy }));
      },
    },
  ];
}

async function managedSteps(
  iam: IAMClient,
  name: string,
  role: Role | undefined,
  arns: readonly string[],
): Promise<Step[]> {
  const current =
    role === undefined
      ? []
      : ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }))).AttachedPolicies ?? []).map(
          (p) => p.PolicyArn ?? '',
        );
  const attach = arns.filter((arn) => !current.includes(arn));
  const detach = current.filter((arn) => !arns.includes(arn));
  if (attach.length === 0 && detach.length === 0) return [];
  return [
    {
      key: 'managed_policies',
      old: [...current].sort(),
      new: [...arns].sort(),
      apply: async () => {
        for (const arn of attach) await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: arn }));
        for (const arn of detach) await iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: arn }));
      },
    },
  ];
}
